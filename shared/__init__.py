"""Code common to every chat service.

Nothing service-specific lives here: the JWT library (`shared.jwt`), the JSON
error envelope (`shared.errors`), request authentication and CSRF checks
(`shared.request_auth`), configuration (`shared.config`), logging
(`shared.logging`) and test helpers for real servers (`shared.testing`).
"""
