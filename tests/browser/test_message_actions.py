"""Editing in place, deleting, reacting, replying and links, in Chromium on desktop and phone."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PHONE, api_session, befriend, new_username, signed_in_page

pytestmark = pytest.mark.browser


def send(base, session, conversation_id: int, text: str, **body) -> dict:
    response = session.post(f"{base}/api/conversations/{conversation_id}/messages",
                            json={"text": text, "client_id": f"c-{time.monotonic_ns()}", **body}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["message"]


def pair(base, *, with_names: bool = False):
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    found = alice_api, bob_api, befriend(base, alice_api, bob_api, bob_name)
    return (*found, bob_name) if with_names else found


def message(page, text):
    return page.locator(".message", has=page.locator(".bubble", has_text=re.compile(f"^{re.escape(text)}$")))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_edit_in_place_and_delete_are_seen_live(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    alice_api, bob_api, conversation_id, bob_name = pair(base, with_names=True)
    send(base, alice_api, conversation_id, "first words")
    alice_ctx, alice = signed_in_page(browser, base, alice_api, viewport)
    bob_ctx, bob = signed_in_page(browser, base, bob_api, viewport)
    try:
        alice.goto(f"/chat/{conversation_id}")
        bob.goto(f"/chat/{conversation_id}")
        expect(bob.locator(".message .bubble")).to_have_text(["first words"])

        # Up in the empty composer edits my last message; Esc leaves it as it was.
        alice.locator("#composer-text").press("ArrowUp")
        field = alice.locator(".edit-text")
        expect(field).to_have_value("first words")
        field.press("Escape")
        expect(alice.locator(".edit-text")).to_have_count(0)
        expect(alice.locator("#composer-text")).to_be_focused()

        alice.locator("#composer-text").press("ArrowUp")
        edited = f"better words, @{bob_name}"
        alice.locator(".edit-text").fill(edited)
        alice.locator(".edit-text").press("Enter")
        expect(alice.locator(".message .bubble")).to_have_text([edited])
        expect(bob.locator(".message .bubble")).to_have_text([edited])
        expect(bob.locator(".message .edited")).to_have_text(["(edited)"])
        # A mention written in an edit is shown as one on both pages, and as of the reader on theirs.
        expect(alice.locator(".message .bubble .mention")).to_have_text([f"@{bob_name}"])
        expect(bob.locator(".message.mentions-me .bubble .mention")).to_have_text([f"@{bob_name}"])
        screenshot(alice, f"message-edited-{viewport['width']}")

        # The conversation list's preview follows the edit.
        if viewport is DESKTOP:
            expect(bob.locator(".conversation-item .conversation-preview")).to_have_text([edited])

        mine = message(alice, edited)
        mine.hover()
        mine.locator(".delete-button").click()
        alice.locator(".delete-yes").click()
        expect(alice.locator(".message.deleted .bubble")).to_have_text(["message deleted"])
        expect(bob.locator(".message.deleted .bubble")).to_have_text(["message deleted"])
        assert "better words" not in bob.content()
        screenshot(bob, f"message-deleted-{viewport['width']}")

        # A reload shows the same: the tombstone comes from history.
        bob.reload()
        expect(bob.locator(".message.deleted .bubble")).to_have_text(["message deleted"])
    finally:
        alice_ctx.close()
        bob_ctx.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_reactions_from_the_picker_and_the_counts(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    alice_api, bob_api, conversation_id = pair(base)
    sent = send(base, alice_api, conversation_id, "party tonight")
    alice_ctx, alice = signed_in_page(browser, base, alice_api, viewport)
    bob_ctx, bob = signed_in_page(browser, base, bob_api, viewport)
    try:
        alice.goto(f"/chat/{conversation_id}")
        bob.goto(f"/chat/{conversation_id}")
        theirs = message(bob, "party tonight")
        theirs.hover()
        theirs.locator(".react-button").click()
        bob.locator(".reaction-picker .pick", has_text="🎉").click()
        expect(bob.locator(".reaction")).to_have_text(["🎉 1"])
        expect(bob.locator(".reaction.me")).to_have_count(1)
        expect(alice.locator(".reaction")).to_have_text(["🎉 1"])
        expect(alice.locator(".reaction.me")).to_have_count(0)

        # Clicking a count adds mine to it, clicking again takes it off.
        alice.locator(".reaction").click()
        expect(bob.locator(".reaction")).to_have_text(["🎉 2"])
        expect(alice.locator(".reaction.me")).to_have_text(["🎉 2"])
        screenshot(alice, f"reactions-{viewport['width']}")
        alice.locator(".reaction").click()
        expect(bob.locator(".reaction")).to_have_text(["🎉 1"])
        reactions = alice_api.get(f"{base}/api/messages/{sent['id']}/reactions", timeout=10).json()["reactions"]
        assert [(r["emoji"], r["count"], r["me"]) for r in reactions] == [("🎉", 1, False)]
    finally:
        alice_ctx.close()
        bob_ctx.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_reply_quotes_and_jumps_to_an_old_message(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    alice_api, bob_api, conversation_id = pair(base)
    original = send(base, alice_api, conversation_id, "the very first question")
    for number in range(130):  # more than two pages: the original is not loaded at first
        send(base, bob_api, conversation_id, f"filler {number}")
    send(base, bob_api, conversation_id, "the answer", reply_to=original["id"])
    context, page = signed_in_page(browser, base, alice_api, viewport)
    try:
        page.goto(f"/chat/{conversation_id}")
        # The page fetches what it may have missed once its socket connects (catchUp); a click on
        # the quote while that is still going on can be lost, so let it finish first.
        page.wait_for_load_state("networkidle")
        reply = message(page, "the answer")
        expect(reply.locator(".reply-quote")).to_contain_text("the very first question")
        expect(message(page, "the very first question")).to_have_count(0)
        reply.locator(".reply-quote").click()
        first = message(page, "the very first question")
        expect(first).to_be_in_viewport()
        screenshot(page, f"reply-jump-{viewport['width']}")

        # Replying from the page: the quote shows above my bubble, for both of us.
        last = message(page, "the answer")
        last.scroll_into_view_if_needed()
        last.hover()
        last.locator(".reply-button").click()
        expect(page.locator(".reply-bar")).to_contain_text("the answer")
        page.locator("#composer-text").fill("thanks for the answer")
        page.locator("#composer-text").press("Enter")
        mine = message(page, "thanks for the answer")
        expect(mine.locator(".reply-quote")).to_contain_text("the answer")
        expect(mine).to_have_attribute("data-id", re.compile(r"^\d+$"))  # stored
        expect(page.locator(".reply-bar")).to_be_hidden()
        stored = alice_api.get(f"{base}/api/conversations/{conversation_id}/messages?limit=1", timeout=10).json()
        assert stored["messages"][0]["reply_to"]["excerpt"] == "the answer"

        # Esc drops a reply being written.
        last.hover()
        last.locator(".reply-button").click()
        expect(page.locator(".reply-bar")).to_be_visible()
        page.locator("#composer-text").press("Escape")
        expect(page.locator(".reply-bar")).to_be_hidden()
    finally:
        context.close()


HOSTILE = ("see https://example.com/a?b=1, example.org and bob@example.net "
           "javascript:alert(1) data:text/html,<b>x</b> <img src=x onerror=window.pwned=1> "
           "[x](javascript:alert(2)) file.txt")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_links_are_safe(live_stack, browser, viewport):
    base = live_stack.url
    alice_api, bob_api, conversation_id = pair(base)
    send(base, alice_api, conversation_id, HOSTILE)
    context, page = signed_in_page(browser, base, bob_api, viewport)
    try:
        page.goto(f"/chat/{conversation_id}")
        bubble = page.locator(".message .bubble")
        expect(bubble).to_have_text([HOSTILE])
        links = bubble.locator("a")
        expect(links).to_have_count(2)
        assert [links.nth(i).get_attribute("href") for i in range(2)] == ["https://example.com/a?b=1",
                                                                          "https://example.org/"]
        for i in range(2):
            assert links.nth(i).get_attribute("rel") == "noopener noreferrer"
            assert links.nth(i).get_attribute("target") == "_blank"
        assert bubble.locator("img, b, script").count() == 0
        assert page.evaluate("window.pwned") is None
    finally:
        context.close()


LINKIFIER_CASES = [
    ("plain words", []),
    ("https://example.com/path?q=1#x", [("https://example.com/path?q=1#x", "https://example.com/path?q=1#x")]),
    ("Visit example.com.", [("example.com", "https://example.com/")]),
    ("(see https://en.wikipedia.org/wiki/Foo_(bar))", [("https://en.wikipedia.org/wiki/Foo_(bar)",
                                                        "https://en.wikipedia.org/wiki/Foo_(bar)")]),
    ("www.example.co.uk/a", [("www.example.co.uk/a", "https://www.example.co.uk/a")]),
    ("HTTP://EXAMPLE.ORG", [("HTTP://EXAMPLE.ORG", "http://example.org/")]),
    ("mail bob@example.com", []),
    ("javascript:alert(1)", []),
    ("javascript:alert(1)//example.com", []),
    ("JaVaScRiPt:alert(1)", []),
    ("data:text/html;base64,PHNjcmlwdD4=", []),
    ("vbscript:msgbox(1) file:///etc/passwd ftp://example.com", []),
    ("version 1.2.3 and notes.txt", []),
    ("http://<script>alert(1)</script>", []),
]


def test_the_linkifier_in_chromium(live_stack, browser):
    """linkify.js's pieces for tricky input, run in the browser it is written for."""
    context = browser.new_context(base_url=live_stack.url)
    page = context.new_page()
    try:
        page.goto("/login")
        results = page.evaluate("""async (cases) => {
            const { linkPieces } = await import('/static/js/linkify.js');
            return cases.map((text) => linkPieces(text).filter((p) => p.href).map((p) => [p.text, p.href]));
        }""", [text for text, _ in LINKIFIER_CASES])
        for (text, expected), got in zip(LINKIFIER_CASES, results):
            assert [tuple(pair) for pair in got] == expected, text
    finally:
        context.close()
