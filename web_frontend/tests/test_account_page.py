"""The account page and leaving an account's sessions, rendered from the real services."""

from __future__ import annotations

import json

from .conftest import ORIGIN, PASSWORD, AuthActions, csrf_from, expired_token
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


def post_account_form(actions: AuthActions, path: str, data: dict):
    token = csrf_from(actions.client.get("/account").get_data(as_text=True))
    return actions.client.post(path, data={**data, "csrf_token": token}, headers={"Origin": ORIGIN})


def test_changing_the_password_keeps_this_browser_and_logs_out_the_others(make_app):
    app = make_app()
    here, there = AuthActions(app.test_client()), AuthActions(app.test_client())
    username = here.register()
    assert there.login(username).status_code == 303
    response = post_account_form(here, "/account/password",
                                 {"current_password": PASSWORD, "new_password": "a brand new secret"})
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert "password has been changed" in here.client.get("/account").get_data(as_text=True)
    there.client.delete_cookie("access_token")
    assert there.client.get("/chat").headers["Location"].startswith("/login")
    assert AuthActions(app.test_client()).login(username, "a brand new secret").status_code == 303


def test_a_wrong_current_password_is_shown_on_its_field(auth):
    auth.register()
    response = post_account_form(auth, "/account/password",
                                 {"current_password": "not it at all", "new_password": "a brand new secret"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="current_password-error"' in html and "That is not your current password." in html
    # Passwords are never written back into the page.
    assert "not it at all" not in html and "a brand new secret" not in html


def test_changing_the_email_and_its_errors_keep_what_was_typed(auth):
    auth.register()
    other = AuthActions(auth.client.application.test_client()).register()
    taken = post_account_form(auth, "/account/email", {"email": f"{other}@example.com", "password": PASSWORD})
    assert taken.status_code == 409
    html = taken.get_data(as_text=True)
    assert 'id="email-error"' in html and f'value="{other}@example.com"' in html
    empty = post_account_form(auth, "/account/email", {"email": "typed@example.com", "password": ""})
    assert empty.status_code == 422 and 'id="password-error"' in empty.get_data(as_text=True)
    assert 'value="typed@example.com"' in empty.get_data(as_text=True)
    changed = post_account_form(auth, "/account/email", {"email": "fresh@example.com", "password": PASSWORD})
    assert changed.status_code == 303
    assert "fresh@example.com" in auth.client.get("/account").get_data(as_text=True)


def test_account_forms_need_the_csrf_token(make_app):
    app = make_app()
    actions = AuthActions(app.test_client())
    username = actions.register()
    response = actions.client.post("/account/password", headers={"Origin": ORIGIN, "Referer": "http://localhost/account"},
                                   data={"current_password": PASSWORD, "new_password": "x" * 10})
    assert response.status_code == 303 and response.headers["Location"] == "/account"
    assert AuthActions(app.test_client()).login(username).status_code == 303  # the password is unchanged


def test_download_my_data_is_one_json_file_with_profile_friends_conversations_and_messages(make_app):
    app = make_app()
    alice = AuthActions(app.test_client())
    alice_name = alice.register()
    response = alice.client.get("/account/data")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert f'filename="parley-{alice_name}.json"' in response.headers["Content-Disposition"]
    data = json.loads(response.get_data(as_text=True))
    assert data["profile"]["username"] == alice_name and data["profile"]["email"] == f"{alice_name}@example.com"
    assert set(data) == {"exported_at", "profile", "friends", "conversations", "messages"}
    assert 'href="/account/data"' in alice.client.get("/account").get_data(as_text=True)


def post_deletion(actions: AuthActions, password: str):
    token = csrf_from(actions.client.get("/account/delete").get_data(as_text=True))
    return actions.client.post("/account/delete", data={"password": password, "csrf_token": token},
                               headers={"Origin": ORIGIN})


def test_deleting_the_account_asks_for_the_password_and_ends_on_the_login_page(make_app):
    app = make_app()
    here, there = AuthActions(app.test_client()), AuthActions(app.test_client())
    username = here.register()
    assert there.login(username).status_code == 303
    assert 'href="/account/delete"' in here.client.get("/account").get_data(as_text=True)
    response = post_deletion(here, PASSWORD)
    assert response.status_code == 303 and response.headers["Location"] == "/login"
    assert here.cookie("access_token") is None and here.cookie("refresh_token") is None
    assert "account has been deleted" in here.client.get("/login").get_data(as_text=True)
    there.client.delete_cookie("access_token")
    assert there.client.get("/chat").headers["Location"].startswith("/login")
    assert AuthActions(app.test_client()).login(username).status_code == 422


def test_a_wrong_password_keeps_the_confirmation_page_with_the_error(auth):
    auth.register()
    response = post_deletion(auth, "not it at all")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert 'id="password-error"' in html and "not it at all" not in html
    empty = post_deletion(auth, "")
    assert empty.status_code == 422 and "Enter your password" in empty.get_data(as_text=True)
    assert auth.client.get("/account").status_code == 200
