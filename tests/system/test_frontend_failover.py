"""The web frontend keeps serving pages and actions when one chat instance dies: it reaches
chat through every instance in turn, as a deployment's service name resolves to every replica."""

from __future__ import annotations

import signal

import pytest

from .test_auth_flow import PASSWORD, browser_session, new_username, register

pytestmark = pytest.mark.system


def test_pages_and_actions_survive_the_loss_of_the_first_chat_instance(start_stack):
    with start_stack(chat_instances=2, redis=True) as stack:
        base = stack.url
        alice, bob = new_username("alice"), new_username("bob")
        for username in (alice, bob):
            assert register(base, username).status_code == 201
        browser = browser_session(base)
        assert browser.post(f"{base}/auth/login", json={"username": alice, "password": PASSWORD},
                            timeout=10).status_code == 200
        assert browser.get(f"{base}/friends", timeout=10).status_code == 200

        stack.stop_chat(0, signal.SIGKILL)
        for path in ("/chat", "/friends", "/account"):
            page = browser.get(f"{base}{path}", timeout=10)
            assert page.status_code == 200, (path, page.status_code)
        form = browser.get(f"{base}/friends?q={bob}", timeout=10).text
        token = form.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        sent = browser.post(f"{base}/friends/requests", data={"csrf_token": token, "username": bob}, timeout=10,
                            allow_redirects=False)
        assert sent.status_code == 303, sent.status_code
        assert f"Friend request sent to {bob}" in browser.get(f"{base}{sent.headers['Location']}", timeout=10).text
        outgoing = browser.get(f"{base}/api/friend-requests?direction=outgoing", timeout=10).json()["requests"]
        assert [r["to"]["username"] for r in outgoing] == [bob]  # sent once
