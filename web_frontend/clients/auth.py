"""auth_service over HTTP: accounts, logins, token refresh, user search."""

from __future__ import annotations

from typing import Any

from shared.request_auth import ACCESS_COOKIE, REFRESH_COOKIE

from .base import Caller, CookieGrant, ServiceClient


def _cookie_header(caller: Caller, *names: str) -> dict[str, str]:
    values = {ACCESS_COOKIE: caller.access_token, REFRESH_COOKIE: caller.refresh_token}
    pairs = [f"{name}={values[name]}" for name in names if values[name]]
    return {"Cookie": "; ".join(pairs)} if pairs else {}


class AuthClient(ServiceClient):
    service = "auth"

    def register(self, caller: Caller, username: str, email: str, password: str) -> dict[str, Any]:
        response = self.call("POST", "/auth/register", caller,
                             json={"username": username, "email": email, "password": password})
        return self.json(response)["user"]

    def login(self, caller: Caller, username: str, password: str) -> tuple[dict[str, Any], CookieGrant]:
        response = self.call("POST", "/auth/login", caller, json={"username": username, "password": password})
        return self.json(response)["user"], CookieGrant.from_response(response)

    def refresh(self, caller: Caller) -> CookieGrant:
        """Trade the refresh cookie for a new pair, as the browser would (cookies in, cookies out)."""
        response = self.call("POST", "/auth/refresh", caller, headers=_cookie_header(caller, REFRESH_COOKIE))
        return CookieGrant.from_response(response)

    def logout(self, caller: Caller) -> CookieGrant:
        response = self.call("POST", "/auth/logout", caller,
                             headers=_cookie_header(caller, ACCESS_COOKIE, REFRESH_COOKIE))
        return CookieGrant.from_response(response)

    def logout_all(self, caller: Caller) -> CookieGrant:
        """End every session of the caller's account, on every device."""
        response = self.call("POST", "/auth/logout-all", caller,
                             headers=_cookie_header(caller, ACCESS_COOKIE, REFRESH_COOKIE))
        return CookieGrant.from_response(response)

    def change_password(self, caller: Caller, current_password: str, new_password: str) -> None:
        """Ends the account's other sessions; the caller's stays."""
        self.call("POST", "/auth/me/password", caller, headers=caller.bearer(),
                  json={"current_password": current_password, "new_password": new_password})

    def change_email(self, caller: Caller, email: str, password: str) -> dict[str, Any]:
        response = self.call("POST", "/auth/me/email", caller, headers=caller.bearer(),
                             json={"email": email, "password": password})
        return self.json(response)["user"]

    def delete_account(self, caller: Caller, password: str) -> None:
        """Ends every session of the account; the username stays reserved."""
        self.call("DELETE", "/auth/me", caller, headers=caller.bearer(), json={"password": password})

    def me(self, caller: Caller) -> dict[str, Any]:
        return self.json(self.call("GET", "/auth/me", caller, headers=caller.bearer()))["user"]

    def search_users(self, caller: Caller, query: str, limit: int = 20) -> list[dict[str, Any]]:
        response = self.call("GET", "/auth/users", caller, params={"q": query, "limit": limit}, headers=caller.bearer())
        return self.json(response)["users"]
