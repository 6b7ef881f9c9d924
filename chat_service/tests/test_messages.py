"""Messages over REST: sending, idempotency, paging, read markers."""

import pytest


@pytest.fixture
def pair(auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    return alice, bob, auth.befriend(alice, bob)


def test_send_returns_the_stored_message(client, pair):
    alice, bob, conversation_id = pair
    response = client.post(f"/api/conversations/{conversation_id}/messages",
                           json={"text": "  hello  ", "client_id": "c-1"}, headers=alice.headers)
    assert response.status_code == 201
    message = response.get_json()["message"]
    assert message["text"] == "  hello  " and message["client_id"] == "c-1"
    assert message["sender"] == alice.payload and message["conversation_id"] == conversation_id
    assert message["created_at"].endswith("Z")
    history = client.get(f"/api/conversations/{conversation_id}/messages", headers=bob.headers).get_json()
    assert history == {"messages": [message], "has_more": False}


def test_resend_with_same_client_id_returns_the_original(client, pair):
    alice, bob, conversation_id = pair
    url = f"/api/conversations/{conversation_id}/messages"
    first = client.post(url, json={"text": "once", "client_id": "abc"}, headers=alice.headers)
    again = client.post(url, json={"text": "once", "client_id": "abc"}, headers=alice.headers)
    assert first.status_code == 201 and again.status_code == 200
    assert again.get_json() == first.get_json()
    # The same client_id is bob's own to use.
    assert client.post(url, json={"text": "mine", "client_id": "abc"}, headers=bob.headers).status_code == 201
    texts = [m["text"] for m in client.get(url, headers=bob.headers).get_json()["messages"]]
    assert texts == ["once", "mine"]


def test_client_id_reused_in_another_conversation_is_a_conflict(client, auth, pair):
    alice, _, conversation_id = pair
    carol = auth.user("carol")
    other = auth.befriend(alice, carol)
    auth.send(alice, conversation_id, "x", client_id="dup")
    response = client.post(f"/api/conversations/{other}/messages", json={"text": "x", "client_id": "dup"},
                           headers=alice.headers)
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "conflict"


@pytest.mark.parametrize("body", [
    {}, {"text": ""}, {"text": "   \n\t "}, {"text": "x" * 4001}, {"text": 5}, {"text": None}, {"text": ["a"]},
    {"text": "ok", "client_id": ""}, {"text": "ok", "client_id": "x" * 65}, {"text": "ok", "client_id": 3},
    {"text": "nul\x00byte"}, {"text": "\ud800"},
    # Nothing visible: zero-width space/joiners, BOM, word joiner, bidi marks, Hangul filler, a variation selector.
    {"text": "\u200b"}, {"text": "\u200b\u200c\u200d\ufeff\u2060"}, {"text": " \u200e\u200f\u3164 "},
    {"text": "\ufe0f\u034f"},
])
def test_invalid_messages_are_refused(client, pair, body):
    alice, _, conversation_id = pair
    url = f"/api/conversations/{conversation_id}/messages"
    response = client.post(url, json=body, headers=alice.headers)
    assert response.status_code == 422 and response.get_json()["error"]["code"] == "validation_error"
    assert client.get(url, headers=alice.headers).get_json()["messages"] == []


def test_longest_message_and_unicode(client, pair):
    alice, _, conversation_id = pair
    for text in ("x" * 4000, "héllo 👋 世界", "❤\ufe0f", "👍🏽", "a\u200bb"):
        response = client.post(f"/api/conversations/{conversation_id}/messages", json={"text": text},
                               headers=alice.headers)
        assert response.status_code == 201 and response.get_json()["message"]["text"] == text


def test_oversized_body_is_413(client, pair):
    alice, _, conversation_id = pair
    response = client.post(f"/api/conversations/{conversation_id}/messages", json={"text": "x" * 100_000},
                           headers=alice.headers)
    assert response.status_code == 413 and response.get_json()["error"]["code"] == "payload_too_large"


@pytest.mark.parametrize("body", ["[" * 1000 + "]" * 1000, '{"text": ' * 1000 + '"x"' + "}" * 1000])
def test_deeply_nested_json_is_400(client, pair, body):
    alice, _, conversation_id = pair
    for url in (f"/api/conversations/{conversation_id}/messages", "/api/conversations", "/api/friend-requests"):
        response = client.post(url, data=body, content_type="application/json", headers=alice.headers)
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request", url


def test_paging(client, auth, pair):
    alice, bob, conversation_id = pair
    ids = [auth.send(alice if i % 2 else bob, conversation_id, f"m{i}")["id"] for i in range(7)]
    url = f"/api/conversations/{conversation_id}/messages"

    def page(query):
        body = client.get(f"{url}?{query}", headers=alice.headers).get_json()
        return [m["id"] for m in body["messages"]], body["has_more"]

    assert page("") == (ids, False)
    assert page("limit=3") == (ids[4:], True)
    assert page(f"limit=3&before={ids[4]}") == (ids[1:4], True)
    assert page(f"limit=3&before={ids[1]}") == (ids[:1], False)
    assert page(f"limit=3&before={ids[3]}") == (ids[:3], False)
    assert page("limit=3&after=0") == (ids[:3], True)
    assert page(f"limit=3&after={ids[3]}") == (ids[4:], False)
    assert page(f"limit=3&after={ids[2]}") == (ids[3:6], True)
    assert page(f"after={ids[-1]}") == ([], False)
    assert page("limit=100") == (ids, False)


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=abc", "limit=-1", "before=0", "before=x",
                                   "after=-5", "after=1.5", "before=1&after=2", "after=99999999999999999999",
                                   "limit=%EF%BC%91"])
def test_bad_paging_parameters(client, pair, query):
    alice, _, conversation_id = pair
    response = client.get(f"/api/conversations/{conversation_id}/messages?{query}", headers=alice.headers)
    assert response.status_code == 422, query
    assert response.get_json()["error"]["code"] == "validation_error"


def test_default_page_is_the_newest_fifty(client, auth, pair):
    alice, _, conversation_id = pair
    ids = [auth.send(alice, conversation_id, f"m{i}")["id"] for i in range(55)]
    body = client.get(f"/api/conversations/{conversation_id}/messages", headers=alice.headers).get_json()
    assert [m["id"] for m in body["messages"]] == ids[5:] and body["has_more"] is True


def test_read_marker_moves_forward_only(client, auth, pair):
    alice, bob, conversation_id = pair
    ids = [auth.send(alice, conversation_id, f"m{i}")["id"] for i in range(3)]

    def unread():
        return client.get(f"/api/conversations/{conversation_id}", headers=bob.headers).get_json()[
            "conversation"]["unread_count"]

    assert unread() == 3
    read = f"/api/conversations/{conversation_id}/read"
    assert client.post(read, json={"message_id": ids[1]}, headers=bob.headers).status_code == 204
    assert unread() == 1
    assert client.post(read, json={"message_id": ids[0]}, headers=bob.headers).status_code == 204
    assert unread() == 1
    assert client.post(read, json={"message_id": ids[2]}, headers=bob.headers).status_code == 204
    assert unread() == 0
    for body in ({}, {"message_id": "1"}, {"message_id": 0}, {"message_id": True}, {"message_id": 2**70}):
        assert client.post(read, json=body, headers=bob.headers).status_code == 422, body
    assert client.post(read, json={"message_id": ids[2] + 1000}, headers=bob.headers).status_code == 404


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_concurrent_duplicates_store_one_message(app, auth, pair):
    """Racing resends of one client_id: the unique key lets one in, the rest get it back.

    PostgreSQL only: SQLite (the single-instance development default, where gevent
    runs one statement at a time) refuses concurrent writers from real threads."""
    import threading

    from chat_service.state import EXTENSION
    from chat_service.services.messages import send_message

    alice, _, conversation_id = pair
    database = app.extensions[EXTENSION].database
    barrier, results, errors = threading.Barrier(6), [], []

    def send():
        with app.app_context(), database.sessionmaker() as session:
            barrier.wait()
            try:
                results.append(send_message(session, alice.id, conversation_id, "once", "race-1"))
            except Exception as exc:  # collected and asserted below
                errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(r.created for r in results) == [False] * 5 + [True]
    assert len({r.message["id"] for r in results}) == 1
