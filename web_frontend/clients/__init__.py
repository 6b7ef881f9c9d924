"""HTTP clients for the services web_frontend renders pages from.

One module per backend service (`auth`, `chat`); both raise the small exception
hierarchy of `clients.base`, which `web_frontend.errors` turns into pages.
"""

from .base import Caller, CookieGrant, RequestRejected, ServiceError, ServiceUnavailable, Unauthenticated

__all__ = ["Caller", "CookieGrant", "RequestRejected", "ServiceError", "ServiceUnavailable", "Unauthenticated"]
