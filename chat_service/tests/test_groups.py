"""Changing groups over REST and what each member hears of it on their sockets."""

import pytest

from .test_socket import connect, events  # noqa: F401  (the fixture)


@pytest.fixture
def group(client, auth):
    """alice (admin) with bob and carol in "Trip"; dave is a friend of alice, outside it."""
    alice, bob, carol, dave = (auth.user(n) for n in ("alice", "bob", "carol", "dave"))
    for friend in (bob, carol, dave):
        auth.befriend(alice, friend)
    response = client.post("/api/conversations", json={"title": "Trip", "members": ["bob", "carol"]},
                           headers=alice.headers)
    assert response.status_code == 201
    return response.get_json()["conversation"]["id"], alice, bob, carol, dave


def view(client, user, conversation_id):
    response = client.get(f"/api/conversations/{conversation_id}", headers=user.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["conversation"]


def texts(client, user, conversation_id, query=""):
    response = client.get(f"/api/conversations/{conversation_id}/messages{query}", headers=user.headers)
    assert response.status_code == 200, response.get_json()
    return [m["text"] for m in response.get_json()["messages"]]


def roles(conversation):
    return {m["username"]: m["role"] for m in conversation["members"]}


def test_creator_is_the_first_admin(client, group):
    gid, alice, bob, _, _ = group
    assert roles(view(client, bob, gid)) == {"alice": "admin", "bob": "member", "carol": "member"}
    assert view(client, bob, gid)["membership"] == "member" and not view(client, bob, gid)["read_only"]


def test_rename_writes_a_system_line_seen_live_and_in_history(client, group, connect):
    gid, alice, bob, _, _ = group
    bob_socket = connect(bob)
    events(bob_socket)
    response = client.patch(f"/api/conversations/{gid}", json={"title": "  Ski trip "}, headers=bob.headers)
    assert response.status_code == 200
    assert response.get_json()["conversation"]["title"] == "Ski trip"
    line = client.get(f"/api/conversations/{gid}/messages", headers=alice.headers).get_json()["messages"][-1]
    assert line["kind"] == "system" and line["text"] == "bob renamed the group to “Ski trip”"
    assert line["data"] == {"action": "renamed", "title": "Ski trip", "previous_title": "Trip"}
    received = dict(events(bob_socket))
    assert received["message"]["id"] == line["id"]
    assert received["conversation_updated"]["title"] == "Ski trip"
    assert view(client, alice, gid)["last_message"]["id"] == line["id"]


def test_rename_errors(client, group, auth):
    gid, alice, bob, _, _ = group
    stranger = auth.user("stranger")
    direct = auth.befriend(bob, stranger)
    assert client.patch(f"/api/conversations/{gid}", json={"title": " "}, headers=bob.headers).status_code == 422
    assert client.patch(f"/api/conversations/{gid}", json={"title": "x" * 101},
                        headers=bob.headers).status_code == 422
    assert client.patch(f"/api/conversations/{gid}", json={"title": "Mine"},
                        headers=stranger.headers).status_code == 404
    response = client.patch(f"/api/conversations/{direct}", json={"title": "Us"}, headers=bob.headers)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"
    assert view(client, alice, gid)["title"] == "Trip"
    assert texts(client, alice, gid) == []


def test_add_members_only_friends_of_the_adder(client, group, auth, connect):
    gid, alice, bob, carol, dave = group
    dave_socket = connect(dave)
    events(dave_socket)
    # dave is alice's friend, not bob's.
    refused = client.post(f"/api/conversations/{gid}/members", json={"members": ["dave"]}, headers=bob.headers)
    assert refused.status_code == 422 and "dave" in refused.get_json()["error"]["message"]
    again = client.post(f"/api/conversations/{gid}/members", json={"members": ["carol"]}, headers=alice.headers)
    assert again.status_code == 409
    assert client.post(f"/api/conversations/{gid}/members", json={"members": "dave"},
                       headers=alice.headers).status_code == 422
    added = client.post(f"/api/conversations/{gid}/members", json={"members": ["dave"]}, headers=alice.headers)
    assert added.status_code == 200
    assert roles(added.get_json()["conversation"])["dave"] == "member"
    assert texts(client, dave, gid) == ["alice added dave"]
    received = events(dave_socket)
    names = [name for name, _ in received]
    assert "conversation" in names and "message" in names
    assert auth.send(dave, gid, "hi all")["text"] == "hi all"


def test_only_admins_remove_and_the_removed_keep_history_read_only(client, group, auth, connect):
    gid, alice, bob, carol, _ = group
    auth.send(carol, gid, "before")
    forbidden = client.delete(f"/api/conversations/{gid}/members/carol", headers=bob.headers)
    assert forbidden.status_code == 403 and forbidden.get_json()["error"]["code"] == "forbidden"
    assert client.delete(f"/api/conversations/{gid}/members/nobody", headers=alice.headers).status_code == 404
    carol_socket = connect(carol)
    bob_socket = connect(bob)
    events(carol_socket), events(bob_socket)

    assert client.delete(f"/api/conversations/{gid}/members/carol", headers=alice.headers).status_code == 204
    received = events(carol_socket)
    assert [p["text"] for n, p in received if n == "message"] == ["alice removed carol"]
    update = [p for n, p in received if n == "conversation_updated"][-1]
    assert update["membership"] == "removed" and update["read_only"] and update["members"] == []

    # Nothing after the removal reaches carol: messages, renames, typing, read markers.
    events(bob_socket)
    auth.send(bob, gid, "after")
    client.patch(f"/api/conversations/{gid}", json={"title": "Secret"}, headers=alice.headers)
    assert bob_socket.emit("typing", {"conversation_id": gid}, callback=True) == {"ok": True}
    last = client.get(f"/api/conversations/{gid}/messages", headers=bob.headers).get_json()["messages"][-1]
    assert bob_socket.emit("read", {"conversation_id": gid, "message_id": last["id"]}, callback=True)["ok"]
    assert events(carol_socket) == []

    assert texts(client, carol, gid) == ["before", "alice removed carol"]
    removal_id = view(client, carol, gid)["last_message"]["id"]
    assert texts(client, carol, gid, f"?after={removal_id}") == []
    mine = view(client, carol, gid)
    assert mine["title"] == "Trip" and mine["members"] == [] and mine["read_markers"] == []
    assert mine["membership"] == "removed" and mine["read_only"]
    listed = client.get("/api/conversations", headers=carol.headers).get_json()["conversations"]
    assert [c["last_message"]["text"] for c in listed if c["id"] == gid] == ["alice removed carol"]
    refused = client.post(f"/api/conversations/{gid}/messages", json={"text": "let me in"}, headers=carol.headers)
    assert refused.status_code == 403
    assert carol_socket.emit("typing", {"conversation_id": gid}, callback=True)["error"]["code"] == "forbidden"
    assert carol_socket.emit("read", {"conversation_id": gid, "message_id": last["id"]},
                             callback=True)["error"]["code"] == "not_found"
    assert carol_socket.emit("read", {"conversation_id": gid, "message_id": removal_id}, callback=True)["ok"]
    assert client.patch(f"/api/conversations/{gid}", json={"title": "Back"},
                        headers=carol.headers).status_code == 403
    assert "carol" not in roles(view(client, bob, gid))


def test_admins_make_admins(client, group):
    gid, alice, bob, carol, _ = group
    assert client.post(f"/api/conversations/{gid}/admins", json={"username": "carol"},
                       headers=bob.headers).status_code == 403
    assert client.post(f"/api/conversations/{gid}/admins", json={"username": "ghost"},
                       headers=alice.headers).status_code == 404
    assert client.post(f"/api/conversations/{gid}/admins", json={"username": 7},
                       headers=alice.headers).status_code == 422
    made = client.post(f"/api/conversations/{gid}/admins", json={"username": "bob"}, headers=alice.headers)
    assert made.status_code == 200 and roles(made.get_json()["conversation"])["bob"] == "admin"
    assert texts(client, carol, gid) == ["alice made bob an admin"]
    assert client.delete(f"/api/conversations/{gid}/members/carol", headers=bob.headers).status_code == 204


def test_last_admin_leaving_hands_admin_to_the_longest_standing_member(client, group, auth):
    gid, alice, bob, carol, dave = group
    client.post(f"/api/conversations/{gid}/members", json={"members": ["dave"]}, headers=alice.headers)
    assert client.post(f"/api/conversations/{gid}/leave", headers=alice.headers).status_code == 204
    after = view(client, bob, gid)
    # bob and carol joined together with the group; the earlier id breaks the tie.
    heir = "bob" if bob.id < carol.id else "carol"
    assert roles(after) == {"bob": "member", "carol": "member", "dave": "member", heir: "admin"}
    assert texts(client, bob, gid)[-1] == f"alice left; {heir} is now an admin"
    assert view(client, alice, gid)["membership"] == "left"
    assert client.post(f"/api/conversations/{gid}/leave", headers=alice.headers).status_code == 403
    # Removing oneself is leaving too.
    assert client.delete(f"/api/conversations/{gid}/members/dave", headers=dave.headers).status_code == 204
    assert texts(client, bob, gid)[-1] == "dave left"


def test_a_removed_member_added_again_reads_on(client, group, auth):
    gid, alice, bob, carol, _ = group
    client.delete(f"/api/conversations/{gid}/members/carol", headers=alice.headers)
    auth.send(bob, gid, "while away")
    back = client.post(f"/api/conversations/{gid}/members", json={"members": ["carol"]}, headers=alice.headers)
    assert back.status_code == 200
    assert view(client, carol, gid)["membership"] == "member"
    assert auth.send(carol, gid, "back")["text"] == "back"
    assert texts(client, carol, gid)[-2:] == ["alice added carol", "back"]


def test_group_changes_on_a_direct_chat_conflict(client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    direct = auth.befriend(alice, bob)
    assert client.post(f"/api/conversations/{direct}/leave", headers=alice.headers).status_code == 409
    assert client.post(f"/api/conversations/{direct}/members", json={"members": ["bob"]},
                       headers=alice.headers).status_code == 409
    assert client.delete(f"/api/conversations/{direct}/members/bob", headers=alice.headers).status_code == 409
    assert client.post("/api/conversations/999/leave", headers=alice.headers).status_code == 404


def test_a_removed_member_downloads_what_was_sent_before_and_nothing_after(client, group, auth):
    from .test_attachments import upload

    gid, alice, bob, carol, _ = group
    before = upload(client, alice, b"before").get_json()["attachment"]
    auth.send(alice, gid, "file", attachment_ids=[before["id"]])
    client.delete(f"/api/conversations/{gid}/members/carol", headers=alice.headers)
    after = upload(client, alice, b"after").get_json()["attachment"]
    auth.send(alice, gid, "another", attachment_ids=[after["id"]])
    assert client.get(before["url"], headers=carol.headers).status_code == 200
    refused = client.get(after["url"], headers=carol.headers)
    assert refused.status_code == 404 and refused.get_json()["error"]["code"] == "not_found"
    assert client.get(after["url"], headers=bob.headers).status_code == 200


def test_a_system_line_cannot_be_edited_or_deleted_by_whoever_made_the_change(client, group):
    gid, alice, bob, _, _ = group
    assert client.patch(f"/api/conversations/{gid}", json={"title": "Ski trip"}, headers=bob.headers).status_code == 200
    line = client.get(f"/api/conversations/{gid}/messages", headers=bob.headers).get_json()["messages"][-1]
    assert line["kind"] == "system" and line["sender"]["username"] == "bob"
    edited = client.patch(f"/api/messages/{line['id']}", json={"text": "bob did nothing"}, headers=bob.headers)
    deleted = client.delete(f"/api/messages/{line['id']}", headers=bob.headers)
    assert (edited.status_code, deleted.status_code) == (409, 409), (edited.get_json(), deleted.get_json())
    assert texts(client, alice, gid)[-1] == "bob renamed the group to “Ski trip”"
