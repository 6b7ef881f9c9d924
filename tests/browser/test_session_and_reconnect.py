"""An expired access token and a lost connection go unnoticed: the page refreshes, reconnects and catches up."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from shared import jwt
from shared.config import key_ring_from_env
from stack.stack import load_or_create_secrets

from .conftest import DESKTOP, PASSWORD, api_session, new_username

pytestmark = pytest.mark.browser


def expired_access_token(stack, user: dict) -> str:
    """What the browser holds once its access token has lapsed (past exp and the verifiers' leeway).

    Waiting for a real lapse takes ACCESS_TOKEN_TTL plus the 5 s leeway; minting the
    same token with the stack's own key and an exp a minute ago is the same thing, now.
    """
    ring = key_ring_from_env(load_or_create_secrets(stack.run_dir))
    claims = jwt.make_claims(subject=str(user["id"]), issuer="chat-auth", audience="chat", lifetime_seconds=-60,
                             extra={"name": user["username"], "typ": "access"})
    return jwt.encode(claims, ring)


def test_expired_token_and_lost_connection_go_unnoticed(start_stack, browser):
    with start_stack(env={"ACCESS_TOKEN_TTL": "5"}) as stack:
        alice_name, bob_name = new_username("alice"), new_username("bob")
        alice_api, bob_api = api_session(stack.url, alice_name), api_session(stack.url, bob_name)
        alice_user = alice_api.get(f"{stack.url}/auth/me", timeout=10).json()["user"]
        request = alice_api.post(f"{stack.url}/api/friend-requests", json={"username": bob_name}, timeout=10).json()
        accepted = bob_api.post(f"{stack.url}/api/friend-requests/{request['request']['id']}/accept", timeout=10)
        conversation_id = accepted.json()["conversation_id"]

        context = browser.new_context(base_url=stack.url, viewport=DESKTOP)
        page = context.new_page()

        def expire_access_token() -> None:
            context.add_cookies([{"name": "access_token", "value": expired_access_token(stack, alice_user),
                                  "url": stack.url, "httpOnly": True, "sameSite": "Lax"}])

        def current_access_token() -> str:
            return next(c["value"] for c in context.cookies() if c["name"] == "access_token")

        try:
            page.goto(f"/login?next=/chat/{conversation_id}")
            page.get_by_label("Username").fill(alice_name)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page).to_have_url(re.compile(f"/chat/{conversation_id}$"))
            # The URL changes before the page's scripts run: the composer stays read-only until they
            # do, so fill() waits for it and the first Enter sends (as it must for a person, too).
            page.locator("#composer-text").fill("first")
            page.locator("#composer-text").press("Enter")
            expect(page.locator(".message.mine .message-status").last).to_have_text("Sent")

            # A page load with an expired access token is refreshed on the server side.
            expire_access_token()
            page.reload()
            expect(page).to_have_url(re.compile(f"/chat/{conversation_id}$"))
            expect(page.locator(".message .bubble")).to_have_text(["first"])
            assert current_access_token() != expired_access_token(stack, alice_user)

            # The connection drops while the token is expired: the page says so, reconnects by
            # itself (refreshing the token the handshake refuses) and fetches what it missed.
            expire_access_token()
            stack.stop_chat(0)
            expect(page.locator("#connection-status")).to_have_text(re.compile("Reconnecting|Offline"))
            stack.start_chat(0)
            bob_api = api_session(stack.url, bob_name, register=False)
            sent = bob_api.post(f"{stack.url}/api/conversations/{conversation_id}/messages",
                                json={"text": "while you were away", "client_id": "bob-1"}, timeout=10)
            assert sent.status_code == 201, sent.text
            expect(page.locator(".message .bubble", has_text="while you were away")).to_have_count(1, timeout=20000)
            expect(page.locator("#connection-status")).to_be_hidden()

            # Sending still works with an expired token on a live socket; nothing is duplicated.
            expire_access_token()
            page.locator("#composer-text").fill("after expiry")
            page.locator("#composer-text").press("Enter")
            expect(page.locator(".message.mine .message-status").last).to_have_text(re.compile("Sent|Seen"))
            expect(page.locator(".message .bubble")).to_have_text(["first", "while you were away", "after expiry"])
            # Bob's access token from before has lapsed too (ACCESS_TOKEN_TTL=5): log in afresh to check.
            bob_api = api_session(stack.url, bob_name, register=False)
            history = bob_api.get(f"{stack.url}/api/conversations/{conversation_id}/messages", timeout=10)
            assert history.status_code == 200, history.text
            assert [m["text"] for m in history.json()["messages"]] == ["first", "while you were away", "after expiry"]
        finally:
            context.close()


def logged_in_page(context, username: str):
    page = context.new_page()
    page.goto("/login?next=/chat")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page).to_have_url(re.compile("/chat"))
    return page


def test_logout_in_one_tab_sends_the_other_tabs_to_the_login_page(start_stack, browser):
    with start_stack(redis=True) as stack:
        name = new_username("tabs")
        api_session(stack.url, name)  # registers
        context = browser.new_context(base_url=stack.url, viewport=DESKTOP)
        try:
            first = logged_in_page(context, name)
            second = context.new_page()
            second.goto("/friends")
            expect(second).to_have_url(re.compile("/friends$"))
            second.wait_for_load_state("load")

            first.get_by_role("button", name="Log out", exact=True).click()
            expect(first).to_have_url(re.compile("/login"))
            expect(second).to_have_url(re.compile("/login"), timeout=3000)
        finally:
            context.close()


def test_log_out_everywhere_ends_the_sessions_of_other_browsers(start_stack, browser):
    with start_stack(redis=True) as stack:
        name = new_username("devices")
        other_device = api_session(stack.url, name)  # registers and logs in: another browser's session
        context = browser.new_context(base_url=stack.url, viewport=DESKTOP)
        try:
            page = logged_in_page(context, name)
            assert other_device.get(f"{stack.url}/api/conversations", timeout=10).status_code == 200
            page.get_by_role("link", name=f"Account: {name}").click()
            page.get_by_role("button", name="Log out everywhere").click()
            expect(page).to_have_url(re.compile("/login"))
            assert other_device.get(f"{stack.url}/api/conversations", timeout=10).status_code == 401
        finally:
            context.close()
