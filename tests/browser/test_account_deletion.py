"""Deleting an account on a phone: a confirmation step asks for the password; the user lands on
the login page, the friend's open chat shows "Deleted user" and the request they sent leaves the
Friends page of its recipient, both without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PASSWORD, PHONE, api_session, befriend, new_username, signed_in_page

pytestmark = pytest.mark.browser


def test_a_phone_user_deletes_their_account_and_the_friend_sees_deleted_user(start_stack, browser, screenshot):
    with start_stack(redis=True) as stack:
        base = stack.url
        leaving, staying, asked = new_username("leaving"), new_username("staying"), new_username("asked")
        leaver, friend, stranger = api_session(base, leaving), api_session(base, staying), api_session(base, asked)
        conversation_id = befriend(base, leaver, friend, staying)
        requested = leaver.post(f"{base}/api/friend-requests", json={"username": asked}, timeout=10)
        assert requested.status_code == 201, requested.text
        sent = leaver.post(f"{base}/api/conversations/{conversation_id}/messages",
                           json={"text": "so long", "client_id": "bye-1"}, timeout=10)
        assert sent.status_code == 201, sent.text
        phone_ctx, phone = signed_in_page(browser, base, leaver, PHONE)
        desk_ctx, desk = signed_in_page(browser, base, friend, DESKTOP)
        asked_ctx, asked_page = signed_in_page(browser, base, stranger, DESKTOP)
        try:
            asked_page.goto("/friends")
            incoming = asked_page.locator("#incoming-requests")
            expect(incoming.get_by_text(leaving)).to_be_visible()
            asked_page.wait_for_function("() => document.getElementById('connection-status').hidden")
            desk.goto(f"/chat/{conversation_id}")
            expect(desk.locator(".conversation-name").first).to_have_text(leaving)
            desk.wait_for_function("() => document.getElementById('connection-status').hidden")

            phone.goto("/chat")
            phone.get_by_role("link", name=f"Account: {leaving}").click()
            phone.get_by_role("link", name="Delete my account…").click()
            expect(phone).to_have_url(re.compile("/account/delete$"))
            # A wrong password keeps the confirmation page, with the error on its field.
            phone.get_by_label("Your password").fill("not my password")
            phone.get_by_role("button", name="Delete my account").click()
            expect(phone.locator("#password-error")).to_be_visible()
            screenshot(phone, "account-delete-error-phone")
            phone.get_by_label("Your password").fill(PASSWORD)
            phone.get_by_role("button", name="Delete my account").click()
            expect(phone).to_have_url(re.compile("/login"))
            expect(phone.locator(".flash")).to_contain_text("account has been deleted")
            screenshot(phone, "account-deleted-phone")

            # The friend's page: the conversation now names "Deleted user", and it is read-only.
            expect(desk.locator(".conversation-name").first).to_have_text("Deleted user", timeout=10000)
            # Its open header follows at once, and offers nothing to do about an account that is gone.
            actions = desk.locator("#conversation-actions .button")
            expect(desk.locator("#conversation-title")).to_have_text("Deleted user")
            expect(desk.locator("#conversation-subtitle")).to_have_text("Account deleted")
            expect(desk.get_by_text("This account was deleted. This conversation is read-only.")).to_be_visible()
            expect(actions).to_have_text(["Search"])
            desk.reload()
            expect(desk.locator("#conversation-title")).to_have_text("Deleted user")
            expect(actions).to_have_text(["Search"])
            expect(desk.locator(".bubble", has_text="so long")).to_be_visible()
            expect(desk.locator(".pane").get_by_text("Deleted user").first).to_be_visible()
            screenshot(desk, "friend-sees-deleted-user-desktop")
            # The request the deleted user had sent is gone from its recipient's page, and the badge with it.
            expect(incoming.get_by_text("No requests waiting.")).to_be_visible()
            expect(asked_page.locator("#request-badge")).to_be_hidden()
        finally:
            asked_ctx.close()
            phone_ctx.close()
            desk_ctx.close()
