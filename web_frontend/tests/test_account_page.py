"""The account page and leaving an account's sessions, rendered from the real services."""

from __future__ import annotations

import json

from .conftest import ORIGIN, AuthActions, csrf_from, expired_token
from .test_pages import page_data


def test_account_page_shows_the_user_and_both_ways_to_log_out(client, auth):
    username = auth.register()
    response = client.get("/account")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert f"{username}@example.com" in html
    assert "Log out everywhere" in html and 'name="everywhere" value="1"' in html
    # Every logged-in page's top bar links to it.
    assert 'href="/account"' in client.get("/friends").get_data(as_text=True)


def test_account_page_needs_a_login(client):
    response = client.get("/account")
    assert response.status_code == 302 and response.headers["Location"] == "/login?next=/account"


def test_log_out_everywhere_with_an_expired_access_token_still_ends_the_other_devices(make_app):
    """The access token lapsed while the page was open: the frontend refreshes before asking auth."""
    app = make_app()
    here, there = AuthActions(app.test_client()), AuthActions(app.test_client())
    username = here.register()
    assert there.login(username).status_code == 303
    user_id = json.loads(page_data(here.client.get("/chat")))["me"]["id"]
    token = csrf_from(here.client.get("/account").get_data(as_text=True))
    here.client.set_cookie("access_token", expired_token(user_id, username))

    response = here.client.post("/logout", data={"csrf_token": token, "everywhere": "1"},
                                headers={"Origin": ORIGIN}, follow_redirects=True)
    assert "logged out on every device" in response.get_data(as_text=True)
    assert here.cookie("access_token") is None and here.cookie("refresh_token") is None
    # The other device's refresh token was revoked: once its access token is gone, so is it.
    there.client.delete_cookie("access_token")
    assert there.client.get("/chat").headers["Location"].startswith("/login")
