"""The account lifecycle through the gateway, as a browser and as an API client sees it."""

from __future__ import annotations

import secrets

import time

import pytest
import requests

from ..conftest import after_reuse_grace
from .chat_load import befriend, new_user

pytestmark = pytest.mark.system

PASSWORD = "correct horse battery"


def new_username(prefix: str = "user") -> str:
    return f"{prefix}_{secrets.token_hex(4)}"


def assert_envelope(response: requests.Response, status: int | None = None) -> dict:
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    if status is not None:
        assert response.status_code == status, response.text[:300]
    error = response.json()["error"]
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return error


def register(base: str, username: str, password: str = PASSWORD) -> requests.Response:
    return requests.post(f"{base}/auth/register",
                         json={"username": username, "email": f"{username}@example.com", "password": password},
                         timeout=10)


def browser_session(base: str) -> requests.Session:
    """A session that behaves like a same-origin page: it sends the gateway's Origin."""
    session = requests.Session()
    session.headers["Origin"] = base
    return session


def set_cookie_headers(response: requests.Response) -> dict[str, str]:
    """Set-Cookie header per cookie name, as sent on the wire."""
    headers = response.raw.headers.getlist("Set-Cookie")
    return {header.split("=", 1)[0]: header for header in headers}


def test_browser_session_lifecycle(live_stack):
    base = live_stack.url
    username = new_username("alice")
    created = register(base, username)
    assert created.status_code == 201, created.text
    assert created.json()["user"]["username"] == username

    session = browser_session(base)
    login = session.post(f"{base}/auth/login", json={"username": username.upper(), "password": PASSWORD}, timeout=10)
    assert login.status_code == 200, login.text
    assert login.json()["user"]["username"] == username
    cookies = set_cookie_headers(login)
    for name in ("access_token", "refresh_token"):
        assert "HttpOnly" in cookies[name]
        assert "SameSite=Lax" in cookies[name]
        assert "Path=/" in cookies[name]

    me = session.get(f"{base}/auth/me", timeout=10)
    assert me.status_code == 200
    assert me.json()["user"]["username"] == username
    assert me.json()["user"]["email"] == f"{username}@example.com"

    # Rotation: the refresh cookie works once; replaying the old one (after the short grace that
    # forgives a page's own concurrent refreshes) revokes the whole chain.
    old_refresh = session.cookies.get("refresh_token")
    spent_at = time.monotonic()
    refreshed = session.post(f"{base}/auth/refresh", timeout=10)
    assert refreshed.status_code == 200, refreshed.text
    new_refresh = session.cookies.get("refresh_token")
    assert new_refresh and new_refresh != old_refresh

    after_reuse_grace(spent_at)
    replay = requests.post(f"{base}/auth/refresh", json={"refresh_token": old_refresh}, timeout=10)
    assert_envelope(replay, 401)
    after_reuse = requests.post(f"{base}/auth/refresh", json={"refresh_token": new_refresh}, timeout=10)
    assert_envelope(after_reuse, 401)

    # A fresh login, then logout clears the cookies and ends the refresh chain.
    session = browser_session(base)
    assert session.post(f"{base}/auth/login", json={"username": username, "password": PASSWORD},
                        timeout=10).status_code == 200
    refresh_before_logout = session.cookies.get("refresh_token")
    logout = session.post(f"{base}/auth/logout", timeout=10)
    assert logout.status_code == 204
    assert not session.cookies.get("access_token")
    assert session.get(f"{base}/auth/me", timeout=10).status_code == 401
    revoked = requests.post(f"{base}/auth/refresh", json={"refresh_token": refresh_before_logout}, timeout=10)
    assert_envelope(revoked, 401)


def test_cookie_refresh_from_a_foreign_origin_is_refused(live_stack):
    base = live_stack.url
    username = new_username("csrf")
    assert register(base, username).status_code == 201
    session = browser_session(base)
    assert session.post(f"{base}/auth/login", json={"username": username, "password": PASSWORD},
                        timeout=10).status_code == 200
    forged = session.post(f"{base}/auth/refresh", headers={"Origin": "https://evil.example"}, timeout=10)
    assert_envelope(forged, 403)


def test_bearer_flow(live_stack):
    base = live_stack.url
    username = new_username("bob")
    assert register(base, username).status_code == 201

    issued = requests.post(f"{base}/auth/token", json={"username": username, "password": PASSWORD}, timeout=10)
    assert issued.status_code == 200, issued.text
    body = issued.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0
    assert "Set-Cookie" not in issued.headers

    me = requests.get(f"{base}/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10)
    assert me.status_code == 200 and me.json()["user"]["username"] == username

    found = requests.get(f"{base}/auth/users/{username}",
                         headers={"Authorization": f"Bearer {body['access_token']}"}, timeout=10)
    assert found.status_code == 200 and found.json()["user"]["username"] == username

    rotated = requests.post(f"{base}/auth/refresh", json={"refresh_token": body["refresh_token"]}, timeout=10)
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["refresh_token"] != body["refresh_token"]

    tampered = body["access_token"][:-2] + ("AA" if not body["access_token"].endswith("AA") else "BB")
    assert_envelope(requests.get(f"{base}/auth/me", headers={"Authorization": f"Bearer {tampered}"}, timeout=10), 401)


def test_wrong_password_and_unknown_user_look_the_same(live_stack):
    base = live_stack.url
    username = new_username("carol")
    assert register(base, username).status_code == 201
    wrong = requests.post(f"{base}/auth/login", json={"username": username, "password": "not the password"},
                          timeout=10)
    unknown = requests.post(f"{base}/auth/login", json={"username": new_username("ghost"), "password": PASSWORD},
                            timeout=10)
    assert assert_envelope(wrong, 401) == assert_envelope(unknown, 401)


def test_duplicate_registration_is_a_conflict(live_stack):
    base = live_stack.url
    username = new_username("dup")
    assert register(base, username).status_code == 201
    assert_envelope(register(base, username.upper()), 409)


BAD_BODIES = [
    ("not json", {"data": b"{not json", "headers": {"Content-Type": "application/json"}}),
    ("form encoded", {"data": {"username": "x"}}),
    ("array", {"json": ["username", "password"]}),
    ("string", {"json": "hello"}),
    ("null", {"data": b"null", "headers": {"Content-Type": "application/json"}}),
    ("empty object", {"json": {}}),
    ("numbers", {"json": {"username": 12345, "email": 1, "password": 12345678, "refresh_token": 7}}),
    ("nested", {"json": {"username": {"a": 1}, "email": ["x"], "password": [PASSWORD], "refresh_token": {}}}),
    ("nul bytes", {"json": {"username": "a\u0000b", "email": "a\u0000@x.io", "password": "p\u0000" * 5,
                            "refresh_token": "\u0000"}}),
    ("huge strings", {"json": {"username": "u" * 5000, "email": "e" * 5000 + "@x.io", "password": "p" * 5000,
                               "refresh_token": "r" * 5000}}),
    ("bad email", {"json": {"username": "valid_name", "email": "no-at-sign", "password": PASSWORD}}),
    ("short password", {"json": {"username": "valid_name2", "email": "v@example.com", "password": "short"}}),
    ("bad username", {"json": {"username": "no spaces allowed", "email": "w@example.com", "password": PASSWORD}}),
    ("unicode", {"json": {"username": "ünïcødé☃", "email": "ü@ß.example", "password": "☃" * 9}}),
    ("bad base64 basic", {"headers": {"Authorization": "Basic %%%not-base64"}}),
    ("bad bearer", {"headers": {"Authorization": "Bearer not.a.jwt"}}),
]

AUTH_ENDPOINTS = [
    ("POST", "/auth/register"),
    ("POST", "/auth/login"),
    ("POST", "/auth/token"),
    ("POST", "/auth/refresh"),
    ("POST", "/auth/logout"),
    ("GET", "/auth/me"),
    ("GET", "/auth/users?q=%00&limit=abc"),
    ("GET", "/auth/users/%E2%98%83"),
]


@pytest.mark.parametrize("method, path", AUTH_ENDPOINTS)
def test_bad_input_gets_an_error_envelope_never_a_500(live_stack, method, path):
    for label, kwargs in BAD_BODIES:
        response = requests.request(method, live_stack.url + path, timeout=10, **kwargs)
        if path == "/auth/logout" and response.status_code == 204:
            continue  # logout without a session is fine by contract
        assert response.status_code < 500, (label, response.status_code, response.text[:200])
        assert_envelope(response)


def test_wrong_method_and_unknown_auth_path_use_the_envelope(live_stack):
    assert_envelope(requests.get(f"{live_stack.url}/auth/login", timeout=10), 405)
    assert_envelope(requests.get(f"{live_stack.url}/auth/no-such-thing", timeout=10), 404)


@pytest.mark.parametrize("path", ["/auth/healthz", "/api/healthz", "/healthz"])
def test_health_checks_through_the_gateway(live_stack, path):
    response = requests.get(live_stack.url + path, timeout=10)
    assert response.status_code == 200, response.text


def test_a_user_reads_the_same_from_auth_and_from_chat(live_stack):
    # One time-stamp format on the wire: chat's copy of a user is auth's, to the character.
    base = live_stack.url
    alice, bob = new_user(base, "same_a"), new_user(base, "same_b")
    befriend(base, alice, bob)
    from_auth = requests.get(f"{base}/auth/users/{bob['username']}", headers=alice["headers"], timeout=10)
    from_chat = requests.get(f"{base}/api/friends", headers=alice["headers"], timeout=10)
    assert from_auth.status_code == from_chat.status_code == 200
    friend = from_chat.json()["friends"][0]
    assert {key: friend[key] for key in ("id", "username", "created_at")} == from_auth.json()["user"]
    assert friend["created_at"].endswith("Z") and len(friend["created_at"]) == len("2026-01-01T00:00:00.000Z")
