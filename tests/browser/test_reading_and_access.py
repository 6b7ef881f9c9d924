"""Reading a long conversation (day separators, groups, "New messages", jump to latest), dark mode
remembered before the first paint, keyboard shortcuts and screen-reader announcements."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PHONE, api_session, befriend, new_username, signed_in_page

pytestmark = pytest.mark.browser


def send(base, session, conversation_id: int, text: str) -> dict:
    response = session.post(f"{base}/api/conversations/{conversation_id}/messages",
                            json={"text": text, "client_id": f"{text[:20]}-{time.monotonic_ns()}"}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["message"]


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_reading_a_long_conversation(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    alice_name, bob_name, carol_name = new_username("alice"), new_username("bob"), new_username("carol")
    alice_api, bob_api, carol_api = (api_session(base, n) for n in (alice_name, bob_name, carol_name))
    befriend(base, alice_api, bob_api, bob_name)
    befriend(base, alice_api, carol_api, carol_name)
    group = alice_api.post(f"{base}/api/conversations", json={"title": "Trip", "members": [bob_name, carol_name]},
                           timeout=10).json()["conversation"]["id"]
    send(base, alice_api, group, "plan for saturday?")  # alice has read up to here
    for n in range(1, 31):
        send(base, bob_api, group, f"bob says {n}")
    context, page = signed_in_page(browser, base, alice_api, viewport)
    size = "phone" if viewport == PHONE else "desktop"
    try:
        page.goto(f"/chat/{group}")
        divider = page.locator(".unread-divider")
        expect(divider).to_have_text("New messages")
        # It sits right before bob's first message, and the page opens there rather than at the bottom.
        assert divider.evaluate("(node) => node.nextElementSibling.querySelector('.bubble').textContent") == "bob says 1"
        expect(divider).to_be_in_viewport()
        expect(page.locator(".day-divider").first).to_have_text("Today")
        # One name per run of messages from one sender, one time stamp at its end.
        bob_run = page.locator(".message", has_text="bob says")
        expect(bob_run.first.locator(".message-sender")).to_be_visible()
        expect(bob_run.nth(1).locator(".message-sender")).to_be_hidden()
        expect(bob_run.nth(1)).to_have_class("message continued group-inner")
        expect(bob_run.last.locator(".message-meta time")).to_be_visible()
        screenshot(page, f"new-messages-divider-{size}")

        # Scrolled up, the unread messages below are counted on the jump button, new ones too.
        jump = page.locator(".jump-latest")
        expect(jump).to_have_text(re.compile(r"↓ \d+ new messages"))
        below = int(jump.inner_text().split()[1])
        send(base, carol_api, group, "count me")
        send(base, carol_api, group, "me too")
        expect(jump).to_have_text(f"↓ {below + 2} new messages")
        screenshot(page, f"jump-to-latest-{size}")
        jump.click()
        expect(page.locator(".message .bubble").last).to_be_in_viewport()
        expect(jump).to_be_hidden()
        expect(page.locator("#composer-text")).to_be_focused()
        # Carol's two messages are a new group with her name once.
        expect(page.locator(".message", has_text="count me").locator(".message-sender")).to_have_text(carol_name)
        expect(page.locator(".message", has_text="me too").locator(".message-sender")).to_be_hidden()

        # Day labels: Today, Yesterday, then the date in the user's locale.
        labels = page.evaluate("""async () => {
            const { dayLabel } = await import("/static/js/timeline.js");
            const now = new Date(2026, 10, 28, 12);
            return [dayLabel(new Date(2026, 10, 28, 0, 5), now), dayLabel(new Date(2026, 10, 27, 23), now),
                    dayLabel(new Date(2026, 10, 20, 9), now), dayLabel(new Date(2025, 0, 2, 9), now)];
        }""")
        assert labels == ["Today", "Yesterday", "Friday, November 20", "Thursday, January 2, 2025"]
    finally:
        context.close()


def unread_count(base, session, conversation_id: int) -> int:
    conversations = session.get(f"{base}/api/conversations", timeout=10).json()["conversations"]
    return next(c["unread_count"] for c in conversations if c["id"] == conversation_id)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_what_was_on_screen_is_read_and_the_rest_counted(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    direct = befriend(base, alice_api, bob_api, bob_name)
    for n in range(1, 33):
        send(base, alice_api, direct, f"news item {n}")
    context, page = signed_in_page(browser, base, bob_api, viewport)
    size = "phone" if viewport == PHONE else "desktop"
    try:
        page.goto(f"/chat/{direct}")
        expect(page.locator(".unread-divider")).to_be_in_viewport()
        # The jump button counts exactly the messages still below the screen ...
        jump = page.locator(".jump-latest")
        expect(jump).to_have_text(re.compile(r"↓ \d+ new messages"))
        below = page.evaluate("""() => {
            const bottom = document.getElementById("message-scroller").getBoundingClientRect().bottom;
            return [...document.querySelectorAll("#message-list > .message")]
                .filter((node) => node.getBoundingClientRect().bottom > bottom + 1).length;
        }""")
        assert 0 < below < 32
        expect(jump).to_have_text(f"↓ {below} new messages")
        screenshot(page, f"read-up-to-screen-{size}")
        # ... and what was on screen is read: the list's badge, after going back, is what is left.
        deadline = time.monotonic() + 10
        while unread_count(base, bob_api, direct) != below and time.monotonic() < deadline:
            time.sleep(0.1)
        assert unread_count(base, bob_api, direct) == below
        page.goto("/chat")
        expect(page.locator(f'.conversation-item[data-conversation-id="{direct}"] .badge')).to_have_text(str(below))

        # Opening again starts at the first of those; reaching the bottom reads everything.
        page.goto(f"/chat/{direct}")
        expect(page.locator(".unread-divider + .message .bubble")).to_have_text(f"news item {33 - below}")
        jump.click()
        expect(jump).to_be_hidden()
        deadline = time.monotonic() + 10
        while unread_count(base, bob_api, direct) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert unread_count(base, bob_api, direct) == 0
    finally:
        context.close()


def test_a_phone_header_shows_the_group_name_and_keeps_every_action(live_stack, browser, screenshot):
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    befriend(base, alice_api, bob_api, bob_name)
    name = "Weekend hiking plans"  # 20 characters
    group = alice_api.post(f"{base}/api/conversations", json={"title": name, "members": [bob_name]},
                           timeout=10).json()["conversation"]["id"]
    context = browser.new_context(base_url=base, viewport=PHONE, has_touch=True)
    context.add_cookies([{"name": c.name, "value": c.value, "url": base, "httpOnly": True, "sameSite": "Lax"}
                         for c in alice_api.cookies])
    page = context.new_page()
    try:
        page.goto(f"/chat/{group}")
        title = page.locator("#conversation-title")
        expect(title).to_have_text(name)
        expect(page.locator("#conversation-actions > .button")).to_have_count(3)  # search, mute, members
        assert title.evaluate("(node) => node.scrollWidth <= node.clientWidth"), "the name is cut"
        screenshot(page, "phone-group-header")

        # By touch: "⋯" opens the actions, and each one still works.
        more = page.get_by_role("button", name="Conversation actions")
        more.tap()
        expect(more).to_have_attribute("aria-expanded", "true")
        for action in ("Search", "Mute", "Members"):
            expect(page.locator("#conversation-actions").get_by_role("button", name=action)).to_be_visible()
        screenshot(page, "phone-conversation-actions")
        page.get_by_role("button", name="Members").tap()
        expect(page.locator("#group-panel")).to_be_visible()
        expect(more).to_have_attribute("aria-expanded", "false")

        # By keyboard: Enter opens it on its first action, Esc closes it back onto "⋯".
        more.focus()
        page.keyboard.press("Enter")
        expect(page.locator("#conversation-search-toggle")).to_be_focused()
        page.keyboard.press("Enter")
        expect(page.locator("#search-conversation")).to_be_visible()
        more.focus()
        page.keyboard.press("Enter")
        expect(page.locator(".mute-toggle")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator(".mute-toggle")).to_be_hidden()
        expect(more).to_be_focused()

        # On a desktop the actions stay in the header, without the menu.
        page.set_viewport_size(DESKTOP)
        expect(more).to_be_hidden()
        expect(page.locator(".mute-toggle")).to_be_visible()
    finally:
        context.close()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_theme_is_remembered_and_follows_the_system(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    alice_name = new_username("alice")
    alice_api = api_session(base, alice_name)
    size = "phone" if viewport == PHONE else "desktop"
    context = browser.new_context(base_url=base, viewport=viewport, color_scheme="dark")
    # Records the theme at the moment <body> starts, before anything is painted.
    context.add_init_script("""new MutationObserver((_, observer) => {
        if (document.body) { window.__themeAtBody = document.documentElement.dataset.theme; observer.disconnect(); }
    }).observe(document, { childList: true, subtree: true });""")
    page = context.new_page()
    background = "getComputedStyle(document.body).backgroundColor"
    try:
        page.goto("/login")
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"  # follows the system
        dark_background = page.evaluate(background)
        page.locator("#theme-choice").select_option("light")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        assert page.evaluate(background) != dark_background
        page.reload()
        assert page.evaluate("window.__themeAtBody") == "light"
        expect(page.locator("#theme-choice")).to_have_value("light")
        screenshot(page, f"theme-light-on-dark-system-{size}")

        # Logged in, from the settings menu: dark, then back to the system's.
        context.add_cookies([{"name": c.name, "value": c.value, "url": base, "httpOnly": True, "sameSite": "Lax"}
                             for c in alice_api.cookies])
        page.goto("/chat")
        page.locator("#settings-menu > summary").click()
        page.locator("#theme-choice").select_option("dark")
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
        page.goto("/friends")
        assert page.evaluate("window.__themeAtBody") == "dark"
        screenshot(page, f"theme-dark-friends-{size}")
        page.emulate_media(color_scheme="light")
        page.locator("#settings-menu > summary").click()
        page.locator("#theme-choice").select_option("system")
        expect(page.locator("html")).to_have_attribute("data-theme", "light")
        page.emulate_media(color_scheme="dark")
        expect(page.locator("html")).to_have_attribute("data-theme", "dark")
    finally:
        context.close()


def test_keyboard_shortcuts_focus_rings_and_announcements(live_stack, browser):
    base = live_stack.url
    alice_name, bob_name, carol_name = new_username("alice"), new_username("bob"), new_username("carol")
    alice_api, bob_api, carol_api = (api_session(base, n) for n in (alice_name, bob_name, carol_name))
    with_bob = befriend(base, alice_api, bob_api, bob_name)
    with_carol = befriend(base, alice_api, carol_api, carol_name)
    send(base, bob_api, with_bob, "older")
    send(base, carol_api, with_carol, "newer")  # carol's chat is first in the list
    context, page = signed_in_page(browser, base, alice_api)
    try:
        page.goto(f"/chat/{with_carol}")
        expect(page.locator("#composer-text")).to_be_editable()
        page.keyboard.press("Alt+ArrowDown")
        expect(page).to_have_url(f"{base}/chat/{with_bob}")
        expect(page.locator("#composer-text")).to_be_editable()
        page.keyboard.press("Alt+ArrowUp")
        expect(page).to_have_url(f"{base}/chat/{with_carol}")
        expect(page.locator("#composer-text")).to_be_editable()

        # Ctrl+K goes to the list; arrows walk it; the focus ring shows.
        page.keyboard.press("Control+k")
        current = page.locator(f'.conversation-item[data-conversation-id="{with_carol}"] a')
        expect(current).to_be_focused()
        # (The list may be drawn again when the socket connects; the locator finds the new link.)
        expect(current).to_have_css("outline-style", "solid")
        page.keyboard.press("ArrowDown")
        expect(page.locator(f'.conversation-item[data-conversation-id="{with_bob}"] a')).to_be_focused()
        # Alt+N (or "/") goes to the composer.
        page.keyboard.press("Alt+n")
        expect(page.locator("#composer-text")).to_be_focused()
        page.locator("#message-scroller").focus()
        page.keyboard.press("/")
        expect(page.locator("#composer-text")).to_be_focused()
        expect(page.locator("#composer-text")).to_have_value("")

        # Esc closes the settings menu and puts focus back on its button.
        page.locator("#settings-menu > summary").click()
        expect(page.locator("#theme-choice")).to_be_visible()
        page.keyboard.press("Escape")
        expect(page.locator("#theme-choice")).to_be_hidden()
        expect(page.locator("#settings-menu > summary")).to_be_focused()

        # New messages are announced in a polite live region.
        announcer = page.locator("#announcer")
        assert announcer.get_attribute("aria-live") == "polite"
        send(base, carol_api, with_carol, "can you hear me")
        expect(announcer).to_have_text(f"{carol_name}: can you hear me")
        send(base, bob_api, with_bob, "over here")
        expect(announcer).to_have_text(f"New message from {bob_name}")
    finally:
        context.close()


def test_the_read_only_notice_keeps_the_last_message_in_view(live_stack, browser, screenshot):
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    direct = befriend(base, alice_api, bob_api, bob_name)
    for n in range(1, 31):
        send(base, bob_api, direct, f"line {n}")
    context, page = signed_in_page(browser, base, alice_api, PHONE)
    try:
        page.goto(f"/chat/{direct}")
        jump = page.locator(".jump-latest")
        jump.click()
        expect(jump).to_be_hidden()
        last = page.locator(".message").last
        expect(last).to_be_in_viewport(ratio=1)
        # bob unfriends alice while she reads at the bottom: the notice appears, the last line stays in view.
        assert bob_api.delete(f"{base}/api/friends/{alice_name}", timeout=10).status_code == 204
        expect(page.locator("#read-only-notice")).to_be_visible()
        expect(last).to_be_in_viewport(ratio=1)
        expect(jump).to_be_hidden()
        screenshot(page, "read-only-notice-at-bottom-phone")
    finally:
        context.close()


def test_dark_mode_keeps_presence_and_flash_colours(live_stack, browser, screenshot):
    base = live_stack.url
    alice_name, bob_name, carol_name = new_username("alice"), new_username("bob"), new_username("carol")
    alice_api, bob_api, _ = (api_session(base, n) for n in (alice_name, bob_name, carol_name))
    befriend(base, alice_api, bob_api, bob_name)
    bob_context, bob = signed_in_page(browser, base, bob_api)
    context = browser.new_context(base_url=base, viewport=DESKTOP, color_scheme="dark")
    context.add_cookies([{"name": c.name, "value": c.value, "url": base, "httpOnly": True, "sameSite": "Lax"}
                         for c in alice_api.cookies])
    page = context.new_page()
    try:
        bob.goto("/chat")
        page.goto(f"/friends?q={carol_name}")
        dot = page.locator("#friends-list .presence-dot").first
        expect(dot).to_have_attribute("data-online", "true")
        expect(dot).to_have_css("background-color", "rgb(22, 163, 74)")  # green, not the offline grey
        # The add-friend form, sent for someone who does not exist, answers with an error: red, not grey.
        # A copy of it is sent: the page's live refresh may swap the original out of the document.
        page.locator("#search-results form").evaluate("""(form) => {
            const copy = document.body.appendChild(form.cloneNode(true));
            copy.elements.username.value = "nobody_" + Date.now();
            copy.submit();
        }""")
        expect(page.locator(".flash-error")).to_have_css("background-color", "rgb(127, 29, 29)")
        screenshot(page, "dark-error-flash")
        page.goto(f"/friends?q={carol_name}")
        page.get_by_role("button", name=f"Add friend {carol_name}").click()
        expect(page.locator(".flash-success")).to_have_css("background-color", "rgb(20, 83, 45)")
    finally:
        context.close()
        bob_context.close()
