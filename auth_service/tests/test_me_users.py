import time

import pytest

from shared import jwt

from .conftest import TEST_KEYS, assert_error


@pytest.fixture
def bearer(auth):
    for name in ("alice", "Alicia", "malice", "bob", "al_x", "alxy"):
        auth.register(name)
    return auth.bearer()


def test_me_by_cookie_and_by_bearer_includes_email(auth):
    auth.register("Alice", email="Alice@Example.com")
    headers = auth.bearer()
    auth.login("alice")
    by_cookie = auth.client.get("/auth/me")
    assert by_cookie.status_code == 200
    assert by_cookie.get_json()["user"]["email"] == "Alice@Example.com"
    auth.client.delete_cookie("access_token")
    by_bearer = auth.client.get("/auth/me", headers=headers)
    assert by_bearer.get_json() == by_cookie.get_json()


def token_with(**claims):
    base = jwt.make_claims(subject="1", issuer="chat-auth", audience="chat", lifetime_seconds=900,
                           extra={"name": "alice", "typ": "access"})
    return jwt.encode({**base, **claims}, TEST_KEYS)


@pytest.mark.parametrize("authorization", [
    None,
    "Bearer garbage",
    "Bearer " + token_with(exp=int(time.time()) - 3600),
    "Bearer " + token_with(iss="someone-else"),
    "Bearer " + token_with(typ="refresh"),
    "Bearer " + jwt.encode({"sub": "1"}, jwt.KeyRing.from_spec("other:" + "o" * 48)),
    "Basic YWxpY2U6cGFzc3dvcmQ=",
])
@pytest.mark.parametrize("path", ["/auth/me", "/auth/users?q=al", "/auth/users/alice"])
def test_protected_endpoints_need_a_valid_access_token(auth, path, authorization):
    auth.register()
    headers = {"Authorization": authorization} if authorization else {}
    assert_error(auth.client.get(path, headers=headers), 401, "unauthorized")


def test_refresh_token_is_not_an_access_token(auth):
    auth.register()
    refresh_token = auth.token().get_json()["refresh_token"]
    assert_error(auth.client.get("/auth/me", headers={"Authorization": f"Bearer {refresh_token}"}),
                 401, "unauthorized")


def test_me_for_a_deleted_account_is_401(app, auth):
    from auth_service import db
    from auth_service.models import User

    auth.register()
    headers = auth.bearer()
    with app.app_context():
        session = db.session()
        session.delete(session.query(User).one())
        session.commit()
    assert_error(auth.client.get("/auth/me", headers=headers), 401, "unauthorized")


def names(response):
    assert response.status_code == 200, response.get_json()
    return [user["username"] for user in response.get_json()["users"]]


def test_search_puts_prefix_matches_first_then_substrings(client, bearer):
    assert names(client.get("/auth/users?q=AL", headers=bearer)) == ["al_x", "alice", "Alicia", "alxy", "malice"]
    assert names(client.get("/auth/users?q=lic", headers=bearer)) == ["alice", "Alicia", "malice"]
    assert names(client.get("/auth/users?q=al&limit=2", headers=bearer)) == ["al_x", "alice"]
    assert names(client.get("/auth/users?q=nobody", headers=bearer)) == []


def test_search_results_are_public_users(client, bearer):
    user = client.get("/auth/users?q=bob", headers=bearer).get_json()["users"][0]
    assert set(user) == {"id", "username", "created_at"}


def test_search_treats_like_wildcards_literally(client, bearer):
    assert names(client.get("/auth/users?q=al_", headers=bearer)) == ["al_x"]
    assert names(client.get("/auth/users", query_string={"q": "%"}, headers=bearer)) == []
    assert names(client.get("/auth/users", query_string={"q": "\\"}, headers=bearer)) == []


@pytest.mark.parametrize("query", ["", "q=", "q=%20%20", "q=al&limit=0", "q=al&limit=51", "q=al&limit=abc",
                                   "q=al&limit=-1", "q=al&limit=1.5", "q=" + "a" * 65, "q=a%00b"])
def test_search_bad_parameters_are_422(client, bearer, query):
    assert_error(client.get(f"/auth/users?{query}", headers=bearer), 422, "validation_error")


def test_search_limit_default_and_maximum(auth):
    for index in range(25):
        auth.register(f"user{index:02d}")
    headers = auth.bearer("user00")
    assert len(names(auth.client.get("/auth/users?q=user", headers=headers))) == 20
    assert len(names(auth.client.get("/auth/users?q=user&limit=50", headers=headers))) == 25


def test_lookup_by_username(client, bearer):
    response = client.get("/auth/users/ALICIA", headers=bearer)
    assert response.status_code == 200
    assert response.get_json()["user"]["username"] == "Alicia"
    assert "email" not in response.get_json()["user"]


@pytest.mark.parametrize("username", ["nobody", "x", "a%00b", "%25", "ali ce", "a" * 300])
def test_lookup_of_unknown_user_is_404(client, bearer, username):
    assert_error(client.get(f"/auth/users/{username}", headers=bearer), 404, "not_found")


def test_users_endpoints_accept_the_cookie(auth):
    auth.register()
    auth.login()
    assert auth.client.get("/auth/users/alice").status_code == 200
    assert names(auth.client.get("/auth/users?q=ali")) == ["alice"]
