"""auth's direct notices on an instance without Redis (api/internal.py): only a signed notice of
the right kind is heard, and it takes effect for REST and sockets alike."""

from shared import jwt, notices

from .conftest import ISSUER, KEY_RING, make_token
from .test_socket import connect  # noqa: F401  (the fixture)


def with_session(user, session_id: str):
    """The user's token, as auth issues it: naming its session (`sid`)."""
    token = make_token({"id": user.id, "username": user.username, "created_at": user.created_at}, sid=session_id)
    user.token, user.headers = token, {"Authorization": f"Bearer {token}"}
    return user


def notice(kind, payload, ring=KEY_RING):
    return {"notice": notices.sign_notice(kind, payload, ring, issuer=ISSUER)}


def test_an_ended_session_is_refused_by_rest_and_the_handshake(client, auth, connect):
    alice, bob = with_session(auth.user("alice"), "s-alice"), with_session(auth.user("bob"), "s-bob")
    ended = client.post("/internal/sessions-ended", json=notice(notices.SESSIONS_ENDED,
                                                                {"session_ids": ["s-alice"], "keep_for": 60}))
    assert ended.status_code == 204
    assert client.get("/api/friends", headers=alice.headers).status_code == 401
    assert not connect(alice).is_connected()
    assert client.get("/api/friends", headers=bob.headers).status_code == 200  # another session
    assert connect(bob).is_connected()


def test_anything_but_a_signed_notice_of_its_kind_is_refused(client, auth):
    alice = with_session(auth.user("alice"), "x")
    forged = [
        notice(notices.SESSIONS_ENDED, {"session_ids": ["x"], "keep_for": 60}, jwt.KeyRing.from_spec("other:" + "o" * 48)),
        notice(notices.ACCOUNTS_DELETED, {"session_ids": ["x"], "keep_for": 60}),  # another kind
        {"notice": alice.token},  # an access token
        {},
    ]
    for body in forged:
        assert client.post("/internal/sessions-ended", json=body).status_code == 401
    assert client.get("/api/friends", headers=alice.headers).status_code == 200


def test_a_deleted_account_shows_as_deleted(client, auth):
    alice, bob = auth.user("alice"), auth.user("bob")
    auth.befriend(alice, bob)
    assert client.post("/internal/accounts-deleted",
                       json=notice(notices.ACCOUNTS_DELETED, {"user_id": alice.id})).status_code == 204
    assert client.get("/api/friends", headers=bob.headers).get_json()["friends"] == []
