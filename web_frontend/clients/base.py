"""What every backend call shares: who it is made for, how it is sent, how it fails."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from http.cookies import CookieError, SimpleCookie
from typing import Any, Sequence

import requests
from urllib3.exceptions import NewConnectionError

from shared.request_auth import ACCESS_COOKIE, REFRESH_COOKIE

log = logging.getLogger(__name__)


class ServiceError(Exception):
    """A backend call did not give us what we asked for."""

    def __init__(self, service: str, message: str, *, status: int = 503, code: str = "unavailable",
                 fields: dict[str, str] | None = None) -> None:
        super().__init__(f"{service}: {message}")
        self.service = service
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}


class ServiceUnavailable(ServiceError):
    """The service could not be reached, timed out, or failed (5xx)."""


class Unauthenticated(ServiceError):
    """The service does not accept the caller's tokens (401)."""


class RequestRejected(ServiceError):
    """The service refused the request with a 4xx other than 401; carries its error envelope."""


@dataclass(frozen=True)
class Caller:
    """The browser a backend call is made for: its tokens and where it came from.

    `origin` is the browser's Origin (or this site's own origin for page loads):
    it is sent along, with the forwarded host and scheme, so the services' CSRF
    rule sees the same origin the browser used.
    """

    access_token: str | None
    refresh_token: str | None
    origin: str
    forwarded_host: str
    forwarded_proto: str
    forwarded_for: str | None = None
    request_id: str | None = None

    def with_tokens(self, grant: "CookieGrant") -> "Caller":
        return replace(
            self,
            access_token=grant.access_token or self.access_token,
            refresh_token=grant.refresh_token or self.refresh_token,
        )

    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"} if self.access_token else {}

    def context_headers(self) -> dict[str, str]:
        headers = {
            "Origin": self.origin,
            "X-Forwarded-Host": self.forwarded_host,
            "X-Forwarded-Proto": self.forwarded_proto,
        }
        if self.forwarded_for:
            headers["X-Forwarded-For"] = self.forwarded_for
        if self.request_id:
            headers["X-Request-ID"] = self.request_id
        return headers


@dataclass(frozen=True)
class CookieGrant:
    """Cookies a service set: the raw Set-Cookie headers to forward, and the tokens in them."""

    set_cookie_headers: list[str] = field(default_factory=list)
    access_token: str | None = None
    refresh_token: str | None = None

    @classmethod
    def from_response(cls, response: requests.Response) -> "CookieGrant":
        headers = list(response.raw.headers.getlist("Set-Cookie")) if response.raw is not None else []
        tokens: dict[str, str] = {}
        for header in headers:
            try:
                parsed = SimpleCookie(header)
            except CookieError:
                continue
            for name, morsel in parsed.items():
                tokens[name] = morsel.value
        return cls(headers, tokens.get(ACCESS_COOKIE) or None, tokens.get(REFRESH_COOKIE) or None)


def _cookie_blocking_session() -> requests.Session:
    # One pooled session is shared by every user's calls, so it must never keep
    # cookies: tokens travel only in the headers we set per call.
    from http.cookiejar import DefaultCookiePolicy

    session = requests.Session()
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    session.trust_env = False
    return session


class ServiceClient:
    service = "service"

    def __init__(self, base_urls: Sequence[str], timeout: float, session: requests.Session | None = None) -> None:
        self.base_urls = [url.rstrip("/") for url in base_urls]
        self.timeout = timeout
        self.session = session or _cookie_blocking_session()

    def call(self, method: str, path: str, caller: Caller | None, *, json: Any = None,
             params: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> requests.Response:
        """Send one request; answer the 2xx response or raise a `ServiceError`."""
        all_headers = {"Accept": "application/json"}
        if caller is not None:
            all_headers.update(caller.context_headers())
        all_headers.update(headers or {})
        try:
            response = self._send(method, path, json=json, params=params, headers=all_headers, allow_redirects=False)
        except requests.RequestException as exc:
            log.warning("backend call failed", extra={"backend": self.service, "path": path, "error": str(exc)})
            raise ServiceUnavailable(self.service, f"{self.service} could not be reached") from None
        if response.status_code < 300:
            return response
        code, message, fields = _error_envelope(response)
        if response.status_code == 401:
            raise Unauthenticated(self.service, message or "Please log in.", status=401, code=code or "unauthorized")
        if 400 <= response.status_code < 500:
            raise RequestRejected(self.service, message or "The request was refused.", status=response.status_code,
                                  code=code or "bad_request", fields=fields)
        log.warning("backend error", extra={"backend": self.service, "path": path, "status": response.status_code})
        raise ServiceUnavailable(self.service, f"{self.service} is not available right now")

    def healthy(self) -> bool:
        """Whether the service's /healthz answers 200; raises requests.RequestException when unreachable."""
        return self._send("GET", "/healthz", timeout=min(self.timeout, 2.0)).status_code == 200

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """The request to the first of `base_urls` that answers. A GET moves on after any connection
        error (a kept-alive connection to a killed instance fails on use); other methods only after a
        refused or timed-out connect, which the server never saw, so they are never sent twice."""
        kwargs.setdefault("timeout", self.timeout)
        for base_url in self.base_urls[:-1]:
            try:
                return self.session.request(method, f"{base_url}{path}", **kwargs)
            except requests.ConnectionError as exc:
                reason = getattr(exc.args[0], "reason", None) if exc.args else None
                never_sent = isinstance(exc, requests.ConnectTimeout) or isinstance(reason, NewConnectionError)
                if method != "GET" and not never_sent:
                    raise
                log.warning("backend instance unreachable, trying the next",
                            extra={"backend": self.service, "url": base_url, "error": str(exc)})
        return self.session.request(method, f"{self.base_urls[-1]}{path}", **kwargs)

    def json(self, response: requests.Response) -> dict[str, Any]:
        if response.status_code == 204 or not response.content:
            return {}
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise ServiceUnavailable(self.service, f"{self.service} answered with something that is not a JSON object")
        return data


def _error_envelope(response: requests.Response) -> tuple[str | None, str | None, dict[str, str]]:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None, None, {}
    if not isinstance(error, dict):
        return None, None, {}
    fields = error.get("fields")
    fields = {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) else {}
    code, message = error.get("code"), error.get("message")
    return (code if isinstance(code, str) else None, message if isinstance(message, str) else None, fields)
