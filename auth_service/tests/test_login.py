import base64
import logging
import re
import time

import pytest
from sqlalchemy import select, update

from auth_service import db
from auth_service.models import User
from shared import jwt

from .conftest import PASSWORD, TEST_KEYS, assert_error, set_cookies


def basic(username, password) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()}


def stored_hash(app, username="alice") -> str:
    with app.app_context():
        return db.session().scalar(select(User.password_hash).where(User.username == username))


def test_login_answers_user_and_expiry_and_sets_both_cookies(auth):
    user_id = auth.register().get_json()["user"]["id"]
    response = auth.login()
    assert response.status_code == 200
    body = response.get_json()
    assert body["user"] == {"id": user_id, "username": "alice", "created_at": body["user"]["created_at"]}
    expires = time.mktime(time.strptime(body["access_expires_at"], "%Y-%m-%dT%H:%M:%S.000Z")) - time.timezone
    assert abs(expires - (time.time() + 900)) < 5
    cookies = set_cookies(response)
    for name, max_age in (("access_token", 900), ("refresh_token", 2592000)):
        attributes = [part.strip() for part in cookies[name].split(";")]
        assert "HttpOnly" in attributes and "SameSite=Lax" in attributes and "Path=/" in attributes
        assert f"Max-Age={max_age}" in attributes
        assert "Secure" not in attributes
    assert auth.cookie("access_token") and auth.cookie("refresh_token")


def test_cookies_are_secure_when_configured(make_app):
    client = make_app(cookie_secure=True).test_client()
    client.post("/auth/register", json={"username": "alice", "email": "a@example.com", "password": PASSWORD})
    response = client.post("/auth/login", json={"username": "alice", "password": PASSWORD})
    assert all("; Secure" in header for header in response.headers.getlist("Set-Cookie"))


def test_access_token_claims(auth):
    user = auth.register("Alice").get_json()["user"]
    access_token = auth.token("alice").get_json()["access_token"]
    claims = jwt.decode(access_token, TEST_KEYS, issuer="chat-auth", audience="chat")
    assert claims["sub"] == str(user["id"]) and claims["name"] == "Alice"
    assert claims["created_at"] == user["created_at"] and claims["typ"] == "access"
    assert claims["exp"] - claims["iat"] == 900 and claims["jti"]


def test_username_matches_case_insensitively(auth):
    auth.register("Alice")
    assert auth.login("aLICE").get_json()["user"]["username"] == "Alice"


def test_spaces_around_the_username_are_ignored(auth):
    auth.register("alice")
    assert auth.login("  alice \t").status_code == 200
    assert auth.token(" alice").status_code == 200
    assert auth.login("alice", f" {PASSWORD}").status_code == 401  # the password is exact


def test_unknown_user_and_wrong_password_answer_identically(auth):
    auth.register()
    wrong_password = auth.login(password="wrong password")
    unknown_user = auth.login("nobody")
    assert_error(wrong_password, 401, "unauthorized")
    assert wrong_password.status_code == unknown_user.status_code
    assert wrong_password.get_data() == unknown_user.get_data()
    assert "Set-Cookie" not in wrong_password.headers and "Set-Cookie" not in unknown_user.headers


def test_unknown_user_costs_a_password_check(make_app):
    # With a noticeable KDF cost, an unknown user must take about as long as a wrong password.
    client = make_app(scrypt_n=2**14).test_client()
    client.post("/auth/register", json={"username": "alice", "email": "a@example.com", "password": PASSWORD})

    def duration(username):
        started = time.perf_counter()
        assert client.post("/auth/login", json={"username": username, "password": "wrong pw"}).status_code == 401
        return time.perf_counter() - started

    # Interleaved, so both see the same load from whatever else runs on the machine.
    pairs = [(duration("alice"), duration("nobody")) for _ in range(4)]  # under the 5-failure limit
    wrong_password = min(wrong for wrong, _ in pairs)
    unknown_user = min(unknown for _, unknown in pairs)
    assert unknown_user > wrong_password * 0.5


@pytest.mark.parametrize("path", ["/auth/login", "/auth/token"])
def test_http_basic_is_accepted(client, auth, path):
    auth.register()
    assert client.post(path, headers=basic("ALICE", PASSWORD)).status_code == 200
    assert_error(client.post(path, headers=basic("alice", "wrong")), 401, "unauthorized")


def test_token_answers_a_pair_and_sets_no_cookies(auth):
    auth.register()
    response = auth.token()
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"access_token", "refresh_token", "token_type", "expires_in", "user"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["user"]["username"] == "alice" and "email" not in body["user"]
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("path", ["/auth/login", "/auth/token"])
@pytest.mark.parametrize("body, status", [
    ({}, 422),
    ({"username": "alice"}, 422),
    ({"password": PASSWORD}, 422),
    ({"username": 1, "password": PASSWORD}, 422),
    ({"username": "alice", "password": ["x"]}, 422),
    ({"username": "al\x00ice", "password": PASSWORD}, 422),
    ({"username": "a" * 5000, "password": PASSWORD}, 401),
    ({"username": "alice", "password": "x" * 5000}, 401),
])
def test_bad_credentials_bodies(client, auth, path, body, status):
    auth.register()
    response = client.post(path, json=body)
    assert_error(response, status, "validation_error" if status == 422 else "unauthorized")


@pytest.mark.parametrize("path", ["/auth/login", "/auth/token"])
def test_foreign_origin_cannot_log_in(client, auth, path):
    auth.register()
    response = client.post(path, json={"username": "alice", "password": PASSWORD},
                           headers={"Origin": "https://evil.example"})
    assert_error(response, 403, "forbidden")


def test_login_upgrades_a_weaker_hash(make_app):
    weak = make_app(scrypt_n=2**10)
    weak.test_client().post("/auth/register", json={"username": "alice", "email": "a@example.com",
                                                    "password": PASSWORD})
    assert stored_hash(weak).startswith("scrypt$10$8$1$")
    strong = make_app(scrypt_n=2**11)
    client = strong.test_client()
    assert client.post("/auth/login", json={"username": "alice", "password": "wrong one"}).status_code == 401
    assert stored_hash(strong).startswith("scrypt$10$")  # a failed login changes nothing
    assert client.post("/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
    upgraded = stored_hash(strong)
    assert upgraded.startswith("scrypt$11$8$1$")
    assert client.post("/auth/login", json={"username": "alice", "password": PASSWORD}).status_code == 200
    assert stored_hash(strong) == upgraded  # no re-hash once the parameters are current


def test_corrupt_stored_hash_fails_login_without_error(app, auth):
    auth.register()
    with app.app_context():
        session = db.session()
        session.execute(update(User).values(password_hash="md5$garbage"))
        session.commit()
    assert_error(auth.login(), 401, "unauthorized")


def test_secrets_never_reach_the_logs(auth, caplog):
    caplog.set_level(logging.DEBUG)
    auth.register(password="Sup3r-secret-pw")
    tokens = auth.token(password="Sup3r-secret-pw").get_json()
    auth.login(password="Wr0ng-secret-pw")
    auth.refresh_body(tokens["refresh_token"])
    logged = " ".join(repr(vars(record)) for record in caplog.records)
    assert "login" in logged  # something was logged
    for secret in ("Sup3r-secret-pw", "Wr0ng-secret-pw", tokens["refresh_token"], tokens["access_token"]):
        assert secret not in logged
    assert not re.search(r"scrypt\$", logged)
