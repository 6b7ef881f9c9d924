"""Changing one's own password and email."""

from __future__ import annotations

import pytest

from .conftest import ORIGIN, PASSWORD, AuthActions, assert_error

NEW_PASSWORD = "a brand new secret"


@pytest.fixture
def alice(auth):
    assert auth.register().status_code == 201
    return auth


def test_changing_the_password_ends_the_other_sessions_and_keeps_this_one(alice):
    other = alice.token().get_json()
    here = alice.bearer()
    response = alice.client.post("/auth/me/password", headers=here,
                                 json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert response.status_code == 204, response.get_data(as_text=True)
    assert alice.client.get("/auth/me", headers=here).status_code == 200
    assert_error(alice.refresh_body(other["refresh_token"]), 401, "unauthorized")
    assert_error(alice.token(), 401, "unauthorized")  # the old password no longer logs in
    assert alice.token(password=NEW_PASSWORD).status_code == 200


def test_changing_the_password_by_cookie_keeps_the_cookie_session(alice):
    assert alice.login().status_code == 200
    response = alice.client.post("/auth/me/password", headers={"Origin": ORIGIN},
                                 json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert response.status_code == 204
    assert alice.refresh_cookie().status_code == 200
    # Cookie-authenticated changes obey the CSRF rule like every other.
    assert_error(alice.client.post("/auth/me/password", headers={"Origin": "https://evil.example"},
                                   json={"current_password": NEW_PASSWORD, "new_password": PASSWORD}),
                 403, "forbidden")


def test_a_wrong_current_password_is_a_field_error_and_changes_nothing(alice):
    other = alice.token().get_json()
    error = assert_error(alice.client.post("/auth/me/password", headers=alice.bearer(),
                                           json={"current_password": "wrong one!", "new_password": NEW_PASSWORD}),
                         422, "validation_error")
    assert set(error["fields"]) == {"current_password"}
    assert alice.refresh_body(other["refresh_token"]).status_code == 200
    assert alice.token().status_code == 200


@pytest.mark.parametrize("body, field", [
    ({"current_password": PASSWORD, "new_password": "short"}, "new_password"),
    ({"current_password": PASSWORD, "new_password": "x" * 129}, "new_password"),
    ({"current_password": PASSWORD}, "new_password"),
    ({"new_password": NEW_PASSWORD}, "current_password"),
    ({"current_password": 5, "new_password": NEW_PASSWORD}, "current_password"),
])
def test_password_change_input_is_checked(alice, body, field):
    error = assert_error(alice.client.post("/auth/me/password", headers=alice.bearer(), json=body),
                         422, "validation_error")
    assert field in error["fields"]


def test_guessing_the_password_through_the_settings_is_rate_limited_like_logins(make_app):
    actions = AuthActions(make_app(login_failure_limit_user_address=2).test_client())
    actions.register()
    headers = actions.bearer()
    for _ in range(2):
        assert_error(actions.client.post("/auth/me/email", headers=headers,
                                         json={"email": "new@example.com", "password": "guess guess"}),
                     422, "validation_error")
    refused = actions.client.post("/auth/me/password", headers=headers,
                                  json={"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert_error(refused, 429, "rate_limited")
    assert int(refused.headers["Retry-After"]) >= 1


def test_changing_the_email(alice):
    headers = alice.bearer()
    response = alice.client.post("/auth/me/email", headers=headers,
                                 json={"email": "Alice.New@Example.com", "password": PASSWORD})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["user"]["email"] == "Alice.New@Example.com"
    assert alice.client.get("/auth/me", headers=headers).get_json()["user"]["email"] == "Alice.New@Example.com"
    # The old address is free again; the new one is taken, case-insensitively.
    assert alice.register("bob", email="alice@example.com").status_code == 201
    assert_error(alice.register("carol", email="alice.new@example.com"), 409, "conflict")


def test_an_email_taken_by_someone_else_is_a_conflict_on_the_field(alice):
    assert alice.register("bob").status_code == 201
    error = assert_error(alice.client.post("/auth/me/email", headers=alice.bearer(),
                                           json={"email": "BOB@example.com", "password": PASSWORD}),
                         409, "conflict")
    assert error["fields"] == {"email": "is already registered"}


@pytest.mark.parametrize("body, status, field", [
    ({"email": "not-an-email", "password": PASSWORD}, 422, "email"),
    ({"email": "new@example.com", "password": "wrong one!"}, 422, "password"),
    ({"password": PASSWORD}, 422, "email"),
])
def test_email_change_input_is_checked(alice, body, status, field):
    error = assert_error(alice.client.post("/auth/me/email", headers=alice.bearer(), json=body), status,
                         "validation_error")
    assert field in error["fields"]


@pytest.mark.parametrize("path", ["/auth/me/password", "/auth/me/email"])
def test_account_changes_need_a_login(client, path):
    assert_error(client.post(path, json={}), 401, "unauthorized")
