"""Pages rendered from the real auth and chat services."""

from __future__ import annotations

import json

import pytest

from .conftest import KEYS_SPEC, ORIGIN, PASSWORD, AuthActions, csrf_from, expired_token, serve


def page_data(response) -> str:
    return response.get_data(as_text=True).split('id="page-data">')[1].split("</script>")[0]


def test_login_page_has_csrf_token_and_strict_csp(client):
    response = client.get("/login")
    assert response.status_code == 200
    csrf_from(response.get_data(as_text=True))
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp


def test_form_without_csrf_token_is_refused(client, auth):
    username = auth.register()
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/chat").get_data(as_text=True))})
    response = client.post("/login", data={"username": username, "password": PASSWORD})
    assert response.status_code == 303
    assert auth.cookie("access_token") is None
    assert "expired" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_login_replaces_the_csrf_token(client, auth):
    # A token planted in (or read from) the browser before login must be worthless after it.
    username = auth.register()
    auth.form("/logout", {}, page="/chat")
    before = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": before},
                           headers={"Origin": ORIGIN})
    assert response.status_code == 303 and auth.cookie("access_token")
    refused = client.post("/logout", data={"csrf_token": before}, headers={"Origin": ORIGIN})
    assert refused.status_code == 303
    assert auth.cookie("access_token"), "a pre-login CSRF token logged the user out"
    assert "expired" in client.get(refused.headers["Location"]).get_data(as_text=True)
    auth.form("/logout", {}, page="/chat")
    assert auth.cookie("access_token") is None


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_unknown_paths_are_404_for_every_method_not_a_form_redirect(client, method):
    for path in ("/no-such-page", "/chat/1/nope", "/api/conversations"):
        response = client.open(path, method=method, data={"username": "x"})
        assert response.status_code == 404, (path, response.status_code, response.headers.get("Location"))


def test_wrong_method_on_a_page_is_405(client):
    assert client.put("/login", data={"username": "x"}).status_code == 405


def test_reloading_a_refused_group_form_goes_to_the_form(client):
    response = client.get("/groups")
    assert response.status_code == 303 and response.headers["Location"] == "/friends#new-group"


def test_error_pages_offer_log_in_only_when_logged_out(client, auth):
    assert ">Log in</a>" in client.get("/no-such-page").get_data(as_text=True)
    auth.register()
    page = client.get("/no-such-page").get_data(as_text=True)
    assert "Not found" in page and ">Log in</a>" not in page


def test_register_logs_in_and_forwards_auth_cookies(client, auth):
    auth.register()
    assert auth.cookie("access_token") and auth.cookie("refresh_token")
    page = client.get("/chat")
    assert page.status_code == 200
    assert 'id="page-data"' in page.get_data(as_text=True)


def test_register_errors_are_per_field_and_keep_typed_values(auth):
    taken = auth.register()
    auth.client.post("/logout", data={"csrf_token": csrf_from(auth.client.get("/chat").get_data(as_text=True))})
    response = auth.form("/register", {"username": taken, "email": "fresh@example.com", "password": "short"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="password-error"' in html and "Password must be" in html
    assert f'value="{taken}"' in html and 'value="fresh@example.com"' in html


def test_wrong_password_shows_one_message_and_keeps_username(auth):
    username = auth.register()
    auth.client.delete_cookie("access_token")
    auth.client.delete_cookie("refresh_token")
    response = auth.login(username, "wrong password!")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Wrong username or password." in html and f'value="{username}"' in html


def test_protected_page_redirects_to_login_with_next(client):
    response = client.get("/friends")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=/friends"


def test_expired_access_token_is_refreshed_on_page_load(client, auth):
    username = auth.register()
    user_id = json.loads(page_data(client.get("/chat")))["me"]["id"]
    old_refresh = auth.cookie("refresh_token")
    client.set_cookie("access_token", expired_token(user_id, username))

    response = client.get("/chat")
    assert response.status_code == 200
    assert username in response.get_data(as_text=True)
    assert auth.cookie("refresh_token") != old_refresh  # rotated, and the new pair reached the browser
    assert client.get("/chat").status_code == 200


def test_logout_revokes_the_session(client, auth):
    auth.register()
    refresh = auth.cookie("refresh_token")
    token = csrf_from(client.get("/chat").get_data(as_text=True))
    response = client.post("/logout", data={"csrf_token": token}, headers={"Origin": ORIGIN})
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert auth.cookie("access_token") is None and auth.cookie("refresh_token") is None
    # The old refresh cookie no longer logs anyone in.
    client.set_cookie("refresh_token", refresh)
    assert client.get("/chat").headers["Location"].startswith("/login")


def test_friend_request_accept_and_open_conversation(make_app):
    from .conftest import AuthActions

    alice, bob = AuthActions(make_app().test_client()), AuthActions(make_app().test_client())
    alice_name, bob_name = alice.register(), bob.register()
    search = alice.client.get(f"/friends?q={bob_name}").get_data(as_text=True)
    # Each result's button names its person, for screen readers among several alike.
    assert f'aria-label="Add friend {bob_name}"' in search
    response = alice.form("/friends/requests", {"username": bob_name}, page="/friends")
    assert response.status_code == 303

    page = bob.client.get("/friends").get_data(as_text=True)
    assert 'id="request-badge" class="badge"' in page and f"Accept {alice_name}" in page
    request_id = page.split("/friends/requests/")[1].split("/accept")[0]
    accepted = bob.form(f"/friends/requests/{request_id}/accept", {}, page="/friends")
    assert accepted.status_code == 303

    opened = alice.form(f"/friends/{bob_name}/chat", {}, page="/friends")
    assert opened.status_code == 303 and opened.headers["Location"].startswith("/chat/")
    conversation = alice.client.get(opened.headers["Location"])
    assert conversation.status_code == 200 and bob_name in conversation.get_data(as_text=True)


def test_conversation_of_someone_else_is_not_found(auth):
    auth.register()
    response = auth.client.get("/chat/999999")
    assert response.status_code == 404
    assert "Not found" in response.get_data(as_text=True)


def test_backends_down_gives_a_friendly_503_and_healthz_stays_200(make_app, dead_backend_url):
    client = make_app(auth_service_url=dead_backend_url, chat_service_urls=(dead_backend_url,)).test_client()
    client.set_cookie("access_token", "x")
    response = client.get("/chat")
    assert response.status_code == 503
    assert "right back" in response.get_data(as_text=True)
    health = client.get("/healthz")
    assert health.status_code == 200 and health.json == {"status": "ok", "auth": False, "chat": False}


def test_healthz_reports_backends(client):
    assert client.get("/healthz").json == {"status": "ok", "auth": True, "chat": True}


def test_static_cache_headers(client):
    page = client.get("/login").get_data(as_text=True)
    css_url = page.split('rel="stylesheet" href="')[1].split('"')[0]
    assert "?v=" in css_url
    assert "immutable" in client.get(css_url).headers["Cache-Control"]
    assert client.get("/static/js/api.js").headers["Cache-Control"] == "no-cache"
    vendor = client.get("/static/vendor/socket.io-4.8.3.min.js")
    assert vendor.status_code == 200 and "max-age=31536000" in vendor.headers["Cache-Control"]


def test_login_next_never_leaves_the_site(auth):
    username = auth.register()
    auth.client.delete_cookie("access_token")
    auth.client.delete_cookie("refresh_token")
    token = csrf_from(auth.client.get("/login").get_data(as_text=True))
    response = auth.client.post("/login", data={"username": username, "password": PASSWORD, "csrf_token": token,
                                                "next": "//evil.example/"})
    assert response.status_code == 303 and response.headers["Location"] == "/chat"


@pytest.fixture
def strict_auth_url(tmp_path):
    """An auth_service that allows only two failed logins per client address."""
    import auth_service
    from auth_service.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'auth.sqlite3'}"
    upgrade(url)
    app = auth_service.create_app(auth_service.config.Config.from_env({
        "DATABASE_URL": url, "JWT_KEYS": KEYS_SPEC, "PASSWORD_SCRYPT_N": "1024", "ALLOWED_ORIGINS": ORIGIN,
        "LOGIN_FAILURE_LIMIT_IP": "2", "LOGIN_FAILURE_LIMIT_USER": "100",
    }))
    yield from serve(app)


def test_failed_logins_count_against_the_browser_not_the_gateway(make_app, strict_auth_url):
    """Behind the gateway every request reaches us from nginx's address; auth must
    still see each browser's own address, or one person's typos lock out everyone."""
    app = make_app(auth_service_url=strict_auth_url)
    mallory, alice = AuthActions(app.test_client()), AuthActions(app.test_client())
    username = alice.register()
    alice.client.post("/logout", data={"csrf_token": csrf_from(alice.client.get("/chat").get_data(as_text=True))})

    def login(actions, name, password, address):
        token = csrf_from(actions.client.get("/login").get_data(as_text=True))
        return actions.client.post("/login", data={"username": name, "password": password, "csrf_token": token},
                                   headers={"Origin": ORIGIN, "X-Forwarded-For": address})

    for attempt in range(3):
        login(mallory, f"nobody{attempt}", "wrong password!", "198.51.100.1")
    refused = login(mallory, username, PASSWORD, "198.51.100.1")
    assert mallory.cookie("access_token") is None, refused.status_code
    assert login(alice, username, PASSWORD, "198.51.100.2").headers["Location"] == "/chat"
    assert alice.cookie("access_token")


def test_a_refused_group_name_is_explained_in_plain_words(make_app):
    alice, bob = AuthActions(make_app().test_client()), AuthActions(make_app().test_client())
    alice.register()
    bob_name = bob.register()
    alice.form("/friends/requests", {"username": bob_name}, page="/friends")
    request_id = bob.client.get("/friends").get_data(as_text=True).split("/friends/requests/")[1].split("/accept")[0]
    assert bob.form(f"/friends/requests/{request_id}/accept", {}, page="/friends").status_code == 303
    for title, expected in (("\u200b\u200b", "Enter a group name."), ("x" * 101, "A group name can be at most 100 characters.")):
        response = alice.form("/groups", {"title": title, "members": bob_name}, page="/friends")
        assert response.status_code == 422
        page = response.get_data(as_text=True)
        assert expected in page and "invisible characters" not in page and "must be at most" not in page
