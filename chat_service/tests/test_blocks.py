"""Blocking users and cancelling sent friend requests."""

from .test_socket import connect, events  # noqa: F401  (the fixture)


def requests_of(client, user, direction):
    response = client.get(f"/api/friend-requests?direction={direction}", headers=user.headers)
    assert response.status_code == 200
    return response.get_json()["requests"]


def test_cancel_a_sent_request_tells_the_recipient(client, auth, connect):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    sent = client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers).get_json()["request"]
    bob_socket = connect(bob)
    events(bob_socket)
    assert client.delete(f"/api/friend-requests/{sent['id']}", headers=bob.headers).status_code == 403
    assert client.delete(f"/api/friend-requests/{sent['id']}", headers=carol.headers).status_code == 403
    assert client.delete(f"/api/friend-requests/{sent['id']}", headers=alice.headers).status_code == 204
    assert events(bob_socket) == [("friend_request_cancelled", {"id": sent["id"]})]
    assert requests_of(client, bob, "incoming") == [] and requests_of(client, alice, "outgoing") == []
    assert client.delete(f"/api/friend-requests/{sent['id']}", headers=alice.headers).status_code == 404
    assert client.post(f"/api/friend-requests/{sent['id']}/accept", headers=bob.headers).status_code == 404


def test_block_list_and_unblock(client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    assert client.post("/api/blocks", json={"username": "ghost"}, headers=alice.headers).status_code == 404
    assert client.post("/api/blocks", json={"username": "alice"}, headers=alice.headers).status_code == 422
    assert client.post("/api/blocks", json={}, headers=alice.headers).status_code == 422
    first = client.post("/api/blocks", json={"username": "bob"}, headers=alice.headers)
    assert first.status_code == 201 and first.get_json()["block"]["user"]["username"] == "bob"
    assert client.post("/api/blocks", json={"username": "BOB"}, headers=alice.headers).status_code == 200
    listed = client.get("/api/blocks", headers=alice.headers).get_json()["blocks"]
    assert [b["user"]["username"] for b in listed] == ["bob"]
    assert client.get("/api/blocks", headers=bob.headers).get_json()["blocks"] == []
    assert client.delete("/api/blocks/bob", headers=bob.headers).status_code == 404
    assert client.delete("/api/blocks/nobody", headers=alice.headers).status_code == 404
    assert client.delete("/api/blocks/bob", headers=alice.headers).status_code == 204
    assert client.get("/api/blocks", headers=alice.headers).get_json()["blocks"] == []


def test_blocking_unfriends_and_makes_the_direct_chat_read_only_for_both(client, auth, connect):
    alice, bob = auth.user("alice"), auth.user("bob")
    direct = auth.befriend(alice, bob)
    bob_socket = connect(bob)
    events(bob_socket)
    client.post("/api/blocks", json={"username": "bob"}, headers=alice.headers)
    # All bob hears is what an unfriend tells him.
    assert [name for name, _ in events(bob_socket)] == ["friend_removed"]
    for user in (alice, bob):
        refused = client.post(f"/api/conversations/{direct}/messages", json={"text": "hi"}, headers=user.headers)
        assert refused.status_code == 403
        assert "no longer friends" in refused.get_json()["error"]["message"]
    assert bob_socket.emit("typing", {"conversation_id": direct}, callback=True)["error"]["code"] == "forbidden"
    mine = client.get(f"/api/conversations/{direct}", headers=alice.headers).get_json()["conversation"]
    theirs = client.get(f"/api/conversations/{direct}", headers=bob.headers).get_json()["conversation"]
    assert mine["read_only"] and mine["blocked"]
    assert theirs["read_only"] and not theirs["blocked"]
    assert client.get("/api/friends", headers=bob.headers).get_json()["friends"] == []
    # Unblocking does not make them friends again.
    client.delete("/api/blocks/bob", headers=alice.headers)
    assert client.post(f"/api/conversations/{direct}/messages", json={"text": "hi"},
                       headers=alice.headers).status_code == 403


def test_a_blocked_users_requests_never_reach_the_blocker(client, auth, connect):
    alice, bob = auth.user("alice"), auth.user("bob")
    client.post("/api/friend-requests", json={"username": "alice"}, headers=bob.headers)
    client.post("/api/blocks", json={"username": "bob"}, headers=alice.headers)
    # The pending request is gone, as if declined.
    assert requests_of(client, alice, "incoming") == [] and requests_of(client, bob, "outgoing") == []
    alice_socket = connect(alice)
    events(alice_socket)
    again = client.post("/api/friend-requests", json={"username": "alice"}, headers=bob.headers)
    # To bob it looks like any request: stored and pending.
    assert again.status_code == 201
    assert [r["to"]["username"] for r in requests_of(client, bob, "outgoing")] == ["alice"]
    assert events(alice_socket) == []
    assert requests_of(client, alice, "incoming") == []
    hidden = again.get_json()["request"]["id"]
    assert client.post(f"/api/friend-requests/{hidden}/accept", headers=alice.headers).status_code == 404
    # The blocker must unblock before asking.
    refused = client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers)
    assert refused.status_code == 409
    assert client.post("/api/conversations/direct", json={"username": "alice"}, headers=bob.headers).status_code == 403


def test_unblocking_delivers_the_requests_sent_during_the_block(client, auth, connect):
    """docs/api.md: a blocked user's requests 'stay pending for them ... you see them only if you unblock'."""
    alice, bob = auth.user("alice"), auth.user("bob")
    client.post("/api/blocks", json={"username": "bob"}, headers=alice.headers)
    sent = client.post("/api/friend-requests", json={"username": "alice"}, headers=bob.headers)
    assert sent.status_code == 201
    hidden = sent.get_json()["request"]
    alice_socket = connect(alice)
    events(alice_socket)
    assert client.delete("/api/blocks/bob", headers=alice.headers).status_code == 204
    # Her open pages hear of it at once, as of a request just sent; it is listed and can be answered.
    assert [(name, data.get("id")) for name, data in events(alice_socket)] == [("block", None),
                                                                               ("friend_request", hidden["id"])]
    assert [(r["id"], r["from"]["username"]) for r in requests_of(client, alice, "incoming")] == [(hidden["id"], "bob")]
    assert [r["id"] for r in requests_of(client, bob, "outgoing")] == [hidden["id"]]
    accepted = client.post(f"/api/friend-requests/{hidden['id']}/accept", headers=alice.headers)
    assert accepted.status_code == 200
    assert [f["username"] for f in client.get("/api/friends", headers=bob.headers).get_json()["friends"]] == ["alice"]


def test_blocking_cancels_my_pending_request(client, auth, connect):
    alice, bob = auth.user("alice"), auth.user("bob")
    sent = client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers).get_json()["request"]
    bob_socket = connect(bob)
    events(bob_socket)
    client.post("/api/blocks", json={"username": "bob"}, headers=alice.headers)
    assert events(bob_socket) == [("friend_request_cancelled", {"id": sent["id"]})]
    assert requests_of(client, bob, "incoming") == []


def test_blocked_users_do_not_see_my_presence_or_typing(client, auth, connect):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    auth.befriend(alice, bob)
    auth.befriend(alice, carol)
    group = client.post("/api/conversations", json={"title": "Three", "members": ["bob", "carol"]},
                        headers=alice.headers).get_json()["conversation"]["id"]
    client.post("/api/blocks", json={"username": "bob"}, headers=alice.headers)
    bob_socket, carol_socket = connect(bob), connect(carol)
    events(bob_socket), events(carol_socket)
    alice_socket = connect(alice)
    assert alice_socket.emit("typing", {"conversation_id": group}, callback=True) == {"ok": True}
    assert [name for name, _ in events(carol_socket)] == ["presence", "typing"]
    # bob: no presence (no longer a friend), no typing.
    assert events(bob_socket) == []
    # Nor does alice see bob's typing.
    events(alice_socket)
    assert bob_socket.emit("typing", {"conversation_id": group}, callback=True) == {"ok": True}
    assert [name for name, _ in events(carol_socket)] == ["typing"]
    assert events(alice_socket) == []
