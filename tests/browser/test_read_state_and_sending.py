"""Read state people can trust, and messages that go out by themselves once the connection is back."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PHONE, api_session, befriend, new_username, signed_in_page

pytestmark = pytest.mark.browser


def send(base, session, conversation_id: int, text: str) -> dict:
    response = session.post(f"{base}/api/conversations/{conversation_id}/messages",
                            json={"text": text, "client_id": f"{text}-{time.monotonic_ns()}"}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["message"]


def conversation(base, session, conversation_id: int) -> dict:
    response = session.get(f"{base}/api/conversations/{conversation_id}", timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["conversation"]


def test_opening_a_chat_marks_it_read_and_seen_survives_a_reload(live_stack, browser, screenshot):
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    conversation_id = befriend(base, alice_api, bob_api, bob_name)
    for text in ("one", "two", "three"):
        send(base, alice_api, conversation_id, text)
    alice_ctx, alice = signed_in_page(browser, base, alice_api)
    bob_ctx, bob = signed_in_page(browser, base, bob_api)
    try:
        alice.goto(f"/chat/{conversation_id}")
        expect(alice.locator(".message.mine .message-status").last).to_have_text("Sent")

        # Bob only opens the chat: no focus change, no new message. Alice sees "Seen" live.
        bob.goto(f"/chat/{conversation_id}")
        expect(bob.locator(".message .bubble")).to_have_text(["one", "two", "three"])
        expect(alice.locator(".message.mine .message-status").last).to_have_text("Seen")
        assert conversation(base, bob_api, conversation_id)["unread_count"] == 0
        bob.goto("/chat")
        expect(bob.locator(".conversation-item", has_text=alice_name)).to_be_visible()
        expect(bob.locator(".conversation-item .badge")).to_have_count(0)

        # After a reload alice still sees it: the conversation carries bob's read marker.
        alice.reload()
        expect(alice.locator(".message.mine .message-status").last).to_have_text("Seen")
        screenshot(alice, "seen-after-reload-desktop")
        alice.set_viewport_size(PHONE)
        screenshot(alice, "seen-after-reload-phone")
    finally:
        alice_ctx.close()
        bob_ctx.close()


def test_a_group_says_who_has_seen_the_last_message(live_stack, browser, screenshot):
    base = live_stack.url
    alice_name = new_username("alice")
    alice_api = api_session(base, alice_name)
    others = [(name, api_session(base, name)) for name in (new_username(p) for p in ("bob", "carol", "dan", "erin"))]
    for name, session in others:
        befriend(base, alice_api, session, name)
    created = alice_api.post(f"{base}/api/conversations", timeout=10,
                             json={"title": "Trip", "members": [name for name, _ in others]})
    assert created.status_code == 201, created.text
    group_id = created.json()["conversation"]["id"]
    last = send(base, alice_api, group_id, "Who is in?")

    def read(session) -> None:
        response = session.post(f"{base}/api/conversations/{group_id}/read", json={"message_id": last["id"]},
                                timeout=10)
        assert response.status_code == 204, response.text

    context, alice = signed_in_page(browser, base, alice_api, PHONE)
    status = alice.locator(".message.mine .message-status").last
    try:
        alice.goto(f"/chat/{group_id}")
        expect(status).to_have_text("Sent")
        read(others[0][1])
        read(others[1][1])
        expect(status).to_have_text(f"Seen by {others[0][0]}, {others[1][0]}")
        alice.reload()
        expect(status).to_have_text(f"Seen by {others[0][0]}, {others[1][0]}")
        screenshot(alice, "group-seen-by-names-phone")
        read(others[2][1])
        read(others[3][1])
        expect(status).to_have_text("Seen by 4")
        alice.reload()
        expect(status).to_have_text("Seen by 4")
        alice.set_viewport_size(DESKTOP)
        screenshot(alice, "group-seen-by-count-desktop")
    finally:
        context.close()


def test_reads_while_the_page_was_still_connecting_show_once_it_connects(live_stack, browser):
    """`read` events sent before this page's socket was up never reach it; connecting fetches the
    markers again, so the line under my message does not stay behind (or name only some readers)."""
    base = live_stack.url
    alice_name = new_username("alice")
    alice_api = api_session(base, alice_name)
    others = [(name, api_session(base, name)) for name in (new_username(p) for p in ("bob", "carol"))]
    for name, session in others:
        befriend(base, alice_api, session, name)
    created = alice_api.post(f"{base}/api/conversations", timeout=10,
                             json={"title": "Late", "members": [name for name, _ in others]})
    assert created.status_code == 201, created.text
    group_id = created.json()["conversation"]["id"]
    last = send(base, alice_api, group_id, "Anyone?")

    context, alice = signed_in_page(browser, base, alice_api)
    held, released = [], []
    handshake = re.compile(r"/socket\.io/")

    def hold(route) -> None:
        if released:
            route.continue_()
        else:
            held.append(route)

    alice.route(handshake, hold)
    status = alice.locator(".message.mine .message-status").last
    try:
        with alice.expect_request(handshake):  # the page's script has run and is connecting
            alice.goto(f"/chat/{group_id}")
        expect(status).to_have_text("Sent")
        for _, session in others:
            response = session.post(f"{base}/api/conversations/{group_id}/read", json={"message_id": last["id"]},
                                    timeout=10)
            assert response.status_code == 204, response.text
        released.append(True)
        for route in held:
            route.continue_()
        expect(status).to_have_text(f"Seen by {others[0][0]}, {others[1][0]}")
    finally:
        context.close()


def test_a_message_refused_for_its_length_offers_no_retry(live_stack, browser):
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    conversation_id = befriend(base, alice_api, bob_api, bob_name)
    context, page = signed_in_page(browser, base, alice_api)
    composer = page.locator("#composer-text")
    try:
        page.goto(f"/chat/{conversation_id}")
        expect(composer).to_be_editable()
        # What a paste into an older browser or a page with its limit removed can send.
        composer.evaluate("(box) => box.removeAttribute('maxlength')")
        composer.fill("y" * 5000)
        composer.press("Enter")
        expect(page.locator(".message.failed .message-status")).to_contain_text("Not sent:")
        expect(page.locator(".retry-button")).to_have_count(0)
    finally:
        context.close()


def test_a_message_too_large_to_send_says_so_and_the_page_stays_connected(live_stack, browser):
    """An event over the server's 64 KiB limit is refused by the page before it goes (over twice
    that the server would close the socket): the user reads why, and nothing else breaks."""
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    conversation_id = befriend(base, alice_api, bob_api, bob_name)
    context, page = signed_in_page(browser, base, alice_api)
    composer = page.locator("#composer-text")
    try:
        page.goto(f"/chat/{conversation_id}")
        expect(composer).to_be_editable()
        composer.evaluate("(box) => box.removeAttribute('maxlength')")
        composer.fill("é" * 40_000)  # 80 KB in UTF-8
        composer.press("Enter")
        expect(page.locator(".message.failed .message-status")).to_have_text("Not sent: message too large.",
                                                                             timeout=3000)
        expect(page.locator(".retry-button")).to_have_count(0)
        composer.fill("small enough")
        composer.press("Enter")
        expect(page.locator(".message.mine:not(.failed) .message-status").last).to_have_text("Sent")
        expect(page.locator("#connection-status")).to_be_hidden()
    finally:
        context.close()


def test_the_first_enter_of_a_page_is_never_lost(live_stack, browser):
    """Until the page's script can send, the composer takes no keys, so an early Enter cannot
    become a new line in a message that never goes; once it can, the first Enter sends."""
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    conversation_id = befriend(base, alice_api, bob_api, bob_name)
    context, page = signed_in_page(browser, base, alice_api)
    held = []
    script = re.compile(r"/static/js/app[^/]*\.js")

    def hold(route) -> None:
        held.append(route)  # the script is still on its way

    page.route(script, hold)
    composer = page.locator("#composer-text")
    try:
        # Module scripts run before DOMContentLoaded: only the response has arrived here.
        page.goto(f"/chat/{conversation_id}", wait_until="commit")
        expect(composer).to_be_focused()
        expect(composer).not_to_be_editable()
        page.wait_for_timeout(300)
        assert held, "the page did not ask for its script"
        held[0].continue_()
        page.unroute(script)
        composer.fill("typed right away")
        composer.press("Enter")
        expect(page.locator(".message.mine .bubble")).to_have_text(["typed right away"])
        expect(composer).to_have_value("")
        expect(page.locator(".message.mine .message-status")).to_have_text(re.compile("Sent|Seen"))
    finally:
        context.close()


def test_messages_written_offline_go_out_in_order_by_themselves(start_stack, browser, screenshot):
    with start_stack() as stack:
        base = stack.url
        alice_name, bob_name = new_username("alice"), new_username("bob")
        alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
        conversation_id = befriend(base, alice_api, bob_api, bob_name)
        context, page = signed_in_page(browser, base, alice_api, PHONE)
        composer = page.locator("#composer-text")
        statuses = page.locator(".message.mine .message-status")
        try:
            page.goto(f"/chat/{conversation_id}")
            expect(composer).to_be_editable()
            page.wait_for_function("() => document.getElementById('connection-status').hidden")

            stack.stop_chat(0)
            expect(page.locator("#connection-status")).to_have_text(re.compile("Reconnecting|Offline"))
            for text in ("first while away", "second while away", "third while away"):
                composer.fill(text)
                composer.press("Enter")
            expect(statuses.last).to_have_text("Waiting for connection…")
            expect(page.locator(".retry-button")).to_have_count(0)
            screenshot(page, "offline-queue-phone")

            stack.start_chat(0)
            expect(statuses.last).to_have_text(re.compile("Sent|Seen"), timeout=30000)
            expect(page.locator(".message.failed")).to_have_count(0)
            history = bob_api.get(f"{base}/api/conversations/{conversation_id}/messages", timeout=10).json()
            assert [m["text"] for m in history["messages"]] == \
                ["first while away", "second while away", "third while away"]
            page.reload()
            expect(page.locator(".message .bubble")).to_have_text(
                ["first while away", "second while away", "third while away"])
        finally:
            context.close()
