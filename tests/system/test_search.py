"""Message search through the gateway, on PostgreSQL, with three chat instances."""

from __future__ import annotations

import secrets

import pytest
import requests
import socketio

from .chat_load import befriend, new_user

pytestmark = pytest.mark.system


def search(base: str, user: dict, **params) -> requests.Response:
    return requests.get(f"{base}/api/search/messages", params=params, headers=user["headers"], timeout=10)


def test_search_through_the_gateway_finds_what_any_instance_stored(start_stack):
    with start_stack(chat_instances=3, postgres=True, redis=True) as stack:
        base = stack.url
        alice, bob, carol = new_user(base, "s_alice"), new_user(base, "s_bob"), new_user(base, "s_carol")
        with_bob, bob_carol = befriend(base, alice, bob), befriend(base, bob, carol)
        word = "zebra" + secrets.token_hex(3)  # a word no other test's messages contain
        # Sent over a socket (one instance) and over REST (the gateway spreads those over all three).
        client = socketio.Client(reconnection=False)
        client.connect(base, transports=["websocket"], auth={"token": bob["token"]}, wait_timeout=10)
        try:
            ack = client.call("send", {"conversation_id": with_bob, "text": f"first {word} over the socket",
                                       "client_id": secrets.token_hex(8)}, timeout=10)
            assert ack["ok"], ack
        finally:
            client.disconnect()
        for text, sender, conversation_id in ((f"then a {word.upper()}!", alice, with_bob),
                                              (f"{word} only bob and carol see", carol, bob_carol)):
            sent = requests.post(f"{base}/api/conversations/{conversation_id}/messages", json={"text": text},
                                 headers=sender["headers"], timeout=10)
            assert sent.status_code == 201, sent.text

        # Every request may land on another instance: each answers the same, from the database.
        for _ in range(6):
            found = search(base, alice, q=word[:-1])
            assert found.status_code == 200, found.text
            body = found.json()
            assert [r["message"]["text"] for r in body["results"]] == [f"then a {word.upper()}!",
                                                                       f"first {word} over the socket"]
            assert body["results"][0]["highlights"] == [[7, 7 + len(word)]]
            assert body["results"][0]["conversation"] == {"id": with_bob, "kind": "direct",
                                                          "title": bob["username"]}
            assert body["next_before"] is None
        first_page = search(base, bob, q=word, limit=1).json()
        assert len(first_page["results"]) == 1 and first_page["next_before"] is not None
        rest = search(base, bob, q=word, before=first_page["next_before"]).json()
        assert len(rest["results"]) == 2 and rest["next_before"] is None

        refused = search(base, alice, q="   ")
        assert refused.status_code == 422 and refused.json()["error"]["code"] == "validation_error"
        hidden = search(base, alice, q=word, conversation_id=bob_carol)
        assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "not_found"
        # Either database's query syntax is only text.
        for q in ("a & !b", "x:* | y", "'); DROP TABLE messages; --", 'NEAR("a" b)'):
            assert search(base, alice, q=q).status_code == 200
