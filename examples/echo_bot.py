"""An echo bot: a program that chats through the public HTTP and Socket.IO APIs.

    BOT_PASSWORD=... python examples/echo_bot.py --url http://127.0.0.1:8080 --username echo_bot

What it does, and which part of the API each step uses:

* logs in with `POST /auth/token` and keeps its access token fresh with
  `POST /auth/refresh` + `{refresh_token}` before it expires (logging in again
  if the refresh chain is gone);
* connects to Socket.IO with `auth={"token": <access token>}`; every (re)connect
  asks for a fresh token;
* accepts incoming friend requests (`friend_request` events, and the pending
  ones from `GET /api/friend-requests?direction=incoming` at each connect);
* answers every message other users send it in a direct conversation: `/time`
  with the current UTC time, anything else with an echo; and reacts with 👍
  (`PUT /api/messages/<id>/reactions/<emoji>`) to a message that says thanks;
* when a message it answered is edited (`message_updated`), it edits its answer
  to match (`PATCH /api/messages/<id>`); edits made while it was offline are not
  seen, since history only shows the current text;
* after a disconnect it reconnects and catches up (also when the server says
  `resync`) with
  `GET /api/conversations/<id>/messages?after=<last id>`, so what was sent
  while it was away is answered, once.

The socket is only a doorbell: a `message` event makes the bot read the
conversation from its last seen id over REST and answer in order. So live
messages and catch-up take the same path, and answers are sent with
`client_id = "echo-<message id>"`: the server's idempotency makes a repeated
answer (after a lost response, a reconnect or a restart) a no-op.

Needs `requests` and `python-socketio[client]` (both pinned in the repository's
requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import re
import signal
import sys
import threading
import time
from datetime import datetime, timezone
from typing import Any, Callable
from urllib.parse import quote

import requests
import socketio

log = logging.getLogger("echo_bot")

MAX_TEXT = 4000  # the API's limit for a message
HTTP_TIMEOUT = 10
# Refresh when less than this share of the access token's lifetime is left.
REFRESH_AT_REMAINING = 0.25
RECONNECT_DELAY, RECONNECT_DELAY_MAX = 0.5, 5.0
THANKS = re.compile(r"\b(thanks|thank you|thx|ty)\b", re.IGNORECASE)
THANKS_REACTION = "\N{THUMBS UP SIGN}"


class ApiError(RuntimeError):
    def __init__(self, status: int, body: Any) -> None:
        error = body.get("error", {}) if isinstance(body, dict) else {}
        super().__init__(f"HTTP {status} {error.get('code', '')}: {error.get('message', body)}")
        self.status = status
        self.code = error.get("code")


class ApiClient:
    """HTTP calls with a Bearer token that is refreshed before it expires."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.username = username
        self._password = password
        self._http = requests.Session()
        self._lock = threading.Lock()
        self._access_token = ""
        self._refresh_token = ""
        self._issued_at = 0.0
        self._expires_at = 0.0
        self.user: dict[str, Any] = {}

    def login(self) -> None:
        with self._lock:
            self._log_in()

    def access_token(self) -> str:
        """A valid access token, refreshed first when it is close to expiry."""
        with self._lock:
            if self._refresh_due_in() <= 0:
                self._refresh()
            return self._access_token

    def seconds_until_refresh(self) -> float:
        with self._lock:
            return self._refresh_due_in()

    def _refresh_due_in(self) -> float:
        lifetime = self._expires_at - self._issued_at
        return self._expires_at - lifetime * REFRESH_AT_REMAINING - time.monotonic()

    def _log_in(self) -> None:
        body = self._post_json("/auth/token", {"username": self.username, "password": self._password})
        self._store(body)
        log.info("logged in as %s (user %s)", self.user["username"], self.user["id"])

    def _refresh(self) -> None:
        try:
            body = self._post_json("/auth/refresh", {"refresh_token": self._refresh_token})
        except ApiError as error:
            if error.status != 401:
                raise
            # The chain was revoked or expired (e.g. a logout elsewhere): start a new one.
            log.warning("refresh refused (%s); logging in again", error)
            self._log_in()
            return
        self._store(body)
        log.info("refreshed the access token (valid %s s)", body["expires_in"])

    def _store(self, body: dict[str, Any]) -> None:
        self._access_token = body["access_token"]
        self._refresh_token = body["refresh_token"]
        self._issued_at = time.monotonic()
        self._expires_at = self._issued_at + body["expires_in"]
        self.user = body["user"]

    def _post_json(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self._http.post(self.base_url + path, json=payload, timeout=HTTP_TIMEOUT)
        return self._result(response)

    def call(self, method: str, path: str, *, json: Any = None, params: dict | None = None) -> Any:
        response = self._http.request(method, self.base_url + path, json=json, params=params, timeout=HTTP_TIMEOUT,
                                      headers={"Authorization": f"Bearer {self.access_token()}"})
        return self._result(response)

    @staticmethod
    def _result(response: requests.Response) -> Any:
        if response.status_code == 204:
            return None
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            raise ApiError(response.status_code, body)
        return body


def answer_client_id(message_id: int) -> str:
    """The client_id of the bot's answer to a message: what makes answering idempotent."""
    return f"echo-{message_id}"


def answer_for(text: str) -> str:
    if text.strip() == "/time":
        return "The time is " + datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
    return ("echo: " + text)[:MAX_TEXT]


class EchoBot:
    def __init__(self, api: ApiClient) -> None:
        self.api = api
        self.stopping = threading.Event()
        # Every piece of work runs on one thread, in order: no locks around the
        # cursors, and answers go out in the order the messages were sent.
        self.tasks: queue.Queue[Callable[[], None] | None] = queue.Queue()
        # Per conversation: the id of the last message looked at, and its kind.
        self.cursors: dict[int, int] = {}
        self.kinds: dict[int, str] = {}
        # The bot reconnects itself: python-socketio's own reconnection gives up when the
        # server ends the connection, which it does when the access token expires.
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("connect", self._on_connect)
        self.sio.on("disconnect", self._on_disconnect)
        self.sio.on("message", self._on_message)
        # The server lost events meant for us (its queue connection broke): look at every
        # conversation again. The cursors move only through history pages, so a live
        # message never hides one that was missed before it.
        self.sio.on("resync", lambda *data: self.tasks.put(self.catch_up_all))
        self.sio.on("friend_request", self._on_friend_request)
        self.sio.on("friend_added", self._on_friend_added)
        self.sio.on("message_updated", self._on_message_updated)

    # -- Socket.IO handlers: they only queue work -------------------------

    def _on_connect(self) -> None:
        log.info("connected (transport %s)", self.sio.transport())
        self.tasks.put(self.accept_pending_requests)
        self.tasks.put(self.catch_up_all)

    def _on_disconnect(self, reason: Any = None) -> None:
        log.info("disconnected (%s)", reason)
        self.tasks.put(self.connect)

    def _on_message(self, message: dict[str, Any]) -> None:
        if message["sender"]["id"] != self.api.user["id"]:
            self.tasks.put(lambda: self.catch_up(message["conversation_id"]))

    def _on_message_updated(self, change: dict[str, Any]) -> None:
        self.tasks.put(lambda: self.follow_edit(change))

    def _on_friend_request(self, request: dict[str, Any]) -> None:
        self.tasks.put(lambda: self.accept(request))

    def _on_friend_added(self, data: dict[str, Any]) -> None:
        log.info("now friends with %s", data["friend"]["username"])

    # -- Work, on the worker thread ----------------------------------------

    def connect(self) -> None:
        """Connect (again), with a fresh token, retrying with backoff until it works."""
        delay = RECONNECT_DELAY
        while not self.stopping.is_set() and not self.sio.connected:
            try:
                self.sio.connect(self.api.base_url, auth=self._socket_auth, transports=["websocket"], wait_timeout=10)
            except (socketio.exceptions.ConnectionError, ValueError) as error:
                # ValueError: the previous connection is still being torn down.
                log.info("cannot connect yet (%s); retrying in %.1f s", error, delay)
                self.stopping.wait(delay)
                delay = min(delay * 2, RECONNECT_DELAY_MAX)

    def start_from_now(self) -> None:
        """At start-up, skip history: only what arrives from now on is answered."""
        for conversation in self.api.call("GET", "/api/conversations")["conversations"]:
            last = conversation["last_message"]
            self.cursors[conversation["id"]] = last["id"] if last else 0
            self.kinds[conversation["id"]] = conversation["kind"]

    def accept_pending_requests(self) -> None:
        for request in self.api.call("GET", "/api/friend-requests", params={"direction": "incoming"})["requests"]:
            self.accept(request)

    def accept(self, request: dict[str, Any]) -> None:
        try:
            result = self.api.call("POST", f"/api/friend-requests/{request['id']}/accept")
        except ApiError as error:
            if error.status == 404:  # already answered (e.g. seen both as an event and in the list)
                return
            raise
        log.info("accepted the friend request of %s", result["friend"]["username"])

    def catch_up_all(self) -> None:
        for conversation in self.api.call("GET", "/api/conversations")["conversations"]:
            self.kinds[conversation["id"]] = conversation["kind"]
            last = conversation["last_message"]
            if last and last["id"] > self.cursors.get(conversation["id"], 0):
                self.catch_up(conversation["id"])

    def catch_up(self, conversation_id: int) -> None:
        """Answer every message after the cursor, oldest first, page by page."""
        if conversation_id not in self.kinds:
            self.kinds[conversation_id] = self.api.call("GET", f"/api/conversations/{conversation_id}")["conversation"]["kind"]
        has_more = True
        while has_more:
            params = {"limit": 100}
            cursor = self.cursors.get(conversation_id, 0)
            if cursor:
                params["after"] = cursor
            page = self.api.call("GET", f"/api/conversations/{conversation_id}/messages", params=params)
            for message in page["messages"]:
                if message["id"] > self.cursors.get(conversation_id, 0):
                    self.handle(message)
                    self.cursors[conversation_id] = message["id"]
            # Without a cursor the page is the newest messages; later pages continue after them.
            has_more = bool(cursor) and page["has_more"]

    def handle(self, message: dict[str, Any]) -> None:
        if message["sender"]["id"] == self.api.user["id"] or self.kinds[message["conversation_id"]] != "direct":
            return
        reply = answer_for(message["text"])
        self.api.call("POST", f"/api/conversations/{message['conversation_id']}/messages",
                      json={"text": reply, "client_id": answer_client_id(message["id"])})
        log.info("answered message %s from %s", message["id"], message["sender"]["username"])
        if THANKS.search(message["text"]):
            # Idempotent: a message seen again (catch-up) gets the same one reaction.
            self.api.call("PUT", f"/api/messages/{message['id']}/reactions/{quote(THANKS_REACTION)}")
            log.info("reacted to message %s", message["id"])

    def follow_edit(self, change: dict[str, Any]) -> None:
        """A message was edited: if it is one the bot answered, answer the new text instead.
        The answer is found by its client_id, so this works after a restart too."""
        conversation_id = change["conversation_id"]
        page = self.api.call("GET", f"/api/conversations/{conversation_id}/messages",
                             params={"after": change["id"] - 1, "limit": 100})["messages"]
        edited = next((m for m in page if m["id"] == change["id"]), None)
        if edited is None or edited["sender"]["id"] == self.api.user["id"] or edited["deleted"]:
            return
        answer = next((m for m in page if m["sender"]["id"] == self.api.user["id"]
                       and m["client_id"] == answer_client_id(edited["id"])), None)
        if answer is None or answer["deleted"]:
            return  # not answered (yet: the answer will use the new text) or the answer is gone
        text = answer_for(edited["text"])
        if text == answer["text"]:
            return
        try:
            self.api.call("PATCH", f"/api/messages/{answer['id']}", json={"text": text})
        except ApiError as error:
            if error.status == 409:  # past the edit window
                log.info("answer %s can no longer be edited", answer["id"])
                return
            raise
        log.info("edited answer %s to follow message %s", answer["id"], edited["id"])

    # -- Running -------------------------------------------------------------

    def run(self) -> None:
        self.api.login()
        self.start_from_now()
        self.tasks.put(self.connect)
        while not self.stopping.is_set():
            try:
                # Wake up when the token is due for a refresh, so it never lapses while idle.
                task = self.tasks.get(timeout=max(0.05, self.api.seconds_until_refresh()))
                if task is not None:
                    task()
            except queue.Empty:
                self._keep_token_fresh()
            except (requests.RequestException, ApiError) as error:
                # The next message event or reconnect retries from the same cursor.
                log.warning("giving up on this task for now: %s", error)
        self.sio.disconnect()

    def _socket_auth(self) -> dict[str, str]:
        """Called by python-socketio at every (re)connect."""
        try:
            return {"token": self.api.access_token()}
        except (requests.RequestException, ApiError) as error:
            # Let the handshake be refused and retried by connect(), rather than
            # raise inside python-socketio's connection thread.
            log.warning("no fresh token for the socket yet: %s", error)
            return {"token": ""}

    def _keep_token_fresh(self) -> None:
        try:
            self.api.access_token()
        except (requests.RequestException, ApiError) as error:
            log.warning("could not refresh the token yet: %s", error)
            self.stopping.wait(RECONNECT_DELAY_MAX)  # not a tight loop while the network is down


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("CHAT_URL", "http://127.0.0.1:8080"),
                        help="the gateway's base URL (default: $CHAT_URL or http://127.0.0.1:8080)")
    parser.add_argument("--username", default=os.environ.get("BOT_USERNAME", "echo_bot"))
    args = parser.parse_args(argv)
    password = os.environ.get("BOT_PASSWORD")
    if not password:
        parser.error("set BOT_PASSWORD to the bot account's password")
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(message)s")

    bot = EchoBot(ApiClient(args.url, args.username, password))

    def request_stop(signum: int, _frame: Any) -> None:
        log.info("stopping (signal %s)", signum)
        bot.stopping.set()
        bot.tasks.put(None)  # wake the worker

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    bot.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
