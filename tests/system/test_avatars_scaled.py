"""Avatars across three chat instances joined by Redis: a new avatar set through one instance
reaches a friend's socket on another at once, and the instance that had the user's payload cached
(with no socket connected to it) sends their next message with the new avatar."""

from __future__ import annotations

import io

import pytest
import requests
import socketio
from PIL import Image

from shared.testing import wait_until

from .chat_load import befriend, new_user

pytestmark = pytest.mark.system


def test_a_new_avatar_reaches_every_instance(start_stack):
    with start_stack(chat_instances=3, redis=True) as stack:
        alice, bob = new_user(stack.url, "pictured"), new_user(stack.url, "watching")
        conversation_id = befriend(stack.url, alice, bob)

        def send(text: str) -> dict:
            # Always through the second instance, which thereby keeps alice's user payload cached.
            sent = requests.post(f"{stack.chat_urls[1]}/api/conversations/{conversation_id}/messages",
                                 json={"text": text, "client_id": text}, headers=alice["headers"], timeout=10)
            assert sent.status_code == 201, sent.text
            return sent.json()["message"]

        assert send("before")["sender"]["avatar_url"] is None
        heard: list[dict] = []
        bob_socket = socketio.Client(reconnection=False)
        bob_socket.on("user_updated", heard.append)
        bob_socket.connect(stack.chat_urls[2], transports=["websocket"], auth={"token": bob["token"]}, wait_timeout=10)
        try:
            photo = io.BytesIO()
            Image.new("RGB", (120, 90), (200, 60, 20)).save(photo, format="PNG")
            response = requests.put(f"{stack.chat_urls[0]}/api/me/avatar", headers=alice["headers"],
                                    files={"file": ("me.png", photo.getvalue(), "image/png")}, timeout=10)
            assert response.status_code == 200, response.text
            user = response.json()["user"]

            wait_until(lambda: heard, 10, "the friend's socket on another instance to hear of it")
            assert heard == [{"user": user}]
            # The second instance hears it from the queue too (even with no socket of its own).
            wait_until(lambda: requests.get(f"{stack.chat_urls[1]}/api/me", headers=alice["headers"], timeout=10)
                       .json()["user"] == user, 10, "the second instance to drop its cached payload")
            assert send("after")["sender"]["avatar_url"] == user["avatar_url"]
            served = requests.get(f"{stack.url}{user['avatar_url']}", headers=bob["headers"], timeout=10)
            assert served.status_code == 200 and served.headers["Content-Type"] == "image/webp"
            assert served.headers["X-Content-Type-Options"] == "nosniff"
        finally:
            bob_socket.disconnect()
