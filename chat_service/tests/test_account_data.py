"""GET /api/me/data: what chat holds of the caller, for them to download."""


def test_my_data_has_my_friends_conversations_and_only_my_messages(client, auth):
    alice, bob, carol = auth.user("alice"), auth.user("bob"), auth.user("carol")
    direct = auth.befriend(alice, bob)
    auth.befriend(alice, carol)
    group = client.post("/api/conversations", json={"title": "Trip", "members": ["bob", "carol"]},
                        headers=alice.headers).get_json()["conversation"]["id"]
    mine = [auth.send(alice, direct, "hi bob"), auth.send(alice, group, "hi all")]
    auth.send(bob, direct, "bob's own words")

    response = client.get("/api/me/data", headers=alice.headers)
    assert response.status_code == 200
    data = response.get_json()
    assert [f["username"] for f in data["friends"]] == ["bob", "carol"]
    assert {c["id"] for c in data["conversations"]} >= {direct, group}
    assert [(m["id"], m["text"]) for m in data["messages"]] == [(m["id"], m["text"]) for m in mine]
    assert all(m["sender"] == alice.payload for m in data["messages"])
    assert "bob's own words" not in response.get_data(as_text=True)


def test_my_data_needs_a_login(client):
    assert client.get("/api/me/data").status_code == 401
