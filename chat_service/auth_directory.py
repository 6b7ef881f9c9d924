"""auth_service's public user lookup (`GET /auth/users/<username>`), over HTTP.

chat never reads auth's tables; for a username it has not seen yet it asks auth,
with the caller's own access token and a short timeout. A slow, failing or
unreachable auth answers 503 `unavailable`, never a 500 or a hang.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote

import requests

from shared.errors import Unavailable
from shared.timestamps import parse_timestamp

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DirectoryUser:
    id: int
    username: str
    created_at: datetime | None


class AuthDirectory:
    def __init__(self, base_url: str, timeout: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()

    def find(self, username: str, access_token: str) -> DirectoryUser | None:
        """The user called `username`, or None when auth says there is none."""
        url = f"{self.base_url}/auth/users/{quote(username, safe='')}"
        try:
            response = self.http.get(url, headers={"Authorization": f"Bearer {access_token}"},
                                     timeout=(self.timeout, self.timeout), allow_redirects=False)
        except requests.RequestException as exc:
            log.warning("auth lookup failed", extra={"error": str(exc)})
            raise Unavailable("The user directory is unavailable; try again shortly.") from None
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            log.warning("auth lookup answered %s", response.status_code)
            raise Unavailable("The user directory is unavailable; try again shortly.")
        try:
            user = response.json()["user"]
            found = DirectoryUser(id=int(user["id"]), username=str(user["username"]),
                                  created_at=parse_timestamp(user.get("created_at")))
        except (ValueError, KeyError, TypeError):
            log.warning("auth lookup returned an unexpected body")
            raise Unavailable("The user directory gave an unexpected answer.") from None
        return found
