"""The real product as a benchmark target: users, friendships and conversations made through the public API.

Everything goes through the gateway, as a client would: register via
/auth/register, tokens via /auth/token, friendship via /api/friend-requests +
accept (which yields the direct conversation), history via
/api/conversations/<id>/messages.
"""

from __future__ import annotations

import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from . import procinfo

PASSWORD = "bench-password-123"
SETUP_THREADS = 8
SETUP_ATTEMPTS = 4
HTTP_TIMEOUT = 30
HISTORY_PAGE = 100
HISTORY_MAX_PAGES = 1000
# Tokens older than this are renewed (via /auth/refresh, no KDF) before a phase.
TOKEN_RENEW_AFTER = 300.0


class SetupError(RuntimeError):
    """The API refused part of the set-up; the message names the call."""


@dataclass
class BenchUser:
    username: str
    id: int = 0
    access_token: str = ""
    refresh_token: str = ""
    token_time: float = 0.0


class StackTarget:
    """A running stack reached at `base_url` (started by the benchmark or by someone else)."""

    kind = "stack"
    send_members = False

    def __init__(self, base_url: str, chat_master_pids: list[int] | None = None,
                 chat_urls: list[str] | None = None):
        self.base_url = base_url.rstrip("/")
        self.chat_master_pids = chat_master_pids or []
        self.chat_urls = chat_urls or []  # each instance's own port, when the benchmark started them
        self.prefix = "bench" + secrets.token_hex(3)
        self.users: list[BenchUser] = []
        self.idle_users: list[BenchUser] = []
        self.pairs: list[tuple[BenchUser, BenchUser, int]] = []  # (sender, peer, conversation id)
        self.group_users: list[BenchUser] = []
        self.made_groups: dict[int, list[tuple[int, list[BenchUser]]]] = {}  # size -> [(conversation id, members)]
        self._local = threading.local()

    # -- processes ---------------------------------------------------------------------------
    @property
    def worker_pids(self) -> list[int]:
        pids = []
        for pid in self.chat_master_pids:
            pids.extend(procinfo.children(pid))
        return pids

    @property
    def single_worker_pid(self) -> int:
        if not self.chat_master_pids:
            raise RuntimeError("the chat worker's pid is unknown (pass --chat-pid with --url)")
        return procinfo.children(self.chat_master_pids[0])[0]

    # -- HTTP --------------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _call(self, method: str, path: str, *, token: str | None = None, expect=(200, 201), **kwargs) -> dict:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        for attempt in range(SETUP_ATTEMPTS):
            response = self._session().request(method, self.base_url + path, headers=headers, timeout=HTTP_TIMEOUT, **kwargs)
            if response.status_code != 503:  # 503 means "try again shortly" (e.g. chat -> auth lookup timed out)
                break
            time.sleep(0.5 * (attempt + 1))
        if response.status_code not in expect:
            raise SetupError(f"{method} {path} -> {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else {}

    def _register(self, index: int, kind: str = "") -> BenchUser:
        user = BenchUser(f"{self.prefix}{kind}_{index}")
        self._call("POST", "/auth/register",
                   json={"username": user.username, "email": f"{user.username}@bench.test", "password": PASSWORD})
        body = self._call("POST", "/auth/token", json={"username": user.username, "password": PASSWORD})
        self._take_tokens(user, body)
        return user

    def _take_tokens(self, user: BenchUser, body: dict) -> None:
        user.id = int(body["user"]["id"]) if "user" in body else user.id
        user.access_token = body["access_token"]
        user.refresh_token = body["refresh_token"]
        user.token_time = time.monotonic()

    def _befriend(self, pair: tuple[BenchUser, BenchUser]) -> tuple[BenchUser, BenchUser, int]:
        sender, peer = pair
        request = self._call("POST", "/api/friend-requests", token=sender.access_token, json={"username": peer.username})
        accepted = self._call("POST", f"/api/friend-requests/{request['request']['id']}/accept", token=peer.access_token)
        return sender, peer, int(accepted["conversation_id"])

    def populate(self, conversations: int, idle_users: int) -> float:
        """Create 2 users per conversation (friends, with their direct conversation) plus idle users."""
        started = time.monotonic()
        with ThreadPoolExecutor(SETUP_THREADS) as pool:
            users = list(pool.map(self._register, range(2 * conversations + idle_users)))
            self.users = users[: 2 * conversations]
            self.idle_users = users[2 * conversations :]
            self.pairs = list(pool.map(self._befriend, zip(self.users[0::2], self.users[1::2])))
        return time.monotonic() - started

    def renew_tokens(self) -> None:
        """Fresh access tokens (refresh rotation, no password hashing) for long runs."""
        stale = [u for u in self.users + self.idle_users + self.group_users
                 if time.monotonic() - u.token_time > TOKEN_RENEW_AFTER]

        def renew(user: BenchUser) -> None:
            self._take_tokens(user, self._call("POST", "/auth/refresh", json={"refresh_token": user.refresh_token}))

        with ThreadPoolExecutor(SETUP_THREADS) as pool:
            list(pool.map(renew, stale))

    # -- what the load generator needs -------------------------------------------------------
    def conversations(self, count: int) -> list[dict[str, Any]]:
        if count > len(self.pairs):
            raise ValueError(f"only {len(self.pairs)} conversations were set up")
        self.renew_tokens()
        url = self.base_url
        return [
            {
                "id": conversation_id,
                "members": [
                    {"user_id": u.id, "auth": {"token": u.access_token}, "url": url} for u in (sender, peer)
                ],
            }
            for sender, peer, conversation_id in self.pairs[:count]
        ]

    def groups(self, size: int, count: int) -> list[dict[str, Any]]:
        """`count` conversations of `size` members each: direct ones for 2, else groups made through the API
        (the creator befriends the others, then `POST /api/conversations`); made once per size."""
        if size == 2:
            return self.conversations(count)
        made = self.made_groups.setdefault(size, [])
        if len(made) < count:
            with ThreadPoolExecutor(SETUP_THREADS) as pool:
                for _ in range(count - len(made)):
                    members = list(pool.map(self._register, range(len(self.group_users), len(self.group_users) + size),
                                            ["g"] * size))
                    self.group_users.extend(members)
                    creator = members[0]
                    list(pool.map(self._befriend, [(creator, other) for other in members[1:]]))
                    body = self._call("POST", "/api/conversations", token=creator.access_token,
                                      json={"title": f"bench {size}", "members": [m.username for m in members[1:]]})
                    made.append((int(body["conversation"]["id"]), members))
        self.renew_tokens()
        return [
            {"id": conversation_id,
             "members": [{"user_id": u.id, "auth": {"token": u.access_token}, "url": self.base_url} for u in members]}
            for conversation_id, members in made[:count]
        ]

    def idle_endpoints(self, count: int) -> tuple[list[dict], list[str]]:
        # Straight to the instance when its port is known: what is measured is the instance, and
        # 10,000 sockets through nginx would take 20,000 of the sandbox's open files in the gateway alone.
        self.renew_tokens()
        return [{"token": u.access_token} for u in self.idle_users], (self.chat_urls[:1] or [self.base_url])

    def history(self, conversation_id: int) -> list[dict]:
        """Every stored message of the conversation, oldest first (paged with after=)."""
        senders = [s for s, _, cid in self.pairs if cid == conversation_id]
        senders += [m[0] for made in self.made_groups.values() for cid, m in made if cid == conversation_id]
        token = senders[0].access_token
        messages: list[dict] = []
        after = 0
        for _ in range(HISTORY_MAX_PAGES):
            body = self._call(
                "GET", f"/api/conversations/{conversation_id}/messages", token=token,
                params={"after": after, "limit": HISTORY_PAGE},
            )
            page = body["messages"]
            messages.extend(page)
            if not page or not body.get("has_more"):
                break
            after = page[-1]["id"]
        return messages
