"""The account page: reachable from every page's top bar on a phone and on a desktop."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PHONE, api_session, new_username, signed_in_page
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
