"""The per-process lookup cache of the message path: what drops its entries, and
that a stale entry never lets anyone do what the database no longer allows."""

import pytest

from chat_service.cache import ConversationFacts, LookupCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_friendship_entries_expire_after_the_ttl():
    clock = Clock()
    cache = LookupCache(friendship_ttl=5.0, clock=clock)
    cache.remember_friendship((1, 2), cache.friendship_generation())
    clock.now += 4.9
    assert cache.are_friends((1, 2))
    clock.now += 0.2
    assert not cache.are_friends((1, 2))


def test_friend_removed_event_drops_the_cached_friendships():
    cache = LookupCache()
    cache.remember_friendship((1, 2), cache.friendship_generation())
    cache.remember_friendship((3, 4), cache.friendship_generation())
    cache.apply_event("friend_removed", {"friend": {"id": 1, "username": "a"}})
    assert not cache.are_friends((1, 2)) and not cache.are_friends((3, 4))


def test_a_read_that_raced_an_invalidation_is_not_cached():
    cache = LookupCache()
    generation = cache.friendship_generation()  # a send starts reading the friendship row...
    cache.apply_event("friend_removed", {"friend": {"id": 2}})  # ...the friendship ends meanwhile
    cache.remember_friendship((1, 2), generation)
    assert not cache.are_friends((1, 2))


def test_conversation_event_drops_the_members():
    cache = LookupCache()
    cache.remember_conversation(ConversationFacts(7, "group", None, frozenset({1, 2})))
    cache.apply_event("conversation", {"id": 7, "members": []})
    assert cache.conversation(7) is None


def test_the_cache_stays_bounded():
    cache = LookupCache(limit=3)
    for cid in range(1, 6):
        cache.remember_conversation(ConversationFacts(cid, "group", None, frozenset({1})))
    assert [cache.conversation(cid) is not None for cid in range(1, 6)] == [False, False, True, True, True]


@pytest.mark.parametrize("config_overrides", [{"friendship_cache_ttl": 3600}])
def test_removed_friend_cannot_send_even_from_the_cached_instance(client, auth):
    """Same instance: the removal's commit drops the entry before the response."""
    alice, bob = auth.user("alice"), auth.user("bob")
    conversation_id = auth.befriend(alice, bob)
    auth.send(alice, conversation_id, "cached")  # now the friendship is cached (for an hour)
    assert client.delete("/api/friends/bob", headers=alice.headers).status_code == 204
    response = client.post(f"/api/conversations/{conversation_id}/messages", json={"text": "x"},
                           headers=alice.headers)
    assert response.status_code == 403


def test_resend_after_the_friendship_ended_still_returns_the_stored_message(client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    conversation_id = auth.befriend(alice, bob)
    sent = auth.send(alice, conversation_id, "before", client_id="r1")
    assert client.delete("/api/friends/bob", headers=alice.headers).status_code == 204
    url = f"/api/conversations/{conversation_id}/messages"
    again = client.post(url, json={"text": "before", "client_id": "r1"}, headers=alice.headers)
    assert again.status_code == 200 and again.get_json()["message"] == sent
    assert client.post(url, json={"text": "new", "client_id": "r2"}, headers=alice.headers).status_code == 403


@pytest.mark.parametrize("cached_first", [False, True])
def test_group_members_receive_and_outsiders_stay_out(client, auth, app, socketio, cached_first):
    alice, bob, carol, dave = (auth.user(n) for n in ("alice", "bob", "carol", "dave"))
    next_id = max(auth.befriend(alice, bob), auth.befriend(alice, carol)) + 1
    if cached_first:
        # Bob asking for the next conversation before it exists must not hide it from him later.
        assert client.get(f"/api/conversations/{next_id}/messages", headers=bob.headers).status_code == 404
    group = client.post("/api/conversations", json={"title": "g", "members": ["bob", "carol"]},
                        headers=alice.headers).get_json()["conversation"]
    sockets = {u.username: socketio.test_client(app, auth={"token": u.token}) for u in (bob, carol, dave)}
    try:
        message = auth.send(alice, group["id"], "hi group")
        for name in ("bob", "carol"):
            received = [e for e in sockets[name].get_received() if e["name"] == "message"]
            assert [e["args"] for e in received] == [message]
        assert not [e for e in sockets["dave"].get_received() if e["name"] == "message"]
        sent = client.post(f"/api/conversations/{group['id']}/messages", json={"text": "x"}, headers=dave.headers)
        assert sent.status_code == 404
        assert auth.send(carol, group["id"], "me too")["sender"] == carol.payload
    finally:
        for sock in sockets.values():
            sock.disconnect()
    assert group["id"] == next_id
