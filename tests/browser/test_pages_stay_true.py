"""Pages that stay true and fit: live lists and read-only chats, phone widths, forms and the composer."""

from __future__ import annotations

import re
import secrets

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PASSWORD, PHONE, api_session, befriend, new_username, signed_in_page

pytestmark = pytest.mark.browser

PHONE_WIDTHS = (320, 390, 430)


def longest_username(letter: str) -> str:
    """32 characters (the most allowed) of a wide letter, unique per run."""
    suffix = secrets.token_hex(3)
    return letter * (32 - len(suffix) - 1) + "_" + suffix


def assert_no_sideways_scroll(page, what: str) -> None:
    sizes = page.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth, innerWidth]")
    # Name what sticks out, so a failure says where to look.
    outside = page.evaluate("""() => [...document.querySelectorAll('body *')]
        .filter((node) => node.getBoundingClientRect().right > innerWidth + 0.5)
        .slice(0, 5).map((node) => `${node.tagName.toLowerCase()}.${node.className}`)""")
    assert max(sizes[:2]) <= sizes[2], f"{what} is {max(sizes[:2])} px wide on a {sizes[2]} px screen: {outside}"


def test_no_page_scrolls_sideways_on_a_phone_with_the_longest_names(live_stack, browser, screenshot):
    base = live_stack.url
    me_name, friend_name, other_name = longest_username("W"), longest_username("M"), longest_username("W")
    asking_name, asked_name = longest_username("M"), longest_username("W")
    me = api_session(base, me_name)
    friend, other = api_session(base, friend_name), api_session(base, other_name)
    asking, _asked = api_session(base, asking_name), api_session(base, asked_name)
    direct_id = befriend(base, me, friend, friend_name)
    befriend(base, me, other, other_name)
    group = me.post(f"{base}/api/conversations", json={"title": "M" * 100, "members": [friend_name, other_name]},
                    timeout=10)
    assert group.status_code == 201, group.text
    group_id = group.json()["conversation"]["id"]
    for session, conversation_id in ((friend, direct_id), (other, group_id), (friend, group_id)):
        sent = session.post(f"{base}/api/conversations/{conversation_id}/messages", timeout=10,
                            json={"text": "W" * 300, "client_id": secrets.token_hex(8)})
        assert sent.status_code == 201, sent.text
    assert asking.post(f"{base}/api/friend-requests", json={"username": me_name}, timeout=10).status_code == 201
    assert me.post(f"{base}/api/friend-requests", json={"username": asked_name}, timeout=10).status_code == 201

    pages = {"chats": "/chat", "direct": f"/chat/{direct_id}", "group": f"/chat/{group_id}",
             "friends": "/friends", "account": "/account", "search": f"/friends?q={me_name[:3]}", "not-found": "/no/such/page"}
    context, page = signed_in_page(browser, base, me, PHONE)
    visitor = browser.new_context(base_url=base, viewport=PHONE).new_page()
    try:
        for width in PHONE_WIDTHS:
            for viewer in (page, visitor):
                viewer.set_viewport_size({"width": width, "height": 844})
            for name, path in pages.items():
                page.goto(path)
                page.wait_for_load_state("networkidle")
                assert_no_sideways_scroll(page, f"{name} at {width} px")
                if name != "not-found":
                    # With a request badge showing, the account button (the way to log out) is on screen.
                    account = page.get_by_role("link", name=f"Account: {me_name}").bounding_box()
                    assert account["x"] + account["width"] <= width and account["height"] < 48
                if width == 390:
                    screenshot(page, f"long-names-{name}-phone")
            for name in ("login", "register"):
                visitor.goto(f"/{name}")
                assert_no_sideways_scroll(visitor, f"{name} at {width} px")
        # The request's buttons are on screen and work on the narrowest phone.
        page.set_viewport_size({"width": 320, "height": 844})
        page.goto("/friends")
        page.get_by_role("button", name=f"Accept {asking_name}").click()
        expect(page.locator("#friends-list")).to_contain_text(asking_name)
        page.set_viewport_size(DESKTOP)
        for name in ("friends", "group"):
            page.goto(pages[name])
            screenshot(page, f"long-names-{name}-desktop")
    finally:
        context.close()
        visitor.context.close()


def test_friend_lists_update_live(live_stack, browser, screenshot):
    base = live_stack.url
    alice_name, bob_name, carol_name = new_username("alice"), new_username("bob"), new_username("carol")
    alice_api, bob_api, carol_api = (api_session(base, n) for n in (alice_name, bob_name, carol_name))
    sent = alice_api.post(f"{base}/api/friend-requests", json={"username": bob_name}, timeout=10)
    assert sent.status_code == 201, sent.text
    alice_ctx, alice = signed_in_page(browser, base, alice_api)
    bob_ctx, bob = signed_in_page(browser, base, bob_api, PHONE)
    try:
        alice.goto("/friends")
        bob.goto("/friends")
        expect(alice.locator("#outgoing-requests")).to_contain_text("Pending")

        # A request arrives for bob while he looks at the page: its Accept button appears by itself.
        asked = carol_api.post(f"{base}/api/friend-requests", json={"username": bob_name}, timeout=10)
        assert asked.status_code == 201, asked.text
        expect(bob.get_by_role("button", name=f"Accept {carol_name}")).to_be_visible()
        expect(bob.locator("#request-badge")).to_have_text("2")
        screenshot(bob, "friends-live-request-phone")

        # Bob accepts alice: her "Pending" turns into a friend without a reload.
        request_id = sent.json()["request"]["id"]
        assert bob_api.post(f"{base}/api/friend-requests/{request_id}/accept", timeout=10).status_code == 200
        expect(alice.locator("#outgoing-requests")).to_contain_text("Nothing pending")
        expect(alice.locator("#friends-list")).to_contain_text(bob_name)
        expect(alice.locator("#new-group-form")).to_contain_text(bob_name)
        screenshot(alice, "friends-live-accepted-desktop")

        # Alice removes bob on her page: he disappears from bob's list by itself.
        expect(bob.locator("#friends-list")).to_contain_text(alice_name)
        alice.get_by_role("button", name=f"Remove {bob_name}").click()
        expect(alice.locator(".flash")).to_contain_text(f"You and {bob_name} are no longer friends")
        expect(alice.locator("#friends-list")).not_to_contain_text(bob_name)
        expect(bob.locator("#friends-list")).not_to_contain_text(alice_name)
    finally:
        alice_ctx.close()
        bob_ctx.close()


def test_an_unfriended_chat_turns_read_only_at_once(live_stack, browser, screenshot):
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    conversation_id = befriend(base, alice_api, bob_api, bob_name)
    bob_ctx, bob = signed_in_page(browser, base, bob_api)  # online, so alice sees "Online"
    alice_ctx, alice = signed_in_page(browser, base, alice_api, PHONE)
    try:
        bob.goto("/chat")
        alice.goto(f"/chat/{conversation_id}")
        expect(alice.locator("#conversation-subtitle")).to_have_text("Online")
        expect(alice.locator("#composer-text")).to_be_editable()

        assert bob_api.delete(f"{base}/api/friends/{alice_name}", timeout=10).status_code == 204
        expect(alice.locator("#read-only-notice")).to_be_visible()
        expect(alice.locator("#read-only-notice")).to_contain_text("read-only")
        expect(alice.locator("#composer-text")).to_be_disabled()
        expect(alice.get_by_role("button", name="Send")).to_be_disabled()
        expect(alice.locator("#conversation-subtitle")).to_have_text("Not friends")
        screenshot(alice, "read-only-chat-phone")

        alice.reload()
        expect(alice.locator("#composer-text")).to_be_disabled()
        expect(alice.locator("#read-only-notice")).to_be_visible()
        alice.set_viewport_size(DESKTOP)
        screenshot(alice, "read-only-chat-desktop")

        # Friends again: the same conversation takes messages again, live.
        befriend(base, alice_api, bob_api, bob_name)
        expect(alice.locator("#composer-text")).to_be_editable()
        expect(alice.locator("#read-only-notice")).to_be_hidden()
    finally:
        alice_ctx.close()
        bob_ctx.close()


def test_the_new_group_form_keeps_its_input_and_explains_by_the_field(live_stack, browser, screenshot):
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    befriend(base, alice_api, bob_api, bob_name)
    context, page = signed_in_page(browser, base, alice_api, PHONE)
    try:
        page.goto("/friends#new-group")
        page.get_by_label("Group name").fill("Weekend plans")
        page.get_by_role("button", name="Create group").click()
        expect(page.locator("#group-members-error")).to_have_text("Pick at least one friend.")
        expect(page.locator("#group-members-error")).to_be_in_viewport(ratio=1)
        page.wait_for_load_state("networkidle")  # the page's own refresh on connecting keeps the error
        expect(page.locator("#group-members-error")).to_be_in_viewport(ratio=1)
        expect(page.get_by_label("Group name")).to_have_value("Weekend plans")
        expect(page.locator(".flash")).to_have_count(0)  # nothing covers the search box
        screenshot(page, "group-form-error-phone")
        page.get_by_role("checkbox", name=bob_name).check()
        page.get_by_role("button", name="Create group").click()
        expect(page).to_have_url(re.compile(r"/chat/\d+$"))
        expect(page.locator("#conversation-title")).to_have_text("Weekend plans")
    finally:
        context.close()


def test_the_composer_keeps_the_newest_messages_in_view_and_its_draft(live_stack, browser, screenshot):
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    conversation_id = befriend(base, alice_api, bob_api, bob_name)
    for number in range(30):
        sent = bob_api.post(f"{base}/api/conversations/{conversation_id}/messages", timeout=10,
                            json={"text": f"message {number}", "client_id": f"m{number}"})
        assert sent.status_code == 201, sent.text
    context, page = signed_in_page(browser, base, alice_api, PHONE)
    composer = page.locator("#composer-text")
    newest = page.locator(".message .bubble", has_text="message 29")
    try:
        page.goto(f"/chat/{conversation_id}")
        expect(newest).to_be_in_viewport()
        composer.fill("\n".join(f"line {n}" for n in range(15)))
        # The composer grew, but only so far, and the newest message is still fully in view.
        height = composer.bounding_box()["height"]
        assert 80 < height <= min(160, 0.3 * PHONE["height"]) + 2, height
        expect(newest).to_be_in_viewport(ratio=1)
        screenshot(page, "composer-grown-phone")

        # The draft survives a reload; sending clears it.
        page.reload()
        expect(composer).to_have_value("\n".join(f"line {n}" for n in range(15)))
        composer.fill("half a thought")
        page.reload()
        expect(composer).to_have_value("half a thought")
        composer.press("Enter")
        expect(page.locator(".message.mine .bubble")).to_have_text(["half a thought"])
        page.reload()
        expect(composer).to_have_value("")
        expect(composer).to_be_editable()
    finally:
        context.close()


def test_login_empty_list_and_not_found_pages(live_stack, browser, screenshot):
    base = live_stack.url
    name = new_username("newbie")
    api_session(base, name)
    context = browser.new_context(base_url=base, viewport=DESKTOP)
    page = context.new_page()
    try:
        # Spaces around the username are trimmed, as on the register form.
        page.goto("/login")
        page.get_by_label("Username").fill(f"  {name}  ")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(re.compile(r"/chat$"))

        # A new user's empty list explains itself right under the heading, not at the bottom.
        empty = page.locator("#conversations-empty")
        expect(empty).to_be_visible()
        heading = page.locator(".sidebar-head").bounding_box()
        assert empty.bounding_box()["y"] - (heading["y"] + heading["height"]) < 40
        screenshot(page, "empty-chats-desktop")
        page.set_viewport_size(PHONE)
        assert empty.bounding_box()["y"] < 250
        screenshot(page, "empty-chats-phone")

        # The 404 page leads somewhere.
        response = page.goto("/no/such/page")
        assert response.status == 404
        nav = page.get_by_role("navigation", name="Main")
        expect(nav.get_by_role("link", name="Chats")).to_be_visible()
        screenshot(page, "not-found-phone")
        nav.get_by_role("link", name="Friends").click()
        expect(page).to_have_url(re.compile(r"/friends$"))
        page.set_viewport_size(DESKTOP)
        page.goto("/no/such/page")
        screenshot(page, "not-found-desktop")
    finally:
        context.close()
