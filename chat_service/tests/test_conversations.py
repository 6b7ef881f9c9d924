"""Conversations over REST: direct, groups, the list (and its query count)."""

from sqlalchemy import event

from chat_service.state import EXTENSION


def test_direct_get_or_create(client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    conversation_id = auth.befriend(alice, bob)
    for user, other in ((alice, "bob"), (bob, "ALICE")):
        response = client.post("/api/conversations/direct", json={"username": other}, headers=user.headers)
        assert response.status_code == 200
        assert response.get_json()["conversation"]["id"] == conversation_id


def test_direct_errors(client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    stranger = client.post("/api/conversations/direct", json={"username": "bob"}, headers=alice.headers)
    assert stranger.status_code == 403
    unknown = client.post("/api/conversations/direct", json={"username": "ghost"}, headers=alice.headers)
    assert unknown.status_code == 404
    myself = client.post("/api/conversations/direct", json={"username": "alice"}, headers=alice.headers)
    assert myself.status_code == 422
    assert client.post("/api/conversations/direct", json={}, headers=alice.headers).status_code == 422
    assert client.get("/api/conversations", headers=bob.headers).get_json() == {"conversations": []}


def test_create_group(client, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    auth.befriend(alice, bob)
    auth.befriend(alice, carol)
    response = client.post("/api/conversations", json={"title": "  Trip  ", "members": ["bob", "Carol", "alice"]},
                           headers=alice.headers)
    assert response.status_code == 201
    conversation = response.get_json()["conversation"]
    assert conversation["kind"] == "group" and conversation["title"] == "Trip"
    assert [m["username"] for m in conversation["members"]] == ["alice", "bob", "carol"]
    assert conversation["last_message"] is None and conversation["unread_count"] == 0
    # Bob and carol are not friends with each other: members need only be the creator's friends.
    shown = client.get(f"/api/conversations/{conversation['id']}", headers=carol.headers).get_json()["conversation"]
    assert shown["id"] == conversation["id"] and shown["title"] == "Trip"
    auth.send(carol, conversation["id"], "hi all")


def test_group_validation(client, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    auth.befriend(alice, bob)
    bad_bodies = [
        {"title": "", "members": ["bob"]},
        {"title": "   ", "members": ["bob"]},
        {"title": "x" * 101, "members": ["bob"]},
        {"title": 7, "members": ["bob"]},
        {"title": "ok", "members": []},
        {"title": "ok", "members": "bob"},
        {"title": "ok", "members": [1]},
        {"title": "ok", "members": ["alice"]},
        {"title": "ok", "members": ["bob", "carol"]},  # carol is not alice's friend
        {"title": "ok", "members": ["bob", "ghost"]},
        {"title": "ok"},
    ]
    for body in bad_bodies:
        response = client.post("/api/conversations", json=body, headers=alice.headers)
        assert response.status_code == 422, body
        assert response.get_json()["error"]["code"] == "validation_error"
    assert client.post("/api/conversations", json={"title": "x" * 100, "members": ["bob"]},
                       headers=alice.headers).status_code == 201
    # Nothing half-written: exactly the one valid group plus the direct conversation.
    assert len(client.get("/api/conversations", headers=alice.headers).get_json()["conversations"]) == 2


def test_not_a_member_is_not_found(client, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    conversation_id = auth.befriend(alice, bob)
    for path in (f"/api/conversations/{conversation_id}", f"/api/conversations/{conversation_id}/messages",
                 "/api/conversations/424242", "/api/conversations/424242/messages"):
        response = client.get(path, headers=carol.headers)
        assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"
    response = client.post(f"/api/conversations/{conversation_id}/messages", json={"text": "hi"},
                           headers=carol.headers)
    assert response.status_code == 404
    response = client.post(f"/api/conversations/{conversation_id}/read", json={"message_id": 1},
                           headers=carol.headers)
    assert response.status_code == 404


def test_list_is_newest_activity_first_with_last_message_and_unread(client, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    with_bob = auth.befriend(alice, bob)
    with_carol = auth.befriend(alice, carol)
    auth.send(bob, with_bob, "one")
    auth.send(bob, with_bob, "two")
    auth.send(carol, with_carol, "three")
    listed = client.get("/api/conversations", headers=alice.headers).get_json()["conversations"]
    assert [c["id"] for c in listed] == [with_carol, with_bob]
    assert listed[0]["last_message"]["text"] == "three" and listed[0]["unread_count"] == 1
    assert listed[1]["last_message"]["text"] == "two" and listed[1]["unread_count"] == 2
    auth.send(alice, with_bob, "mine")
    listed = client.get("/api/conversations", headers=alice.headers).get_json()["conversations"]
    assert [c["id"] for c in listed] == [with_bob, with_carol]
    assert listed[0]["last_message"]["text"] == "mine"
    assert listed[0]["unread_count"] == 0  # sending marks what I replied to as read
    assert listed[1]["unread_count"] == 1
    bob_view = client.get("/api/conversations", headers=bob.headers).get_json()["conversations"]
    assert bob_view[0]["unread_count"] == 1


def test_system_lines_are_not_unread(client, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    auth.befriend(alice, bob)
    auth.befriend(alice, carol)
    group = client.post("/api/conversations", json={"title": "Trip", "members": ["bob"]},
                        headers=alice.headers).get_json()["conversation"]["id"]
    assert client.patch(f"/api/conversations/{group}", json={"title": "Ski trip"}, headers=alice.headers).status_code == 200
    assert client.post(f"/api/conversations/{group}/members", json={"members": ["carol"]},
                       headers=alice.headers).status_code == 200
    listed = client.get("/api/conversations", headers=bob.headers).get_json()["conversations"]
    assert listed[0]["last_message"]["kind"] == "system" and listed[0]["unread_count"] == 0
    auth.send(alice, group, "hello")
    listed = client.get("/api/conversations", headers=bob.headers).get_json()["conversations"]
    assert listed[0]["unread_count"] == 1


def test_listing_many_conversations_takes_a_constant_number_of_queries(app, client, auth):
    alice = auth.user("alice")
    friends = [auth.user(f"friend{i:02d}") for i in range(12)]
    for friend in friends:
        conversation_id = auth.befriend(alice, friend)
        auth.send(friend, conversation_id, "hi")
    engine = app.extensions[EXTENSION].database.engine
    statements: list[str] = []

    def count(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    def list_queries() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            response = client.get("/api/conversations", headers=alice.headers)
        finally:
            event.remove(engine, "before_cursor_execute", count)
        assert response.status_code == 200
        return len([s for s in statements if s.lstrip().upper().startswith("SELECT")]), response.get_json()

    few, body = list_queries()
    assert len(body["conversations"]) == 12
    for friend in friends:
        group = client.post("/api/conversations", json={"title": f"g {friend.username}",
                                                        "members": [friend.username]}, headers=alice.headers)
        auth.send(friend, group.get_json()["conversation"]["id"], "in group")
    many, body = list_queries()
    assert len(body["conversations"]) == 24
    assert all(c["unread_count"] == 1 and c["last_message"] for c in body["conversations"])
    # conversations, members, last messages, their reactions, unread counts, unread mentions
    assert many == few <= 6


def test_every_members_read_marker_comes_with_the_conversation(client, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    auth.befriend(alice, bob)
    auth.befriend(alice, carol)
    group = client.post("/api/conversations", json={"title": "Trip", "members": ["bob", "carol"]},
                        headers=alice.headers).get_json()["conversation"]
    assert group["read_markers"] == [{"user_id": u.id, "last_read_message_id": 0} for u in (alice, bob, carol)]
    first = auth.send(alice, group["id"], "one")["id"]
    read = client.post(f"/api/conversations/{group['id']}/read", json={"message_id": first}, headers=bob.headers)
    assert read.status_code == 204
    # What alice needs after a reload to say "Seen by bob": everyone's marker, not only hers.
    seen = client.get(f"/api/conversations/{group['id']}", headers=alice.headers).get_json()["conversation"]
    assert seen["read_markers"] == [{"user_id": alice.id, "last_read_message_id": first},
                                    {"user_id": bob.id, "last_read_message_id": first},
                                    {"user_id": carol.id, "last_read_message_id": 0}]
    listed = client.get("/api/conversations", headers=carol.headers).get_json()["conversations"]
    assert listed[0]["read_markers"] == seen["read_markers"]


def test_mute_is_per_member_and_comes_with_the_conversation(client, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    auth.befriend(alice, bob)
    auth.befriend(alice, carol)
    group = client.post("/api/conversations", json={"title": "Trip", "members": ["bob", "carol"]},
                        headers=alice.headers).get_json()["conversation"]
    assert group["muted"] is False
    url = f"/api/conversations/{group['id']}/mute"

    muted = client.put(url, headers=bob.headers)
    assert muted.status_code == 200 and muted.get_json()["conversation"]["muted"] is True
    assert client.put(url, headers=bob.headers).get_json()["conversation"]["muted"] is True  # idempotent
    listed = {c["id"]: c for c in client.get("/api/conversations", headers=bob.headers).get_json()["conversations"]}
    assert listed[group["id"]]["muted"] is True
    # Only bob muted it.
    for other in (alice, carol):
        shown = client.get(f"/api/conversations/{group['id']}", headers=other.headers).get_json()["conversation"]
        assert shown["muted"] is False

    unmuted = client.delete(url, headers=bob.headers)
    assert unmuted.status_code == 200 and unmuted.get_json()["conversation"]["muted"] is False
    shown = client.get(f"/api/conversations/{group['id']}", headers=bob.headers).get_json()["conversation"]
    assert shown["muted"] is False


def test_unread_mentions_count_the_unread_messages_of_a_group_that_mention_me(client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    direct = auth.befriend(alice, bob)
    group = client.post("/api/conversations", json={"title": "Trip", "members": ["bob"]},
                        headers=alice.headers).get_json()["conversation"]["id"]
    for text in ("@Bob. bring the tent", "mail bob@example.com", "@bobby hi", "no one", "@bob-"):
        auth.send(alice, group, text)
    auth.send(alice, direct, "@bob in a direct chat")
    listed = {c["id"]: c for c in client.get("/api/conversations", headers=bob.headers).get_json()["conversations"]}
    assert (listed[group]["unread_count"], listed[group]["unread_mentions"]) == (5, 2)
    assert listed[direct]["unread_mentions"] == 0
    last = client.get(f"/api/conversations/{group}", headers=bob.headers).get_json()["conversation"]["last_message"]
    assert client.post(f"/api/conversations/{group}/read", json={"message_id": last["id"]},
                       headers=bob.headers).status_code == 204
    shown = client.get(f"/api/conversations/{group}", headers=bob.headers).get_json()["conversation"]
    assert shown["unread_mentions"] == 0


def test_mute_needs_membership(client, auth):
    alice, bob, dave = auth.user("alice"), auth.user("bob"), auth.user("dave")
    conversation_id = auth.befriend(alice, bob)
    assert client.put(f"/api/conversations/{conversation_id}/mute", headers=dave.headers).status_code == 404
    assert client.delete(f"/api/conversations/{conversation_id}/mute", headers=dave.headers).status_code == 404
    assert client.put("/api/conversations/999999/mute", headers=alice.headers).status_code == 404
    assert client.put(f"/api/conversations/{conversation_id}/mute").status_code == 401
