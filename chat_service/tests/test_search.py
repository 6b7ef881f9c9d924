"""Message search over REST, on SQLite (FTS5) and PostgreSQL (tsvector + GIN)."""

import contextlib

import pytest
from sqlalchemy import create_engine, text

from shared.database import normalize_database_url


@pytest.fixture
def pair(auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    return alice, bob, auth.befriend(alice, bob)


def search(client, user, expect=200, **params):
    response = client.get("/api/search/messages", query_string=params, headers=user.headers)
    assert response.status_code == expect, response.get_json()
    return response.get_json()


def texts(body):
    return [result["message"]["text"] for result in body["results"]]


def run_sql(database_url, statement, **params):
    engine = create_engine(normalize_database_url(database_url))
    with engine.begin() as connection:
        connection.execute(text(statement), params)
    engine.dispose()


def test_finds_whole_words_newest_first_with_the_matches_marked(client, auth, pair):
    alice, bob, conversation_id = pair
    auth.send(alice, conversation_id, "Lunch at noon?")
    auth.send(bob, conversation_id, "no lunch today")
    auth.send(alice, conversation_id, "launch party")
    latest = auth.send(bob, conversation_id, "LUNCH tomorrow, then lunch again")
    body = search(client, alice, q="lunch")
    assert texts(body) == ["LUNCH tomorrow, then lunch again", "no lunch today", "Lunch at noon?"]
    assert body["next_before"] is None
    first = body["results"][0]
    assert first["message"] == {key: value for key, value in latest.items() if key != "previous_id"}
    assert first["conversation"] == {"id": conversation_id, "kind": "direct", "title": "bob"}
    assert first["highlights"] == [[0, 5], [21, 26]]
    # Seen from bob, the direct conversation is titled with alice's name.
    assert search(client, bob, q="launch")["results"][0]["conversation"]["title"] == "alice"


def test_every_word_must_match_and_the_last_one_as_a_prefix(client, auth, pair):
    alice, _, conversation_id = pair
    auth.send(alice, conversation_id, "meeting moved to Friday")
    auth.send(alice, conversation_id, "the meet is on")
    auth.send(alice, conversation_id, "Friday it is")
    assert texts(search(client, alice, q="meet")) == ["the meet is on", "meeting moved to Friday"]
    assert texts(search(client, alice, q="friday meet")) == ["meeting moved to Friday"]
    assert texts(search(client, alice, q="meeting fri")) == ["meeting moved to Friday"]
    # Only the last word is a prefix.
    assert texts(search(client, alice, q="mee friday")) == []
    body = search(client, alice, q="moved fri")
    assert body["results"][0]["highlights"] == [[8, 13], [17, 23]]


def test_a_one_letter_last_word_is_a_prefix_after_another_word(client, auth, pair):
    alice, _, conversation_id = pair
    for text in ("flood 3", "flood 30", "flood 39", "flood 4", "3 items"):
        auth.send(alice, conversation_id, text)
    assert texts(search(client, alice, q="flood 3")) == ["flood 39", "flood 30", "flood 3"]
    assert search(client, alice, q="flood 3")["results"][0]["highlights"] == [[0, 5], [6, 8]]
    # Alone, one letter is a whole word: a prefix that short would match a large part of everything.
    assert texts(search(client, alice, q="3")) == ["3 items", "flood 3"]


def test_highlights_count_characters_and_ignore_case_and_accents(client, auth, pair):
    alice, _, conversation_id = pair
    auth.send(alice, conversation_id, "👋 Café au lait, CAFÉ noir")
    result = search(client, alice, q="Café")["results"][0]
    message = result["message"]["text"]
    assert [message[start:end] for start, end in result["highlights"]] == ["Café", "CAFÉ"]


def test_pages_with_next_before(client, auth, pair):
    alice, _, conversation_id = pair
    sent = [auth.send(alice, conversation_id, f"report number {i}")["id"] for i in range(5)]
    auth.send(alice, conversation_id, "something else")
    first = search(client, alice, q="report", limit=2)
    assert [r["message"]["id"] for r in first["results"]] == [sent[4], sent[3]]
    assert first["next_before"] == sent[3]
    second = search(client, alice, q="report", limit=2, before=first["next_before"])
    assert [r["message"]["id"] for r in second["results"]] == [sent[2], sent[1]]
    last = search(client, alice, q="report", limit=2, before=second["next_before"])
    assert [r["message"]["id"] for r in last["results"]] == [sent[0]] and last["next_before"] is None


def test_only_my_conversations_and_only_while_i_am_a_member(client, auth, pair, database_url):
    alice, bob, with_bob = pair
    carol, dave = auth.user("carol"), auth.user("dave")
    carol_dave = auth.befriend(carol, dave)
    with_carol = auth.befriend(alice, carol)
    auth.send(carol, carol_dave, "secret plan")
    auth.send(bob, with_bob, "plan with bob")
    auth.send(carol, with_carol, "plan with carol")
    assert texts(search(client, alice, q="plan")) == ["plan with carol", "plan with bob"]
    assert texts(search(client, dave, q="plan")) == ["secret plan"]
    # Someone else's conversation is no conversation of mine.
    assert search(client, alice, expect=404, q="plan", conversation_id=carol_dave)["error"]["code"] == "not_found"
    assert search(client, alice, expect=404, q="plan", conversation_id=999999)["error"]["code"] == "not_found"
    assert texts(search(client, alice, q="plan", conversation_id=with_bob)) == ["plan with bob"]
    # A conversation I left no longer shows up.
    run_sql(database_url, "DELETE FROM conversation_members WHERE conversation_id = :c AND user_id = :u",
            c=with_carol, u=alice.id)
    assert texts(search(client, alice, q="plan")) == ["plan with bob"]


def test_follows_edits_and_deletes_of_the_text(client, auth, pair, database_url):
    alice, _, conversation_id = pair
    edited = auth.send(alice, conversation_id, "see you at the station")
    removed = auth.send(alice, conversation_id, "station closed")
    run_sql(database_url, "UPDATE messages SET text = :t WHERE id = :id", t="see you at the airport", id=edited["id"])
    run_sql(database_url, "UPDATE messages SET text = '' WHERE id = :id", id=removed["id"])
    assert texts(search(client, alice, q="station")) == []
    assert texts(search(client, alice, q="airport")) == ["see you at the airport"]
    run_sql(database_url, "DELETE FROM messages WHERE id = :id", id=edited["id"])
    assert texts(search(client, alice, q="airport")) == []


@pytest.mark.parametrize("q", [
    "a & b", "x | y", "!not", "a <-> b", "'quoted'", "back\\slash", 'say "hi"', "word:*", "(paren", "a:b",
    "NEAR(a b)", "col:umn", "^start", "e-mail", "don't", "日本語",
])
def test_query_syntax_of_either_database_is_taken_literally(client, pair, q):
    alice, _, _ = pair
    assert search(client, alice, q=q)["results"] == []


def test_punctuation_inside_words_matches_as_typed(client, auth, pair):
    alice, _, conversation_id = pair
    auth.send(alice, conversation_id, "send an e-mail, don't call")
    auth.send(alice, conversation_id, "日本語 テキスト")
    assert texts(search(client, alice, q="e-mail")) == ["send an e-mail, don't call"]
    assert texts(search(client, alice, q="don't call")) == ["send an e-mail, don't call"]
    assert texts(search(client, alice, q="日本語")) == ["日本語 テキスト"]


@pytest.mark.parametrize("params, field", [
    ({}, "q"), ({"q": ""}, "q"), ({"q": "   "}, "q"), ({"q": "\u200b"}, "q"), ({"q": "x" * 201}, "q"),
    ({"q": "?! ... --"}, "q"), ({"q": " ".join(["w"] * 11)}, "q"), ({"q": "nul\x00"}, "q"),
    ({"q": "ok", "limit": "0"}, "limit"), ({"q": "ok", "limit": "51"}, "limit"), ({"q": "ok", "before": "x"}, "before"),
    ({"q": "ok", "conversation_id": "-1"}, "conversation_id"),
])
def test_bad_queries_are_422(client, pair, params, field):
    alice, _, _ = pair
    body = search(client, alice, expect=422, **params)
    assert body["error"]["code"] == "validation_error" and field in body["error"]["fields"]


def test_needs_authentication(client):
    assert client.get("/api/search/messages?q=x").status_code == 401


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_messages_stored_before_the_index_existed_are_found(dialect, tmp_path, fake_auth):
    """Upgrading a database that already holds messages indexes them; downgrading removes the index."""
    from alembic import command

    from chat_service import create_app
    from chat_service.migrate import HERE
    from chat_service.state import EXTENSION
    from shared.database import alembic_config
    from shared.testing import temporary_postgres_database

    from .conftest import TestUser, make_config, make_token

    with contextlib.ExitStack() as resources:
        url = (f"sqlite:///{tmp_path / 'chat.sqlite3'}" if dialect == "sqlite"
               else resources.enter_context(temporary_postgres_database("chat_search_migration")))
        config = alembic_config(HERE, url)
        command.upgrade(config, "0001")
        fake_auth.reset()
        record = fake_auth.register("alice")
        alice_id = record["id"]
        run_sql(url, "INSERT INTO users (id, username, created_at) VALUES (:id, 'alice', CURRENT_TIMESTAMP)", id=alice_id)
        run_sql(url, "INSERT INTO conversations (id, kind, title, created_by_id, created_at, last_activity_at) "
                     "VALUES (1, 'group', 'Old times', :id, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)", id=alice_id)
        run_sql(url, "INSERT INTO conversation_members (conversation_id, user_id, joined_at, last_read_message_id) "
                     "VALUES (1, :id, CURRENT_TIMESTAMP, 0)", id=alice_id)
        run_sql(url, "INSERT INTO messages (conversation_id, sender_id, text, created_at) "
                     "VALUES (1, :id, 'written before search existed', CURRENT_TIMESTAMP)", id=alice_id)
        command.upgrade(config, "head")
        command.downgrade(config, "0001")
        command.upgrade(config, "head")
        app = create_app(make_config(url, fake_auth.url))
        resources.callback(app.extensions[EXTENSION].shutdown)
        client = app.test_client()
        token = make_token(record)
        alice = TestUser(alice_id, "alice", record["created_at"], token, {"Authorization": f"Bearer {token}"})
        body = search(client, alice, q="before search")
        assert texts(body) == ["written before search existed"]
        assert body["results"][0]["conversation"] == {"id": 1, "kind": "group", "title": "Old times"}


def test_chats_holding_many_messages_are_searched_alike(client, auth, pair, monkeypatch):
    """Past OWN_MESSAGES_READ_LIMIT the PostgreSQL query leaves the plan to the planner: same answers."""
    from chat_service.services import search as search_service

    monkeypatch.setattr(search_service, "OWN_MESSAGES_READ_LIMIT", 1)
    alice, bob, conversation_id = pair
    carol = auth.user("carol")
    auth.send(carol, auth.befriend(carol, bob), "report from elsewhere")
    sent = [auth.send(alice, conversation_id, f"report {i}")["id"] for i in range(3)]
    first = search(client, alice, q="repo", limit=2)
    assert [r["message"]["id"] for r in first["results"]] == [sent[2], sent[1]]
    rest = search(client, alice, q="repo", limit=2, before=first["next_before"])
    assert [r["message"]["id"] for r in rest["results"]] == [sent[0]] and rest["next_before"] is None
    assert texts(search(client, alice, q="report 1", conversation_id=conversation_id)) == ["report 1"]


def test_a_result_is_the_message_as_history_shows_it(client, auth, pair):
    """Reactions and the reply preview come with a found message, as in the history."""
    alice, bob, conversation_id = pair
    original = auth.send(alice, conversation_id, "where is the station")
    answer = client.post(f"/api/conversations/{conversation_id}/messages", headers=bob.headers,
                         json={"text": "station is north", "reply_to": original["id"]}).get_json()["message"]
    assert client.put(f"/api/messages/{answer['id']}/reactions/👍", headers=alice.headers).status_code == 200
    found = search(client, alice, q="north")["results"][0]["message"]
    assert found["reply_to"]["id"] == original["id"]
    assert found["reactions"] == [{"emoji": "👍", "count": 1, "user_ids": [alice.id], "me": True}]
