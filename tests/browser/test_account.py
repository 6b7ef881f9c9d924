"""The account page: reachable from every page's top bar on a phone and on a desktop."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PASSWORD, PHONE, api_session, befriend, new_username, signed_in_page
from .test_session_and_reconnect import expired_access_token, logged_in_page

pytestmark = pytest.mark.browser


def test_a_phone_user_logs_out_everywhere_after_the_access_token_expired(start_stack, browser, screenshot):
    with start_stack(redis=True, env={"ACCESS_TOKEN_TTL": "5"}) as stack:
        name = new_username("phone")
        api = api_session(stack.url, name)
        user = api.get(f"{stack.url}/auth/me", timeout=10).json()["user"]
        laptop_ctx = browser.new_context(base_url=stack.url, viewport=DESKTOP)
        phone_ctx = browser.new_context(base_url=stack.url, viewport=PHONE)
        try:
            laptop = logged_in_page(laptop_ctx, name)
            laptop.wait_for_function("() => document.getElementById('connection-status').hidden")
            phone = logged_in_page(phone_ctx, name)

            phone.get_by_role("link", name=f"Account: {name}").click()
            expect(phone).to_have_url(re.compile("/account$"))
            screenshot(phone, "account-phone")
            # The access token lapses while the page is open (minted expired: the same, without the wait).
            phone_ctx.add_cookies([{"name": "access_token", "value": expired_access_token(stack, user),
                                    "url": stack.url, "httpOnly": True, "sameSite": "Lax"}])
            phone.get_by_role("button", name="Log out everywhere").click()
            expect(phone).to_have_url(re.compile("/login"))
            expect(phone.locator(".flash")).to_contain_text("logged out on every device")

            # The laptop's page is told its session ended and goes to the login page by itself.
            expect(laptop).to_have_url(re.compile("/login"), timeout=10000)
            laptop.goto("/chat")
            expect(laptop).to_have_url(re.compile("/login"))
        finally:
            laptop_ctx.close()
            phone_ctx.close()


def test_the_account_page_is_in_the_top_bar_on_a_desktop(live_stack, browser, screenshot):
    name = new_username("desk")
    context, page = signed_in_page(browser, live_stack.url, api_session(live_stack.url, name))
    try:
        page.goto("/friends")
        page.get_by_role("link", name=f"Account: {name}").click()
        expect(page.get_by_role("heading", name="Account", exact=True)).to_be_visible()
        expect(page.get_by_role("button", name="Log out everywhere")).to_be_visible()
        screenshot(page, "account-desktop")
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_changing_email_and_password_on_the_account_page(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    name = new_username("settings")
    other_device = api_session(base, name)
    context, page = signed_in_page(browser, base, api_session(base, name, register=False), viewport)
    size = "phone" if viewport is PHONE else "desktop"
    try:
        page.goto("/chat")
        page.get_by_role("link", name=f"Account: {name}").click()

        # A wrong password is said on its field, and the address typed stays typed.
        page.get_by_label("New email address").fill(f"{name}.new@example.com")
        page.get_by_label("Current password", exact=True).last.fill("not my password")
        page.get_by_role("button", name="Change email").click()
        expect(page.locator("#password-error")).to_have_text("That is not your current password.")
        expect(page.get_by_label("New email address")).to_have_value(f"{name}.new@example.com")
        screenshot(page, f"account-email-error-{size}")
        page.locator("#password").fill(PASSWORD)
        page.get_by_role("button", name="Change email").click()
        expect(page.locator(".flash")).to_have_text("Your email address has been changed.")
        expect(page.locator("#account-email")).to_have_text(f"{name}.new@example.com")

        page.locator("#current_password").fill(PASSWORD)
        page.locator("#new_password").fill("a brand new secret")
        page.get_by_role("button", name="Change password").click()
        expect(page.locator(".flash")).to_contain_text("password has been changed")
        # This browser stays in; the other device's session has ended.
        page.goto("/friends")
        expect(page).to_have_url(re.compile("/friends$"))
        assert other_device.post(f"{base}/auth/refresh", timeout=10).status_code == 401
    finally:
        context.close()


def test_download_my_data_from_a_phone(live_stack, browser):
    base = live_stack.url
    name, friend_name = new_username("data"), new_username("friend")
    me, friend = api_session(base, name), api_session(base, friend_name)
    conversation_id = befriend(base, me, friend, friend_name)
    sent = me.post(f"{base}/api/conversations/{conversation_id}/messages", timeout=10,
                   json={"text": "mine to keep", "client_id": "data-1"})
    assert sent.status_code == 201, sent.text
    context, page = signed_in_page(browser, base, me, PHONE)
    try:
        page.goto("/account")
        with page.expect_download() as download:
            page.get_by_role("link", name="Download my data").click()
        assert download.value.suggested_filename == f"parley-{name}.json"
        data = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        assert data["profile"]["username"] == name
        assert [f["username"] for f in data["friends"]] == [friend_name]
        assert [m["text"] for m in data["messages"]] == ["mine to keep"]
        assert [c["id"] for c in data["conversations"]] == [conversation_id]
    finally:
        context.close()
