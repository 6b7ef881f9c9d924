"""Avatars in Chromium on desktop and phone: a user picks a picture on the account page; their
friend's open chat shows it at once (conversation list, message group, members) and their Friends
page after a reload; removing it brings the initial back everywhere, also at once. A stranger
cannot fetch it."""

from __future__ import annotations

import os

import pytest
import requests
from PIL import Image
from playwright.sync_api import expect

from .conftest import DESKTOP, PHONE, api_session, befriend, new_username, open_conversation_actions, signed_in_page

pytestmark = pytest.mark.browser


def picture(path) -> str:
    """A photo-like JPEG of a few hundred KiB: beyond the gateway's usual 64 KiB body limit."""
    Image.frombytes("RGB", (600, 400), os.urandom(600 * 400 * 3)).save(path, format="JPEG", quality=95)
    assert path.stat().st_size > 256 * 1024
    return str(path)


def shows_picture(locator):
    """The avatar holds its picture, loaded (so the gateway served it to this user)."""
    image = locator.locator("img.avatar-face")
    expect(image).to_have_count(1)
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") == 256


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_an_avatar_set_on_the_account_page_reaches_the_friends_open_pages(live_stack, browser, screenshot,
                                                                          viewport, tmp_path):
    base = live_stack.url
    size = viewport["width"]
    alice_name, bob_name, carol_name = new_username("alice"), new_username("bob"), new_username("carol")
    alice_api, bob_api, carol_api = (api_session(base, name) for name in (alice_name, bob_name, carol_name))
    befriend(base, alice_api, bob_api, bob_name)
    group = alice_api.post(f"{base}/api/conversations", json={"title": "Trip", "members": [bob_name]}, timeout=10)
    assert group.status_code == 201, group.text
    group_id = group.json()["conversation"]["id"]
    sent = alice_api.post(f"{base}/api/conversations/{group_id}/messages", json={"text": "hello all", "client_id": "a1"},
                          timeout=10)
    assert sent.status_code == 201, sent.text
    alice_id = sent.json()["message"]["sender"]["id"]

    alice_ctx, alice = signed_in_page(browser, base, alice_api, viewport)
    bob_ctx, bob = signed_in_page(browser, base, bob_api, viewport)
    try:
        bob.goto(f"/chat/{group_id}")
        byline = bob.locator(".message", has_text="hello all").locator(".message-byline .avatar")
        expect(byline).to_have_text(alice_name[0].upper())
        bob.wait_for_function("() => document.getElementById('connection-status').hidden")

        alice.goto("/account")
        alice.wait_for_function("() => document.getElementById('connection-status').hidden")
        alice.get_by_label("Profile picture").set_input_files(picture(tmp_path / "me.jpg"))
        expect(alice.locator("#avatar-status")).to_have_text("Picture saved.")
        shows_picture(alice.locator(".account-page .avatar-lg"))
        shows_picture(alice.locator(".account-link .avatar"))
        screenshot(alice, f"avatar-account-{size}")

        # Bob's open group shows it without a reload: her message group, and the members.
        shows_picture(byline)
        if viewport is DESKTOP:
            # Their direct chat in the list, with her presence dot kept.
            direct = bob.locator(".conversation-item", has_text=alice_name).locator(".avatar")
            shows_picture(direct)
            expect(direct.locator(".presence-dot")).to_have_count(1)
        open_conversation_actions(bob)
        bob.get_by_role("button", name="Members").click()
        shows_picture(bob.locator(".group-member", has_text=alice_name))
        screenshot(bob, f"avatar-seen-by-friend-{size}")

        bob.goto("/friends")
        shows_picture(bob.locator("#friends-list .person", has_text=alice_name))

        # Someone who shares nothing with her gets nothing.
        url = alice_api.get(f"{base}/api/me", timeout=10).json()["user"]["avatar_url"]
        assert carol_api.get(f"{base}{url}", timeout=10).status_code == 404
        assert requests.get(f"{base}{url}", timeout=10).status_code == 401

        alice.get_by_role("button", name="Remove picture").click()
        expect(alice.locator("#avatar-status")).to_have_text("Picture removed.")
        expect(alice.locator(".account-page .avatar-lg")).to_have_text(alice_name[0].upper())
        expect(bob.locator(f'#friends-list .avatar[data-user-id="{alice_id}"] img')).to_have_count(0)
        expect(bob.locator(f'#friends-list .avatar[data-user-id="{alice_id}"]')).to_have_text(alice_name[0].upper())
        assert alice_api.get(f"{base}{url}", timeout=10).status_code == 404
    finally:
        alice_ctx.close()
        bob_ctx.close()
