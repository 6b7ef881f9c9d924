"""Searching messages in the browser: all chats from the sidebar, one chat from its header,
matches marked, and a result that opens its chat at a message far back in the history."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timedelta

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PHONE, api_session, befriend, new_username, open_conversation_actions, signed_in_page

pytestmark = pytest.mark.browser

FILLERS = 120  # more than two history pages of 50: the old message is not on the first one


def send(base, session, conversation_id: int, text: str) -> dict:
    response = session.post(f"{base}/api/conversations/{conversation_id}/messages", json={"text": text}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["message"]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_search_marks_matches_and_jumps_to_an_old_message(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    alice_name, bob_name, carol_name = new_username("alice"), new_username("bob"), new_username("carol")
    alice_api, bob_api, carol_api = (api_session(base, name) for name in (alice_name, bob_name, carol_name))
    with_bob = befriend(base, alice_api, bob_api, bob_name)
    with_carol = befriend(base, alice_api, carol_api, carol_name)
    old = send(base, bob_api, with_bob, "An old Giraffe sighting <b>by the lake</b>")
    for i in range(FILLERS):
        send(base, alice_api if i % 2 else bob_api, with_bob, f"filler {i}")
    send(base, carol_api, with_carol, "giraffes at the zoo")
    context, page = signed_in_page(browser, base, alice_api, viewport)
    name = "desktop" if viewport is DESKTOP else "phone"
    try:
        page.goto("/chat")
        page.locator("#search-all").fill("giraf")
        results = page.locator("#search-all-results .search-result")
        expect(results).to_have_count(2)
        expect(page.locator("#conversation-list")).to_be_hidden()
        expect(page.locator("#search-all-results .search-more")).to_be_hidden()  # all found
        # Newest first, titled with the chat, the matching words marked.
        expect(results.locator(".search-result-title")).to_have_text([carol_name, bob_name])
        expect(results.nth(0).locator("mark")).to_have_text(["giraffes"])
        expect(results.nth(1).locator("mark")).to_have_text(["Giraffe"])
        # The message's markup is text, never elements.
        expect(results.nth(1)).to_contain_text("<b>by the lake</b>")
        expect(results.nth(1).locator("b")).to_have_count(0)
        screenshot(page, f"search-results-{name}")

        results.nth(1).click()
        expect(page).to_have_url(re.compile(rf"/chat/{with_bob}$"))
        target = page.locator(f'.message[data-id="{old["id"]}"]')
        expect(target).to_have_class(re.compile(r"\bjump-target\b"))
        expect(target.locator(".bubble")).to_be_in_viewport()
        screenshot(page, f"search-jump-{name}")

        # Within this chat, from its header: only its messages; the jump stays on the page.
        open_conversation_actions(page)
        page.locator("#conversation-search-toggle").click()
        page.locator("#search-conversation").fill("filler 7")
        in_chat = page.locator("#search-conversation-results .search-result")
        expect(in_chat.first).to_be_visible()
        expect(page.locator("#search-conversation-results")).not_to_contain_text("giraffe")
        exact = in_chat.filter(has=page.locator(".search-result-text", has_text=re.compile(r"^filler 7$")))
        expect(exact).to_have_count(1)
        expect(exact.locator("mark")).to_have_text(["filler", "7"])
        page.evaluate("window.stillThisPage = true")
        exact.click()
        jumped = page.locator(".message.jump-target .bubble")
        expect(jumped).to_have_text("filler 7")
        expect(jumped).to_be_in_viewport()
        assert page.evaluate("window.stillThisPage") is True

        # Older results page in on request.
        page.locator("#search-conversation").fill("filler")
        expect(in_chat).to_have_count(20)
        page.locator("#search-conversation-results .search-more").click()
        expect(in_chat).to_have_count(40)
        expect(in_chat.nth(20).locator(".search-result-text")).to_have_text(f"filler {FILLERS - 21}")

        # Nothing found says so.
        page.locator("#search-conversation").fill("okapi")
        expect(page.locator("#search-conversation-results .search-status")).to_have_text("No messages found.")
    finally:
        context.close()


def test_results_name_system_lines_and_days_as_the_timeline_does(live_stack, browser, screenshot):
    base = live_stack.url
    # The rename's system line names alice: no word of her name may start with "3" (a random
    # suffix like "343d19" would), or that line rightly matches "flood 3" as well.
    alice_name, bob_name = "alice_x" + secrets.token_hex(3), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    befriend(base, alice_api, bob_api, bob_name)
    group = alice_api.post(f"{base}/api/conversations", json={"title": "Floods", "members": [bob_name]},
                           timeout=10).json()["conversation"]["id"]
    for n in (3, 30, 39):
        send(base, alice_api, group, f"flood {n}")
    renamed = alice_api.patch(f"{base}/api/conversations/{group}", json={"title": "Flood watch"}, timeout=10)
    assert renamed.status_code == 200, renamed.text
    context, page = signed_in_page(browser, base, alice_api)
    # Seen a day later: what was sent today is "Yesterday", as the timeline's separator says.
    page.clock.set_fixed_time(datetime.now() + timedelta(days=1))
    try:
        page.goto("/chat")
        page.locator("#search-all").fill("flood 3")
        results = page.locator("#search-all-results .search-result")
        expect(results.locator(".search-result-text")).to_have_text(
            ["You: flood 39", "You: flood 30", "You: flood 3"])
        expect(results.first.locator(".search-result-time")).to_have_text("Yesterday")

        page.locator("#search-all").fill("renamed")
        expect(results).to_have_count(1)
        expect(results.locator(".search-result-text")).to_have_text(f"{alice_name} renamed the group to “Flood watch”")
        screenshot(page, "search-system-line")
    finally:
        context.close()
