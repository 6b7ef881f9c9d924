"""Account settings through the gateway: a new password ends the account's other sessions at
auth and chat alike, a new email is the one auth reports; cookie requests obey the CSRF rule."""

from __future__ import annotations

import pytest
import requests

from shared.testing import wait_until

from .chat_load import befriend, new_user
from .test_auth_flow import PASSWORD, assert_envelope, browser_session, new_username, register

pytestmark = pytest.mark.system


@pytest.fixture(scope="module")
def stack(start_stack):
    with start_stack(redis=True) as stack:
        yield stack


def test_a_new_password_ends_the_other_sessions_everywhere_and_keeps_this_one(stack):
    base = stack.url
    username = new_username("newpass")
    assert register(base, username).status_code == 201
    browser = browser_session(base)
    assert browser.post(f"{base}/auth/login", json={"username": username, "password": PASSWORD},
                        timeout=10).status_code == 200
    other = requests.post(f"{base}/auth/token", json={"username": username, "password": PASSWORD}, timeout=10).json()
    other_headers = {"Authorization": f"Bearer {other['access_token']}"}
    assert requests.get(f"{base}/api/conversations", headers=other_headers, timeout=10).status_code == 200

    foreign = requests.post(f"{base}/auth/me/password", cookies=browser.cookies, timeout=10,
                            headers={"Origin": "https://evil.example"},
                            json={"current_password": PASSWORD, "new_password": "a brand new secret"})
    assert_envelope(foreign, 403)

    changed = browser.post(f"{base}/auth/me/password", timeout=10,
                           json={"current_password": PASSWORD, "new_password": "a brand new secret"})
    assert changed.status_code == 204, changed.text
    assert browser.get(f"{base}/api/conversations", timeout=10).status_code == 200
    wait_until(lambda: requests.get(f"{base}/api/conversations", headers=other_headers, timeout=10).status_code == 401,
               5, "chat to refuse the other session's access token")
    assert_envelope(requests.post(f"{base}/auth/refresh", json={"refresh_token": other["refresh_token"]},
                                  timeout=10), 401)
    assert_envelope(requests.post(f"{base}/auth/token", json={"username": username, "password": PASSWORD},
                                  timeout=10), 401)


def test_a_new_email_through_the_gateway(stack):
    base = stack.url
    username = new_username("newmail")
    assert register(base, username).status_code == 201
    browser = browser_session(base)
    browser.post(f"{base}/auth/login", json={"username": username, "password": PASSWORD}, timeout=10)
    wrong = browser.post(f"{base}/auth/me/email", json={"email": f"{username}@example.org", "password": "nope nope"},
                         timeout=10)
    assert assert_envelope(wrong, 422)["fields"] == {"password": "is not your current password"}
    changed = browser.post(f"{base}/auth/me/email", json={"email": f"{username}@example.org", "password": PASSWORD},
                           timeout=10)
    assert changed.status_code == 200, changed.text
    assert browser.get(f"{base}/auth/me", timeout=10).json()["user"]["email"] == f"{username}@example.org"


def test_my_data_through_the_gateway(stack):
    me, friend = new_user(stack.url, "export"), new_user(stack.url, "exported")
    conversation_id = befriend(stack.url, me, friend)
    headers = me["headers"]
    sent = requests.post(f"{stack.url}/api/conversations/{conversation_id}/messages", headers=headers, timeout=10,
                         json={"text": "for the record", "client_id": "export-1"})
    assert sent.status_code == 201, sent.text
    data = requests.get(f"{stack.url}/api/me/data", headers=headers, timeout=10)
    assert data.status_code == 200, data.text
    assert [f["username"] for f in data.json()["friends"]] == [friend["username"]]
    assert [m["text"] for m in data.json()["messages"]] == ["for the record"]
