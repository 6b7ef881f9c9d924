"""Two people in two browsers: register, become friends, chat live, log out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PASSWORD, PHONE, new_username

pytestmark = pytest.mark.browser

XSS = "<script>alert('pwned')</script><b>bold?</b>"


def register_in_browser(page, username: str) -> None:
    page.goto("/register")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Email").fill(f"{username}@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(re.compile(r"/friends$"))


def test_two_people_chat_in_real_time(live_stack, browser, screenshot):
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_ctx = browser.new_context(base_url=live_stack.url, viewport=DESKTOP)
    bob_ctx = browser.new_context(base_url=live_stack.url, viewport=DESKTOP)
    alice, bob = alice_ctx.new_page(), bob_ctx.new_page()
    dialogs = []
    for page in (alice, bob):
        page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    try:
        bob.goto("/login")
        screenshot(bob, "login")
        bob.goto("/register")
        screenshot(bob, "register")

        # A form error keeps what was typed and says which field is wrong.
        bob.get_by_label("Username").fill(bob_name)
        bob.get_by_label("Email").fill("not-an-email")
        bob.get_by_label("Password").fill(PASSWORD)
        bob.get_by_role("button", name="Create account").click()
        expect(bob.locator("#email-error")).to_contain_text("valid email")
        expect(bob.get_by_label("Username")).to_have_value(bob_name)

        register_in_browser(alice, alice_name)
        register_in_browser(bob, bob_name)

        # alice finds bob and asks; bob's badge counts the request live, without a reload.
        alice.get_by_label("Username").fill(bob_name[:6])
        alice.get_by_role("button", name="Search").click()
        alice.locator(".person", has_text=bob_name).get_by_role("button", name="Add friend").click()
        expect(alice.locator(".flash")).to_contain_text(f"Friend request sent to {bob_name}")
        expect(bob.locator("#request-badge")).to_have_text("1")

        bob.reload()
        screenshot(bob, "friends")
        bob.get_by_role("button", name=f"Accept {alice_name}").click()
        expect(bob.locator(".flash")).to_contain_text(f"You and {alice_name} are now friends")
        expect(bob.locator("#request-badge")).to_be_hidden()

        # Both see the conversation in their list and open it.
        bob.goto("/chat")
        alice.goto("/chat")
        alice.locator(".conversation-item", has_text=bob_name).click()
        bob.locator(".conversation-item", has_text=alice_name).click()
        expect(alice.locator("#conversation-title")).to_have_text(bob_name)
        expect(alice.locator("#conversation-subtitle")).to_have_text("Online")

        # alice -> bob, Enter sends; it is marked sent when acknowledged.
        alice.locator("#composer-text").fill("Hi Bob!")
        alice.locator("#composer-text").press("Enter")
        expect(bob.locator(".message .bubble").last).to_have_text("Hi Bob!")
        expect(alice.locator(".message.mine .message-status").last).to_have_text(re.compile("Sent|Seen"))

        # bob types: alice sees it; bob answers; Shift+Enter makes a new line.
        bob.locator("#composer-text").press_sequentially("Hello")
        expect(alice.locator("#typing-indicator")).to_have_text(f"{bob_name} is typing...")
        bob.locator("#composer-text").press("Shift+Enter")
        bob.locator("#composer-text").press_sequentially("Alice")
        bob.locator("#composer-text").press("Enter")
        expect(alice.locator(".message:not(.mine) .bubble").last).to_have_text("Hello\nAlice")
        expect(alice.locator("#typing-indicator")).to_have_text("")

        # alice has bob's message on screen, so bob sees it was seen.
        expect(bob.locator(".message.mine .message-status").last).to_have_text("Seen")

        # Markup typed by alice is text for bob: no script runs, no element is made.
        alice.locator("#composer-text").fill(XSS)
        alice.locator("#composer-text").press("Enter")
        expect(bob.locator(".message .bubble").last).to_have_text(XSS)
        assert bob.locator(".bubble b, .bubble script").count() == 0
        assert dialogs == []

        screenshot(bob, "conversation-desktop")
        bob.set_viewport_size(PHONE)
        screenshot(bob, "conversation-phone")
        expect(bob.locator(".sidebar")).to_be_hidden()
        bob.set_viewport_size(DESKTOP)

        # The list shows the newest message as preview; a reload brings back the whole history.
        bob.reload()
        bubbles = bob.locator(".message .bubble")
        expect(bubbles).to_have_count(3)
        expect(bubbles.nth(0)).to_have_text("Hi Bob!")
        expect(bubbles.nth(2)).to_have_text(XSS)
        expect(bob.locator(".conversation-item .conversation-preview").first).to_have_text(XSS)

        # An unread badge appears live in bob's list while he looks at another page of the list.
        bob.goto("/chat")
        screenshot(bob, "conversation-list")
        alice.locator("#composer-text").fill("Are you there?")
        alice.locator("#composer-text").press("Enter")
        item = bob.locator(".conversation-item", has_text=alice_name)
        expect(item.locator(".badge")).to_have_text("1")
        expect(item.locator(".conversation-preview")).to_have_text("Are you there?")

        # Logging out ends access: pages send to login, and the browser's cookies no longer open /api.
        old_cookies = alice_ctx.cookies()
        alice.get_by_role("button", name="Log out", exact=True).click()
        expect(alice).to_have_url(re.compile(r"/login"))
        alice.goto("/chat")
        expect(alice).to_have_url(re.compile(r"/login\?next=/chat"))
        assert alice.request.get("/api/conversations").status == 401
        # The refresh token of the old cookie jar was revoked with the session.
        old_refresh = next(c["value"] for c in old_cookies if c["name"] == "refresh_token")
        response = alice.request.post("/auth/refresh", headers={"Origin": live_stack.url,
                                                                "Cookie": f"refresh_token={old_refresh}"})
        assert response.status == 401
    finally:
        alice_ctx.close()
        bob_ctx.close()
