"""Friend requests and friendships over REST."""

from .conftest import ALLOWED_ORIGIN


def test_send_request_to_a_user_chat_has_never_seen_asks_auth(client, auth, fake_auth):
    alice = auth.user("alice")
    bob = auth.user("bob", seen=False)
    response = client.post("/api/friend-requests", json={"username": "BOB"}, headers=alice.headers)
    assert response.status_code == 201
    request = response.get_json()["request"]
    assert request["from"] == alice.payload and request["to"] == bob.payload
    assert request["created_at"].endswith("Z")
    lookups = [r for r in fake_auth.requests if r["path"].startswith("/auth/users/")]
    assert lookups and lookups[-1]["authorization"] == f"Bearer {alice.token}"


def test_incoming_and_outgoing_lists(client, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers)
    client.post("/api/friend-requests", json={"username": "bob"}, headers=carol.headers)
    incoming = client.get("/api/friend-requests?direction=incoming", headers=bob.headers).get_json()["requests"]
    assert {r["from"]["username"] for r in incoming} == {"alice", "carol"}
    outgoing = client.get("/api/friend-requests?direction=outgoing", headers=alice.headers).get_json()["requests"]
    assert [r["to"]["username"] for r in outgoing] == ["bob"]
    assert client.get("/api/friend-requests?direction=outgoing", headers=bob.headers).get_json() == {"requests": []}
    bad = client.get("/api/friend-requests?direction=sideways", headers=bob.headers)
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "validation_error"


def test_request_errors(client, auth, fake_auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    unknown = client.post("/api/friend-requests", json={"username": "nobody"}, headers=alice.headers)
    assert unknown.status_code == 404 and unknown.get_json()["error"]["code"] == "not_found"
    myself = client.post("/api/friend-requests", json={"username": "alice"}, headers=alice.headers)
    assert myself.status_code == 422
    assert client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers).status_code == 201
    again = client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers)
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"
    for body in ({}, {"username": 5}, {"username": ""}, {"username": "x" * 65}, {"username": "a\x00b"}):
        assert client.post("/api/friend-requests", json=body, headers=alice.headers).status_code == 422, body
    not_json = client.post("/api/friend-requests", data="username=bob", headers=alice.headers,
                           content_type="application/x-www-form-urlencoded")
    assert not_json.status_code == 400 and not_json.get_json()["error"]["code"] == "bad_request"
    broken = client.post("/api/friend-requests", data="{", headers=alice.headers, content_type="application/json")
    assert broken.status_code == 400


def test_already_friends_is_a_conflict(client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    auth.befriend(alice, bob)
    for sender, target in ((alice, "bob"), (bob, "alice")):
        response = client.post("/api/friend-requests", json={"username": target}, headers=sender.headers)
        assert response.status_code == 409


def test_asking_someone_who_already_asked_you_accepts_theirs(client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers)
    response = client.post("/api/friend-requests", json={"username": "alice"}, headers=bob.headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["friend"] == alice.payload and isinstance(body["conversation_id"], int)
    friends = client.get("/api/friends", headers=alice.headers).get_json()["friends"]
    assert [f["username"] for f in friends] == ["bob"]
    assert client.get("/api/friend-requests", headers=bob.headers).get_json() == {"requests": []}


def test_accept_creates_the_direct_conversation(client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    request_id = client.post("/api/friend-requests", json={"username": "bob"},
                             headers=alice.headers).get_json()["request"]["id"]
    response = client.post(f"/api/friend-requests/{request_id}/accept", headers=bob.headers)
    assert response.status_code == 200
    body = response.get_json()
    assert body["friend"] == alice.payload
    conversation = client.get(f"/api/conversations/{body['conversation_id']}", headers=alice.headers).get_json()
    assert conversation["conversation"]["kind"] == "direct"
    assert [m["username"] for m in conversation["conversation"]["members"]] == ["alice", "bob"]
    again = client.post(f"/api/friend-requests/{request_id}/accept", headers=bob.headers)
    assert again.status_code == 404


def test_only_the_recipient_answers(client, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    request_id = client.post("/api/friend-requests", json={"username": "bob"},
                             headers=alice.headers).get_json()["request"]["id"]
    for user in (alice, carol):
        for action in ("accept", "decline"):
            response = client.post(f"/api/friend-requests/{request_id}/{action}", headers=user.headers)
            assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert client.post("/api/friend-requests/999999/accept", headers=bob.headers).status_code == 404
    assert client.post("/api/friend-requests/99999999999999999999/accept", headers=bob.headers).status_code == 404
    assert client.get("/api/friends", headers=bob.headers).get_json() == {"friends": []}


def test_decline(client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    request_id = client.post("/api/friend-requests", json={"username": "bob"},
                             headers=alice.headers).get_json()["request"]["id"]
    assert client.post(f"/api/friend-requests/{request_id}/decline", headers=bob.headers).status_code == 204
    assert client.post(f"/api/friend-requests/{request_id}/decline", headers=bob.headers).status_code == 404
    assert client.post(f"/api/friend-requests/{request_id}/accept", headers=bob.headers).status_code == 404
    assert client.get("/api/friends", headers=bob.headers).get_json() == {"friends": []}
    # Declined is not final: alice may ask again.
    assert client.post("/api/friend-requests", json={"username": "bob"}, headers=alice.headers).status_code == 201


def test_friends_list_carries_online_flag(client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    auth.befriend(alice, bob)
    friends = client.get("/api/friends", headers=alice.headers).get_json()["friends"]
    assert friends == [{**bob.payload, "online": False}]


def test_remove_friend_keeps_history_but_stops_sending(client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    conversation_id = auth.befriend(alice, bob)
    auth.send(alice, conversation_id, "before")
    assert client.delete("/api/friends/BOB", headers=alice.headers).status_code == 204
    assert client.get("/api/friends", headers=bob.headers).get_json() == {"friends": []}
    history = client.get(f"/api/conversations/{conversation_id}/messages", headers=bob.headers).get_json()
    assert [m["text"] for m in history["messages"]] == ["before"]
    for user in (alice, bob):
        response = client.post(f"/api/conversations/{conversation_id}/messages", json={"text": "after"},
                               headers=user.headers)
        assert response.status_code == 403 and response.get_json()["error"]["code"] == "forbidden"
    assert client.delete("/api/friends/bob", headers=alice.headers).status_code == 404
    assert client.delete("/api/friends/nobody", headers=alice.headers).status_code == 404
    direct = client.post("/api/conversations/direct", json={"username": "bob"}, headers=alice.headers)
    assert direct.status_code == 403
    # Friends again: the same conversation, writable again.
    assert auth.befriend(bob, alice) == conversation_id
    auth.send(bob, conversation_id, "again")


def test_requests_need_authentication(client, auth):
    assert client.get("/api/friends").status_code == 401
    assert client.get("/api/friends", headers={"Authorization": "Bearer nonsense"}).status_code == 401
    response = client.post("/api/friend-requests", json={"username": "bob"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "unauthorized"


def test_cookie_requests_must_come_from_an_allowed_origin(client, auth):
    alice, _ = auth.user("alice"), auth.user("bob")
    client.set_cookie("access_token", alice.token)
    assert client.get("/api/friends").status_code == 200
    refused = client.post("/api/friend-requests", json={"username": "bob"}, headers={"Origin": "http://evil.example"})
    assert refused.status_code == 403
    assert client.post("/api/friend-requests", json={"username": "bob"}).status_code == 403
    allowed = client.post("/api/friend-requests", json={"username": "bob"}, headers={"Origin": ALLOWED_ORIGIN})
    assert allowed.status_code == 201
