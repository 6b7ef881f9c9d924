"""Deleting one's own account."""

from __future__ import annotations

import dataclasses
import time

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from auth_service import db
from auth_service.deletion_announcer import start_announcing
from auth_service.services.account_deletion import announce_deletions
from auth_service.state import EXTENSION
from shared.account_deletions import AccountDeletions
from shared.testing import free_port, wait_until

from .conftest import ORIGIN, PASSWORD, AuthActions, assert_error


def delete_account(actions, headers, password=PASSWORD):
    return actions.client.delete("/auth/me", headers=headers, json={"password": password})


def test_a_deleted_account_cannot_log_in_and_disappears_from_lookups(auth):
    assert auth.register().status_code == 201
    assert auth.register("bob").status_code == 201
    other = auth.token().get_json()
    bob = auth.bearer("bob")
    response = delete_account(auth, auth.bearer())
    assert response.status_code == 204, response.get_data(as_text=True)
    assert_error(auth.token(), 401, "unauthorized")
    assert_error(auth.refresh_body(other["refresh_token"]), 401, "unauthorized")
    assert_error(auth.client.get("/auth/users/alice", headers=bob), 404, "not_found")
    assert auth.client.get("/auth/users?q=ali", headers=bob).get_json()["users"] == []
    assert_error(auth.client.get("/auth/me", headers={"Authorization": f"Bearer {other['access_token']}"}),
                 401, "unauthorized")


def test_the_username_stays_reserved_and_the_email_is_free_again(auth):
    assert auth.register().status_code == 201
    assert delete_account(auth, auth.bearer()).status_code == 204
    error = assert_error(auth.register("ALICE", email="someone@example.com"), 409, "conflict")
    assert error["fields"] == {"username": "is already taken"}
    assert auth.register("alice2", email="alice@example.com").status_code == 201


def test_a_wrong_password_is_a_field_error_and_deletes_nothing(auth):
    assert auth.register().status_code == 201
    headers = auth.bearer()
    error = assert_error(delete_account(auth, headers, "wrong one!"), 422, "validation_error")
    assert set(error["fields"]) == {"password"}
    assert_error(auth.client.delete("/auth/me", headers=headers, json={}), 422, "validation_error")
    assert auth.client.get("/auth/me", headers=headers).status_code == 200
    assert auth.token().status_code == 200


def test_deleting_by_cookie_obeys_the_csrf_rule_and_clears_the_cookies(auth):
    assert auth.register().status_code == 201
    assert auth.login().status_code == 200
    assert_error(auth.client.delete("/auth/me", headers={"Origin": "https://evil.example"},
                                    json={"password": PASSWORD}), 403, "forbidden")
    response = auth.client.delete("/auth/me", headers={"Origin": ORIGIN}, json={"password": PASSWORD})
    assert response.status_code == 204
    assert auth.cookie("access_token") is None and auth.cookie("refresh_token") is None


def test_deleting_needs_a_login(client):
    assert_error(client.delete("/auth/me", json={"password": PASSWORD}), 401, "unauthorized")


def test_guessing_the_password_through_deletion_is_rate_limited_like_logins(make_app):
    actions = AuthActions(make_app(login_failure_limit_user_address=2).test_client())
    actions.register()
    headers = actions.bearer()
    for _ in range(2):
        assert_error(delete_account(actions, headers, "guess guess"), 422, "validation_error")
    assert_error(delete_account(actions, headers), 429, "rate_limited")


def test_deletion_ends_every_session_and_is_announced_to_chat(make_app, redis_settings):
    actions = AuthActions(make_app(**redis_settings, sessions_prefix=redis_settings["redis_prefix"]).test_client())
    actions.register()
    other = actions.bearer()
    client = redis.Redis.from_url(redis_settings["redis_url"])
    deletions = AccountDeletions(client, redis_settings["redis_prefix"])
    user_id = actions.client.get("/auth/me", headers=other).get_json()["user"]["id"]
    assert delete_account(actions, actions.bearer()).status_code == 204
    # The other session's still unexpired access token is refused at once.
    assert_error(actions.client.get("/auth/users?q=a", headers=other), 401, "unauthorized")
    assert deletions.pending() == [user_id]
    client.close()


def redis_down_for_announcements(app):
    """The app as if Redis went away after the password check (nothing listens on that port; no
    retries inside redis-py, which would only make each attempt slower); its own state (with Redis)
    is returned, to put back."""
    state = app.extensions[EXTENSION]
    gone = redis.Redis(port=free_port(), socket_connect_timeout=1, retry=Retry(NoBackoff(), 0))
    down = AccountDeletions(gone, state.deletions.prefix)
    app.extensions[EXTENSION] = dataclasses.replace(state, deletions=down)
    return state


def test_a_deletion_redis_was_down_for_is_announced_by_the_next_one(make_app, redis_settings):
    app = make_app(**redis_settings, sessions_prefix=redis_settings["redis_prefix"])
    state = redis_down_for_announcements(app)
    actions = AuthActions(app.test_client())
    actions.register()
    actions.register("bob")
    alice_id = actions.client.get("/auth/me", headers=actions.bearer()).get_json()["user"]["id"]
    bob_headers = actions.bearer("bob")
    bob_id = actions.client.get("/auth/me", headers=bob_headers).get_json()["user"]["id"]

    assert delete_account(actions, actions.bearer()).status_code == 204
    assert state.deletions.pending() == []  # chat heard nothing, but auth remembers

    app.extensions[EXTENSION] = state  # Redis is back
    assert delete_account(actions, bob_headers).status_code == 204
    assert state.deletions.pending() == [alice_id, bob_id]
    with app.app_context():
        assert announce_deletions(db.session(), state.deletions) == 0  # each is announced once


def test_the_background_retry_announces_what_an_outage_held_back(make_app, redis_settings):
    app = make_app(**redis_settings, sessions_prefix=redis_settings["redis_prefix"],
                   deletion_announce_interval=1)
    state = redis_down_for_announcements(app)
    actions = AuthActions(app.test_client())
    actions.register()
    user_id = actions.client.get("/auth/me", headers=actions.bearer()).get_json()["user"]["id"]
    assert delete_account(actions, actions.bearer()).status_code == 204
    stop = start_announcing(app)
    try:
        time.sleep(1.5)
        assert state.deletions.pending() == []  # still down: kept, tried again
        app.extensions[EXTENSION] = state
        wait_until(lambda: state.deletions.pending() == [user_id], 5, "the retry to announce the deletion")
    finally:
        stop.set()
