"""Sessions that really end, across services and chat instances: after logout, refresh-token
reuse or "log out everywhere", that session's access tokens are refused by auth and chat
and its sockets (on every instance) get `session_ended` and are disconnected, within
about a second; other sessions carry on."""

from __future__ import annotations

import threading
import time

import pytest
import requests
import socketio

from shared.testing import wait_until

from ..conftest import after_reuse_grace
from .chat_load import PASSWORD, new_user

pytestmark = pytest.mark.system

WITHIN = 1.5  # seconds: "within about a second", with room for a loaded machine


class Login:
    """One session (a login) of a user: its tokens and its sockets, one per chat instance."""

    def __init__(self, base: str, username: str, chat_urls: list[str]) -> None:
        self.base = base
        issued = requests.post(f"{base}/auth/token", json={"username": username, "password": PASSWORD}, timeout=10)
        assert issued.status_code == 200, issued.text
        self.access = issued.json()["access_token"]
        self.refresh = issued.json()["refresh_token"]
        self.ended = threading.Event()
        self.sockets = []
        for url in chat_urls:
            sio = socketio.Client(reconnection=False)
            sio.on("session_ended", lambda *data: self.ended.set())
            sio.connect(url, transports=["websocket"], auth={"token": self.access}, wait_timeout=10)
            self.sockets.append(sio)

    @property
    def headers(self) -> dict:
        return {"Authorization": f"Bearer {self.access}"}

    def accepted_by(self) -> dict[str, int]:
        return {"auth": requests.get(f"{self.base}/auth/me", headers=self.headers, timeout=10).status_code,
                "chat": requests.get(f"{self.base}/api/conversations", headers=self.headers, timeout=10).status_code}

    def connected(self) -> list[bool]:
        return [sio.connected for sio in self.sockets]

    def close(self) -> None:
        for sio in self.sockets:
            if sio.connected:
                sio.disconnect()


def assert_ended(login: Login, started: float) -> None:
    wait_until(lambda: not any(login.connected()), WITHIN + 2, "the session's sockets to be disconnected")
    took = time.monotonic() - started
    assert login.ended.is_set(), "its sockets were told session_ended before the disconnect"
    assert took <= WITHIN, f"sockets disconnected after {took:.2f} s"
    assert login.accepted_by() == {"auth": 401, "chat": 401}
    # A new socket with that token is refused too.
    sio = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        sio.connect(login.base, transports=["websocket"], auth={"token": login.access}, wait_timeout=10)


def assert_alive(login: Login) -> None:
    assert login.connected() == [True] * len(login.sockets)
    assert login.accepted_by() == {"auth": 200, "chat": 200}


@pytest.fixture(scope="module")
def stack(start_stack):
    with start_stack(chat_instances=2, redis=True) as stack:
        yield stack


def test_logout_ends_that_session_everywhere_and_only_that_one(stack):
    user = new_user(stack.url, "leaver")
    here, elsewhere = Login(stack.url, user["username"], stack.chat_urls), Login(stack.url, user["username"],
                                                                                  stack.chat_urls)
    try:
        assert_alive(here)
        started = time.monotonic()
        logout = requests.post(f"{stack.url}/auth/logout", json={"refresh_token": here.refresh}, timeout=10)
        assert logout.status_code == 204
        assert_ended(here, started)
        assert_alive(elsewhere)
    finally:
        here.close()
        elsewhere.close()


def test_refresh_token_reuse_ends_the_session(stack):
    user = new_user(stack.url, "copied")
    victim = Login(stack.url, user["username"], stack.chat_urls)
    try:
        spent_at = time.monotonic()
        rotated = requests.post(f"{stack.url}/auth/refresh", json={"refresh_token": victim.refresh}, timeout=10)
        assert rotated.status_code == 200
        after_reuse_grace(spent_at)
        started = time.monotonic()
        replayed = requests.post(f"{stack.url}/auth/refresh", json={"refresh_token": victim.refresh}, timeout=10)
        assert replayed.status_code == 401
        assert_ended(victim, started)
        newer = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
        assert requests.get(f"{stack.url}/api/conversations", headers=newer, timeout=10).status_code == 401
    finally:
        victim.close()


def test_two_refreshes_of_one_token_at_once_keep_the_session(stack):
    """A reload while the page refreshes in the background: the frontend and the browser's script
    present the same refresh token together. Both get a pair; the session and its sockets live on."""
    user = new_user(stack.url, "reloader")
    login = Login(stack.url, user["username"], stack.chat_urls)
    try:
        barrier = threading.Barrier(2)
        answers = []

        def refresh() -> None:
            barrier.wait()
            answers.append(requests.post(f"{stack.url}/auth/refresh", json={"refresh_token": login.refresh},
                                         timeout=10))

        threads = [threading.Thread(target=refresh) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [answer.status_code for answer in answers] == [200, 200], [a.text for a in answers]
        for answer in answers:
            headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
            assert requests.get(f"{stack.url}/api/conversations", headers=headers, timeout=10).status_code == 200
        assert not login.ended.is_set()
        assert_alive(login)
    finally:
        login.close()


def test_log_out_everywhere_ends_every_session_of_the_user_only(stack):
    user, other = new_user(stack.url, "everywhere"), new_user(stack.url, "bystander")
    phone, laptop = Login(stack.url, user["username"], stack.chat_urls), Login(stack.url, user["username"],
                                                                              stack.chat_urls)
    bystander = Login(stack.url, other["username"], stack.chat_urls)
    try:
        started = time.monotonic()
        ended = requests.post(f"{stack.url}/auth/logout-all", headers=laptop.headers, timeout=10)
        assert ended.status_code == 204
        assert_ended(phone, started)
        assert_ended(laptop, started)
        refreshed = requests.post(f"{stack.url}/auth/refresh", json={"refresh_token": phone.refresh}, timeout=10)
        assert refreshed.status_code == 401
        assert_alive(bystander)
    finally:
        for login in (phone, laptop, bystander):
            login.close()


def test_without_redis_every_ending_reaches_chat_at_once(live_stack):
    """The quick start (`make up`: SQLite, no Redis, one chat instance) keeps the same promises:
    auth tells chat itself. Logout, a password change (every other session) and "log out
    everywhere" each refuse the ended session's token at /auth and /api and end its socket."""
    base = live_stack.url
    user = new_user(base, "quick")
    here, kept, other = (Login(base, user["username"], live_stack.chat_urls) for _ in range(3))
    try:
        started = time.monotonic()
        assert requests.post(f"{base}/auth/logout", json={"refresh_token": here.refresh}, timeout=10).status_code == 204
        assert_ended(here, started)
        assert_alive(kept)

        started = time.monotonic()
        changed = requests.post(f"{base}/auth/me/password", headers=kept.headers, timeout=10,
                                json={"current_password": PASSWORD, "new_password": PASSWORD + " 2"})
        assert changed.status_code == 204, changed.text
        assert_ended(other, started)
        assert_alive(kept)

        started = time.monotonic()
        assert requests.post(f"{base}/auth/logout-all", headers=kept.headers, timeout=10).status_code == 204
        assert_ended(kept, started)
    finally:
        for login in (here, kept, other):
            login.close()
