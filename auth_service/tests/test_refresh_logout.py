import threading
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from auth_service import db
from auth_service.config import Config
from auth_service.models import RefreshToken

from .conftest import ORIGIN, assert_error, set_cookies


REUSE_GRACE = Config.refresh_reuse_grace


@pytest.fixture
def logged_in(auth):
    auth.register()
    assert auth.login().status_code == 200
    return auth


def test_cookie_refresh_rotates_both_cookies(logged_in):
    auth = logged_in
    old_access, old_refresh = auth.cookie("access_token"), auth.cookie("refresh_token")
    response = auth.refresh_cookie()
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"user", "access_expires_at"} and body["user"]["username"] == "alice"
    cookies = set_cookies(response)
    assert "HttpOnly" in cookies["refresh_token"] and "Path=/" in cookies["refresh_token"]
    assert auth.cookie("refresh_token") != old_refresh and auth.cookie("access_token") != old_access
    assert auth.client.get("/auth/me").status_code == 200


def test_body_refresh_answers_a_json_pair_without_cookies(auth):
    auth.register()
    first = auth.token().get_json()
    response = auth.refresh_body(first["refresh_token"])
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900 and body["user"]["username"] == "alice"
    assert body["refresh_token"] != first["refresh_token"]
    assert "Set-Cookie" not in response.headers
    assert auth.client.get("/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}).status_code == 200


def spent_long_ago(app) -> None:
    """Move every spent refresh token's use back past the reuse grace."""
    with app.app_context():
        session = db.session()
        session.execute(update(RefreshToken).where(RefreshToken.used_at.is_not(None))
                        .values(used_at=datetime.now(timezone.utc) - timedelta(seconds=REUSE_GRACE + 1)))
        session.commit()


def test_reusing_a_refresh_token_after_the_grace_revokes_the_whole_chain(app, auth):
    auth.register()
    first = auth.token().get_json()["refresh_token"]
    other_session = auth.token().get_json()["refresh_token"]
    second = auth.refresh_body(first).get_json()["refresh_token"]
    spent_long_ago(app)
    assert_error(auth.refresh_body(first), 401, "unauthorized")  # replayed
    assert_error(auth.refresh_body(second), 401, "unauthorized")  # the thief's or victim's successor is dead too
    assert auth.refresh_body(other_session).status_code == 200  # another login is another chain


def test_concurrent_refreshes_with_one_token_all_succeed_and_the_session_lives(app, auth):
    """A page's background refresh and the frontend's refresh for a reload spend one token at once."""
    auth.register()
    refresh_token = auth.token().get_json()["refresh_token"]
    answers = []
    barrier = threading.Barrier(2)

    def refresh():
        client = app.test_client()
        barrier.wait()
        answers.append(client.post("/auth/refresh", json={"refresh_token": refresh_token}))

    threads = [threading.Thread(target=refresh) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer.status_code for answer in answers] == [200, 200]
    pairs = [answer.get_json() for answer in answers]
    assert pairs[0]["refresh_token"] != pairs[1]["refresh_token"]
    for pair in pairs:
        # Both successors belong to the live session: each refreshes and authenticates.
        headers = {"Authorization": f"Bearer {pair['access_token']}"}
        assert auth.client.get("/auth/me", headers=headers).status_code == 200
        assert auth.refresh_body(pair["refresh_token"]).status_code == 200


def test_a_just_spent_token_presented_again_within_the_grace_continues_the_session(sessions_app):
    from shared import jwt

    from .conftest import TEST_KEYS, AuthActions

    actions = AuthActions(sessions_app.test_client())
    actions.register()
    first = actions.token().get_json()
    rotated = actions.refresh_body(first["refresh_token"]).get_json()
    again = actions.refresh_body(first["refresh_token"])
    assert again.status_code == 200
    sid = {jwt.decode(pair["access_token"], TEST_KEYS, issuer="chat-auth", audience="chat")["sid"]
           for pair in (first, rotated, again.get_json())}
    assert len(sid) == 1  # the same session, not a new one
    for pair in (rotated, again.get_json()):
        assert actions.client.get("/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
                                  ).status_code == 200


def test_a_token_whose_successor_was_already_rotated_is_reuse_even_within_the_grace(sessions_app):
    """first -> second -> third, then first again: no honest race presents a token once the
    chain has moved on past its successor, so the whole session ends."""
    from .conftest import AuthActions

    actions = AuthActions(sessions_app.test_client())
    actions.register()
    first = actions.token().get_json()
    second = actions.refresh_body(first["refresh_token"]).get_json()
    third = actions.refresh_body(second["refresh_token"]).get_json()
    assert_error(actions.refresh_body(first["refresh_token"]), 401, "unauthorized")
    assert_error(actions.refresh_body(third["refresh_token"]), 401, "unauthorized")
    assert_error(actions.client.get("/auth/me", headers={"Authorization": f"Bearer {third['access_token']}"}),
                 401, "unauthorized")


def test_reuse_after_the_grace_ends_the_session(sessions_app):
    from .conftest import AuthActions

    actions = AuthActions(sessions_app.test_client())
    actions.register()
    first = actions.token().get_json()
    rotated = actions.refresh_body(first["refresh_token"]).get_json()
    spent_long_ago(sessions_app)
    assert_error(actions.refresh_body(first["refresh_token"]), 401, "unauthorized")
    assert_error(actions.client.get("/auth/me", headers={"Authorization": f"Bearer {rotated['access_token']}"}),
                 401, "unauthorized")
    assert_error(actions.refresh_body(rotated["refresh_token"]), 401, "unauthorized")


def test_without_a_grace_any_reuse_is_theft(make_app):
    from .conftest import AuthActions

    actions = AuthActions(make_app(refresh_reuse_grace=0).test_client())
    actions.register()
    first = actions.token().get_json()["refresh_token"]
    second = actions.refresh_body(first).get_json()["refresh_token"]
    assert_error(actions.refresh_body(first), 401, "unauthorized")
    assert_error(actions.refresh_body(second), 401, "unauthorized")


def test_expired_refresh_token_is_refused(app, auth):
    auth.register()
    refresh_token = auth.token().get_json()["refresh_token"]
    with app.app_context():
        session = db.session()
        session.execute(update(RefreshToken).values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        session.commit()
    assert_error(auth.refresh_body(refresh_token), 401, "unauthorized")


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example"},
    {"Referer": "https://evil.example/page"},
    {"Origin": "null"},
    {},
])
def test_cookie_refresh_from_a_foreign_or_unknown_origin_is_refused(logged_in, headers):
    auth = logged_in
    refresh_token = auth.cookie("refresh_token")
    assert_error(auth.client.post("/auth/refresh", headers=headers), 403, "forbidden")
    assert auth.cookie("refresh_token") == refresh_token
    assert auth.refresh_cookie().status_code == 200  # the token was not spent


def test_cookie_refresh_accepts_same_origin_referer_and_allowed_origins(make_app):
    client = make_app(allowed_origins=("https://chat.example",)).test_client()
    client.post("/auth/register", json={"username": "alice", "email": "a@example.com", "password": "long enough"})
    client.post("/auth/login", json={"username": "alice", "password": "long enough"})
    assert client.post("/auth/refresh", headers={"Origin": "https://chat.example"}).status_code == 200
    assert client.post("/auth/refresh", headers={"Referer": f"{ORIGIN}/chat"}).status_code == 200


def test_failed_cookie_refresh_clears_the_cookies(logged_in):
    auth = logged_in
    auth.client.set_cookie("refresh_token", "not-a-real-token")
    response = auth.refresh_cookie()
    assert_error(response, 401, "unauthorized")
    assert auth.cookie("refresh_token") is None and auth.cookie("access_token") is None


@pytest.mark.parametrize("kwargs, status, code", [
    ({}, 401, "unauthorized"),
    ({"json": {}}, 401, "unauthorized"),
    ({"json": {"refresh_token": "garbage"}}, 401, "unauthorized"),
    ({"json": {"refresh_token": 42}}, 422, "validation_error"),
    ({"json": {"refresh_token": ""}}, 422, "validation_error"),
    ({"json": {"refresh_token": "a\x00b"}}, 422, "validation_error"),
    ({"json": ["refresh_token"]}, 400, "bad_request"),
    ({"data": "refresh_token=x", "content_type": "application/x-www-form-urlencoded"}, 400, "bad_request"),
    ({"data": "{not json", "content_type": "application/json"}, 400, "bad_request"),
])
def test_refresh_bad_input(client, kwargs, status, code):
    assert_error(client.post("/auth/refresh", **kwargs), status, code)


def test_logout_by_cookie_revokes_and_clears(logged_in):
    auth = logged_in
    refresh_token = auth.cookie("refresh_token")
    response = auth.client.post("/auth/logout", headers={"Origin": ORIGIN})
    assert response.status_code == 204 and response.get_data() == b""
    cleared = set_cookies(response)
    for name in ("access_token", "refresh_token"):
        assert "Max-Age=0" in cleared[name] and "Path=/" in cleared[name]
    assert auth.cookie("refresh_token") is None
    assert_error(auth.refresh_body(refresh_token), 401, "unauthorized")


def test_logout_revokes_the_chain_not_just_the_token(auth):
    auth.register()
    first = auth.token().get_json()["refresh_token"]
    second = auth.refresh_body(first).get_json()["refresh_token"]
    assert auth.client.post("/auth/logout", json={"refresh_token": first}).status_code == 204
    assert_error(auth.refresh_body(second), 401, "unauthorized")


def test_logout_by_body_needs_no_origin(auth):
    auth.register()
    refresh_token = auth.token().get_json()["refresh_token"]
    assert auth.client.post("/auth/logout", json={"refresh_token": refresh_token}).status_code == 204
    assert_error(auth.refresh_body(refresh_token), 401, "unauthorized")


def test_logout_without_any_token_is_204(client):
    assert client.post("/auth/logout").status_code == 204
    assert client.post("/auth/logout", json={"refresh_token": "unknown"}).status_code == 204


def test_logout_from_a_foreign_origin_is_refused(logged_in):
    auth = logged_in
    response = auth.client.post("/auth/logout", headers={"Origin": "https://evil.example"})
    assert_error(response, 403, "forbidden")
    assert auth.refresh_cookie().status_code == 200


@pytest.mark.parametrize("kwargs, status", [
    ({"json": {"refresh_token": 1}}, 422),
    ({"json": "token"}, 400),
    ({"data": "x", "content_type": "text/plain"}, 400),
])
def test_logout_bad_input(client, kwargs, status):
    assert client.post("/auth/logout", **kwargs).status_code == status


@pytest.fixture
def sessions_app(make_app, redis_settings):
    """auth with Redis: ended sessions are recorded there and refused."""
    return make_app(**redis_settings, sessions_prefix=redis_settings["redis_prefix"] + ":sessions")


def test_ending_a_session_refuses_its_access_tokens_and_only_its_own(sessions_app):
    from shared import jwt

    from .conftest import TEST_KEYS, AuthActions

    actions = AuthActions(sessions_app.test_client())
    assert actions.register().status_code == 201
    first, second, third = (actions.token().get_json() for _ in range(3))
    claims = [jwt.decode(pair["access_token"], TEST_KEYS, issuer="chat-auth", audience="chat")
              for pair in (first, second, third)]
    assert len({c["sid"] for c in claims}) == 3  # one session per login

    def me(pair) -> int:
        return actions.client.get("/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}).status_code

    assert actions.client.post("/auth/logout", json={"refresh_token": first["refresh_token"]}).status_code == 204
    assert (me(first), me(second), me(third)) == (401, 200, 200)

    # Refresh-token reuse ends that session, the access token issued with the copy included.
    rotated = actions.refresh_body(second["refresh_token"]).get_json()
    spent_long_ago(sessions_app)
    assert_error(actions.refresh_body(second["refresh_token"]), 401, "unauthorized")
    assert (me(second), me(rotated), me(third)) == (401, 401, 200)

    response = actions.client.post("/auth/logout-all", headers={"Authorization": f"Bearer {third['access_token']}"})
    assert response.status_code == 204
    assert me(third) == 401
    assert_error(actions.refresh_body(third["refresh_token"]), 401, "unauthorized")


def test_log_out_everywhere_needs_a_valid_access_token(client):
    assert_error(client.post("/auth/logout-all"), 401, "unauthorized")


def test_without_redis_a_logout_with_chat_down_still_succeeds_and_auth_refuses_the_token(make_app, caplog):
    """No Redis: auth tells chat itself (chat_notices.py). With chat unreachable the logout still
    answers at once, says so in the log, and auth's own check refuses the ended session."""
    import time

    from shared.testing import free_port

    from .conftest import AuthActions

    app = make_app(chat_service_urls=(f"http://127.0.0.1:{free_port()}",))
    actions = AuthActions(app.test_client())
    actions.register()
    ended, kept = actions.token().get_json(), actions.token().get_json()
    started = time.monotonic()
    assert actions.client.post("/auth/logout", json={"refresh_token": ended["refresh_token"]}).status_code == 204
    assert time.monotonic() - started < 2
    assert "could not record an ended session" in caplog.text
    for pair, status in ((ended, 401), (kept, 200)):
        assert actions.client.get("/auth/me", headers={"Authorization": f"Bearer {pair['access_token']}"}
                                  ).status_code == status
