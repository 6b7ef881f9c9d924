"""The echo bot example (examples/echo_bot.py) as a real process against a running stack.

The bot reaches the gateway through a small TCP relay the test controls, so the
test can cut the bot's network (its WebSocket drops, reconnects fail) while the
user keeps chatting through the gateway directly.
"""

from __future__ import annotations

import os
import queue
import re
import secrets
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from shared.testing import TcpRelay

pytestmark = pytest.mark.system

BOT_SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "echo_bot.py"
PASSWORD = "correct horse battery"


class BotProcess:
    """examples/echo_bot.py as a subprocess, with its log lines readable by the test."""

    def __init__(self, url: str, username: str, password: str) -> None:
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        self.process = subprocess.Popen(
            [sys.executable, str(BOT_SCRIPT), "--url", url, "--username", username],
            env={**os.environ, "BOT_PASSWORD": password, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            self.log.append(line)
            if re.search(pattern, line):
                return line
        raise AssertionError(f"the bot never logged /{pattern}/; its log:\n" + "\n".join(self.log))

    def stop(self) -> int:
        """Stop the bot; its whole log is printed (pytest shows it when the test failed)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        time.sleep(0.1)  # let the reader thread take the last lines
        while not self.lines.empty():
            self.log.append(self.lines.get())
        print("echo bot log:", *self.log, sep="\n  ")
        return code


class User:
    """A person using the API with a Bearer token, through the gateway."""

    def __init__(self, base: str, username: str, *, register: bool = True) -> None:
        self.base = base
        self.username = username
        if register:
            registered = requests.post(f"{base}/auth/register", timeout=10, json={
                "username": username, "email": f"{username}@example.com", "password": PASSWORD})
            assert registered.status_code == 201, registered.text
        token = requests.post(f"{base}/auth/token", json={"username": username, "password": PASSWORD}, timeout=10)
        assert token.status_code == 200, token.text
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token.json()['access_token']}"

    def call(self, method: str, path: str, expected: int, **kwargs):
        response = self.http.request(method, self.base + path, timeout=10, **kwargs)
        assert response.status_code == expected, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def say(self, conversation_id: int, text: str) -> dict:
        return self.call("POST", f"/api/conversations/{conversation_id}/messages", 201,
                         json={"text": text, "client_id": secrets.token_hex(8)})["message"]

    def answers_to(self, conversation_id: int, message: dict, from_user: str) -> list[dict]:
        history = self.call("GET", f"/api/conversations/{conversation_id}/messages", 200,
                            params={"after": message["id"], "limit": 100})["messages"]
        return [m for m in history if m["sender"]["username"] == from_user]

    def wait_for_answer(self, conversation_id: int, message: dict, from_user: str, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answers = self.answers_to(conversation_id, message, from_user)
            if answers:
                return answers[0]
            time.sleep(0.2)
        raise AssertionError(f"{from_user} never answered {message['text']!r}")


def register_bot(base: str) -> tuple[str, str]:
    username = f"echo_{secrets.token_hex(4)}"
    password = secrets.token_urlsafe(16)
    response = requests.post(f"{base}/auth/register", timeout=10,
                             json={"username": username, "email": f"{username}@example.com", "password": password})
    assert response.status_code == 201, response.text
    return username, password


def befriend(user: User, bot_name: str) -> int:
    """Send the bot a friend request, wait for it to accept; the id of our direct conversation."""
    user.call("POST", "/api/friend-requests", 201, json={"username": bot_name})
    deadline = time.monotonic() + 20
    while bot_name not in [f["username"] for f in user.call("GET", "/api/friends", 200)["friends"]]:
        assert time.monotonic() < deadline, "the bot never accepted the friend request"
        time.sleep(0.2)
    return user.call("POST", "/api/conversations/direct", 200, json={"username": bot_name})["conversation"]["id"]


@pytest.fixture
def bot_account(live_stack):
    return register_bot(live_stack.url)


def test_echo_bot_befriends_answers_and_catches_up_after_losing_its_connection(live_stack, bot_account):
    bot_name, bot_password = bot_account
    relay = TcpRelay("127.0.0.1", live_stack.gateway_port)
    bot = BotProcess(f"http://127.0.0.1:{relay.port}", bot_name, bot_password)
    try:
        bot.wait_for(r"connected \(transport websocket\)")
        alice = User(live_stack.url, f"alice_{secrets.token_hex(4)}")

        conversation_id = befriend(alice, bot_name)

        hello = alice.say(conversation_id, "hello bot")
        assert alice.wait_for_answer(conversation_id, hello, bot_name)["text"] == "echo: hello bot"

        asked = alice.say(conversation_id, "/time")
        answer = alice.wait_for_answer(conversation_id, asked, bot_name)["text"]
        stamp = re.fullmatch(r"The time is (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)", answer)
        assert stamp, answer
        told = datetime.strptime(stamp.group(1), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        assert abs((datetime.now(timezone.utc) - told).total_seconds()) < 60

        # The bot loses its network; what alice says meanwhile is answered once it is back.
        relay.cut()
        bot.wait_for(r"disconnected")
        missed = alice.say(conversation_id, "are you there?")
        time.sleep(1.0)
        assert alice.answers_to(conversation_id, missed, bot_name) == []
        relay.restore()
        bot.wait_for(r"connected \(transport websocket\)", timeout=30)
        assert alice.wait_for_answer(conversation_id, missed, bot_name)["text"] == "echo: are you there?"

        # Answered once: the live event and the catch-up did not both reply.
        follow_up = alice.say(conversation_id, "still there?")
        alice.wait_for_answer(conversation_id, follow_up, bot_name)
        history = alice.call("GET", f"/api/conversations/{conversation_id}/messages", 200, params={"limit": 100})
        bot_texts = [m["text"] for m in history["messages"] if m["sender"]["username"] == bot_name]
        assert bot_texts == ["echo: hello bot", answer, "echo: are you there?", "echo: still there?"]

        # Editing a message the bot answered edits its answer; a thank-you gets a reaction.
        alice.call("PATCH", f"/api/messages/{hello['id']}", 200, json={"text": "hello again, bot"})
        bot.wait_for(rf"edited answer \d+ to follow message {hello['id']}")
        echoed = alice.answers_to(conversation_id, hello, bot_name)[0]
        assert echoed["text"] == "echo: hello again, bot" and echoed["edited_at"]
        thanks = alice.say(conversation_id, "thanks a lot!")
        alice.wait_for_answer(conversation_id, thanks, bot_name)
        bot.wait_for(rf"reacted to message {thanks['id']}")
        reactions = alice.call("GET", f"/api/messages/{thanks['id']}/reactions", 200)["reactions"]
        assert [(r["emoji"], r["count"], [u["username"] for u in r["users"]]) for r in reactions] == [
            ("\N{THUMBS UP SIGN}", 1, [bot_name])]
    finally:
        relay.cut()
        exit_code = bot.stop()
    assert exit_code == 0, "\n".join(bot.log)


def test_echo_bot_keeps_working_across_access_token_expiry(start_stack):
    ttl = 3
    with start_stack(env={"ACCESS_TOKEN_TTL": str(ttl)}) as stack:
        bot_name, bot_password = register_bot(stack.url)
        bot = BotProcess(stack.url, bot_name, bot_password)
        try:
            bot.wait_for(r"connected \(transport websocket\)")
            # Refreshed before expiry, again and again, while idle.
            bot.wait_for(r"refreshed the access token", timeout=ttl * 2)
            bot.wait_for(r"refreshed the access token", timeout=ttl * 2)
            alice = User(stack.url, f"alice_{secrets.token_hex(4)}")
            conversation_id = befriend(alice, bot_name)
            time.sleep(ttl * 2)  # well past the bot's first tokens (and alice's; she gets a new one)
            alice = User(stack.url, alice.username, register=False)
            ping = alice.say(conversation_id, "ping")
            assert alice.wait_for_answer(conversation_id, ping, bot_name)["text"] == "echo: ping"
        finally:
            exit_code = bot.stop()
        assert exit_code == 0, "\n".join(bot.log)
        # Every refresh happened in time: none was refused, no handshake met an expired token.
        assert not [line for line in bot.log if "logging in again" in line or "namespaces failed" in line], bot.log
        assert len([line for line in bot.log if "refreshed the access token" in line]) >= 3
