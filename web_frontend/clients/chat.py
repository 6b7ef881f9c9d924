"""chat_service REST over HTTP, called with the browser's access token as a Bearer token.

Bearer calls are outside the services' cookie CSRF rule; our own forms carry a
CSRF token, checked before any of these state-changing calls is made.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .base import Caller, ServiceClient


class ChatClient(ServiceClient):
    service = "chat"

    def _get(self, caller: Caller, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.json(self.call("GET", path, caller, params=params, headers=caller.bearer()))

    def _post(self, caller: Caller, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.json(self.call("POST", path, caller, json=body if body is not None else {},
                                   headers=caller.bearer()))

    def conversations(self, caller: Caller) -> list[dict[str, Any]]:
        return self._get(caller, "/api/conversations")["conversations"]

    def conversation(self, caller: Caller, conversation_id: int) -> dict[str, Any]:
        return self._get(caller, f"/api/conversations/{conversation_id}")["conversation"]

    def messages(self, caller: Caller, conversation_id: int, limit: int = 50) -> dict[str, Any]:
        return self._get(caller, f"/api/conversations/{conversation_id}/messages", {"limit": limit})

    def me(self, caller: Caller) -> dict[str, Any]:
        return self._get(caller, "/api/me")["user"]

    def my_data(self, caller: Caller) -> dict[str, Any]:
        return self._get(caller, "/api/me/data")

    def friends(self, caller: Caller) -> list[dict[str, Any]]:
        return self._get(caller, "/api/friends")["friends"]

    def friend_requests(self, caller: Caller, direction: str) -> list[dict[str, Any]]:
        return self._get(caller, "/api/friend-requests", {"direction": direction})["requests"]

    def send_friend_request(self, caller: Caller, username: str) -> dict[str, Any]:
        """201 {request}, or 200 {friend} when it accepted the other user's pending request."""
        return self._post(caller, "/api/friend-requests", {"username": username})

    def accept_friend_request(self, caller: Caller, request_id: int) -> dict[str, Any]:
        return self._post(caller, f"/api/friend-requests/{request_id}/accept")

    def decline_friend_request(self, caller: Caller, request_id: int) -> None:
        self._post(caller, f"/api/friend-requests/{request_id}/decline")

    def cancel_friend_request(self, caller: Caller, request_id: int) -> None:
        self.call("DELETE", f"/api/friend-requests/{request_id}", caller, headers=caller.bearer())

    def blocks(self, caller: Caller) -> list[dict[str, Any]]:
        return self._get(caller, "/api/blocks")["blocks"]

    def block(self, caller: Caller, username: str) -> None:
        self._post(caller, "/api/blocks", {"username": username})

    def unblock(self, caller: Caller, username: str) -> None:
        self.call("DELETE", f"/api/blocks/{quote(username, safe='')}", caller, headers=caller.bearer())

    def remove_friend(self, caller: Caller, username: str) -> None:
        self.call("DELETE", f"/api/friends/{quote(username, safe='')}", caller, headers=caller.bearer())

    def direct_conversation(self, caller: Caller, username: str) -> dict[str, Any]:
        return self._post(caller, "/api/conversations/direct", {"username": username})["conversation"]

    def create_group(self, caller: Caller, title: str, members: list[str]) -> dict[str, Any]:
        return self._post(caller, "/api/conversations", {"title": title, "members": members})["conversation"]
