"""Group management, cancelling a friend request and blocking, in the browser (desktop and phone)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PHONE, api_session, befriend, new_username, open_conversation_actions, signed_in_page

pytestmark = pytest.mark.browser

VIEWPORTS = [pytest.param(DESKTOP, id="desktop"), pytest.param(PHONE, id="phone")]


def fits_the_width(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_rename_add_remove_and_leave_a_group(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    names = {who: new_username(who) for who in ("alice", "bob", "carol")}
    sessions = {who: api_session(base, name) for who, name in names.items()}
    befriend(base, sessions["alice"], sessions["bob"], names["bob"])
    befriend(base, sessions["alice"], sessions["carol"], names["carol"])
    created = sessions["alice"].post(f"{base}/api/conversations", timeout=10,
                                     json={"title": "Trip", "members": [names["bob"]]})
    assert created.status_code == 201, created.text
    group = created.json()["conversation"]["id"]
    alice_ctx, alice = signed_in_page(browser, base, sessions["alice"], viewport)
    bob_ctx, bob = signed_in_page(browser, base, sessions["bob"], viewport)
    try:
        alice.goto(f"/chat/{group}")
        bob.goto(f"/chat/{group}")
        expect(bob.locator("#conversation-title")).to_have_text("Trip")

        # The members with their roles, from the header.
        open_conversation_actions(alice)
        alice.get_by_role("button", name="Members").click()
        panel = alice.locator("#group-panel")
        expect(panel.locator(".group-member", has_text=names["alice"])).to_contain_text("Admin")
        expect(panel.locator(".group-member", has_text=names["bob"])).not_to_contain_text("Admin")

        # A name of nothing visible is refused in plain words.
        alice.get_by_label("Group name").fill("\u200b")
        alice.get_by_role("button", name="Rename").click()
        expect(panel.locator(".field-error")).to_have_text("Enter a group name.")

        # Rename: both see the new title and the system line, live.
        alice.get_by_label("Group name").fill("Ski trip")
        alice.get_by_role("button", name="Rename").click()
        renamed = f"{names['alice']} renamed the group to “Ski trip”"
        expect(bob.locator("#conversation-title")).to_have_text("Ski trip")
        expect(bob.locator(".message.system").last).to_have_text(renamed)
        expect(alice.locator("#conversation-title")).to_have_text("Ski trip")

        # Add a friend.
        alice.get_by_label("Add a friend").select_option(names["carol"])
        alice.get_by_role("button", name="Add", exact=True).click()
        expect(bob.locator(".message.system").last).to_have_text(f"{names['alice']} added {names['carol']}")
        expect(panel.locator(".group-member", has_text=names["carol"])).to_be_visible()
        expect(bob.locator("#conversation-subtitle")).to_contain_text("3 members")
        assert fits_the_width(alice)
        screenshot(alice, f"group-panel-{viewport['width']}")

        # Remove bob: his page turns read-only at once and keeps what was said.
        alice.get_by_role("button", name=f"Remove {names['bob']}").click()
        expect(bob.locator(".message.system").last).to_have_text(f"{names['alice']} removed {names['bob']}")
        expect(bob.locator("#read-only-notice")).to_contain_text("You were removed from this group")
        expect(bob.locator("#composer-text")).to_be_disabled()
        expect(bob.get_by_role("button", name="Members")).to_be_hidden()
        expect(panel.locator(".group-member", has_text=names["bob"])).to_have_count(0)
        screenshot(bob, f"group-removed-{viewport['width']}")

        # Nothing after that reaches him, even after a reload.
        sessions["alice"].post(f"{base}/api/conversations/{group}/messages", json={"text": "bob is gone"},
                               timeout=10).raise_for_status()
        expect(alice.locator(".message .bubble").last).to_have_text("bob is gone")
        bob.reload()
        expect(bob.locator(".message.system").last).to_have_text(f"{names['alice']} removed {names['bob']}")
        expect(bob.locator(".bubble", has_text="bob is gone")).to_have_count(0)

        # alice, the last admin, leaves: carol becomes admin.
        alice.get_by_role("button", name="Leave group").click()
        expect(alice.locator("#read-only-notice")).to_contain_text("You left this group")
        expect(alice.locator(".message.system").last).to_have_text(
            f"{names['alice']} left; {names['carol']} is now an admin")
        conversation = sessions["carol"].get(f"{base}/api/conversations/{group}", timeout=10).json()["conversation"]
        assert {m["username"]: m["role"] for m in conversation["members"]} == {names["carol"]: "admin"}
        carol_ctx, carol = signed_in_page(browser, base, sessions["carol"], viewport)
        carol.goto(f"/chat/{group}")
        expect(carol.locator("#conversation-subtitle")).to_contain_text("1 member ·")
        carol_ctx.close()
    finally:
        alice_ctx.close()
        bob_ctx.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_block_from_a_direct_chat_and_unblock_on_the_friends_page(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    direct = befriend(base, alice_api, bob_api, bob_name)
    alice_ctx, alice = signed_in_page(browser, base, alice_api, viewport)
    try:
        alice.goto(f"/chat/{direct}")
        open_conversation_actions(alice)
        alice.get_by_role("button", name=f"Block {bob_name}").click()
        expect(alice.locator("#read-only-notice")).to_contain_text(f"You blocked {bob_name}")
        expect(alice.locator("#conversation-subtitle")).to_have_text("Blocked")
        expect(alice.locator("#composer-text")).to_be_disabled()
        assert fits_the_width(alice)
        screenshot(alice, f"blocked-direct-{viewport['width']}")
        refused = bob_api.post(f"{base}/api/conversations/{direct}/messages", json={"text": "hey"}, timeout=10)
        assert refused.status_code == 403

        alice.goto("/friends")
        expect(alice.locator("#blocked-list")).to_contain_text(bob_name)
        alice.get_by_role("button", name=f"Unblock {bob_name}").click()
        expect(alice.locator(".flash")).to_contain_text(f"You unblocked {bob_name}")
        expect(alice.locator("#blocked-list")).not_to_contain_text(bob_name)
        assert alice_api.get(f"{base}/api/blocks", timeout=10).json()["blocks"] == []
    finally:
        alice_ctx.close()


@pytest.mark.parametrize("viewport", VIEWPORTS)
def test_cancel_a_request_and_block_a_friend_on_the_friends_page(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    alice_name, bob_name, carol_name = new_username("alice"), new_username("bob"), new_username("carol")
    alice_api, bob_api, carol_api = (api_session(base, n) for n in (alice_name, bob_name, carol_name))
    befriend(base, alice_api, carol_api, carol_name)
    alice_ctx, alice = signed_in_page(browser, base, alice_api, viewport)
    bob_ctx, bob = signed_in_page(browser, base, bob_api, viewport)
    try:
        assert alice_api.post(f"{base}/api/friend-requests", json={"username": bob_name},
                              timeout=10).status_code == 201
        bob.goto("/friends")
        expect(bob.locator("#incoming-requests")).to_contain_text(alice_name)
        expect(bob.locator("#request-badge")).to_have_text("1")
        alice.goto("/friends")
        alice.get_by_role("button", name=f"Cancel request to {bob_name}").click()
        expect(alice.locator(".flash")).to_contain_text("Request cancelled")
        # bob's page drops it live.
        expect(bob.locator("#incoming-requests")).not_to_contain_text(alice_name)
        expect(bob.locator("#request-badge")).to_be_hidden()

        alice.get_by_role("button", name=f"Block {carol_name}").click()
        expect(alice.locator(".flash")).to_contain_text(f"You blocked {carol_name}")
        expect(alice.locator("#friends-list")).not_to_contain_text(carol_name)
        expect(alice.get_by_role("button", name=f"Unblock {carol_name}")).to_be_visible()
        assert fits_the_width(alice)
        screenshot(alice, f"friends-blocked-{viewport['width']}")
    finally:
        alice_ctx.close()
        bob_ctx.close()


def test_system_lines_do_not_count_as_unread_live(live_stack, browser):
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    befriend(base, alice_api, bob_api, bob_name)
    group = alice_api.post(f"{base}/api/conversations", json={"title": "Trip", "members": [bob_name]},
                           timeout=10).json()["conversation"]["id"]
    context, bob = signed_in_page(browser, base, bob_api)
    try:
        bob.goto("/chat")
        badges = bob.locator("#conversation-list .badge")
        expect(badges).to_have_count(0)
        bob.wait_for_function("() => document.getElementById('connection-status').hidden")
        alice_api.patch(f"{base}/api/conversations/{group}", json={"title": "Ski trip"}, timeout=10).raise_for_status()
        expect(bob.locator("#conversation-list")).to_contain_text("Ski trip")
        expect(badges).to_have_count(0)
        assert not bob.title().startswith("(")
        alice_api.post(f"{base}/api/conversations/{group}/messages", json={"text": "hi", "client_id": "unread-1"},
                       timeout=10).raise_for_status()
        expect(badges).to_have_text(["1"])
    finally:
        context.close()
