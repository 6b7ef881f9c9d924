"""Getting attention: desktop notifications asked for on a click, mute (with mentions still
notifying), the unread total in the title and favicon, and the optional sound."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from .conftest import DESKTOP, PHONE, api_session, befriend, new_username, open_conversation_actions, signed_in_page

pytestmark = pytest.mark.browser

# Stands in for the browser's Notification: records the permission request and every
# notification, and lets the test click one. Also counts the chime's oscillators.
FAKE_NOTIFICATIONS = """
window.__permissionRequests = 0;
window.__notifications = [];
window.__chimes = 0;
class FakeNotification extends EventTarget {
  constructor(title, options = {}) {
    super();
    this.title = title;
    this.body = options.body;
    this.tag = options.tag;
    window.__notifications.push(this);
  }
  close() {}
  static requestPermission() {
    window.__permissionRequests += 1;
    FakeNotification.permission = "granted";
    sessionStorage.setItem("fake-permission", "granted");  // kept across page loads, as a browser does
    return Promise.resolve("granted");
  }
}
FakeNotification.permission = sessionStorage.getItem("fake-permission") || "default";
window.Notification = FakeNotification;
const start = OscillatorNode.prototype.start;
OscillatorNode.prototype.start = function (...args) { window.__chimes += 1; return start.apply(this, args); };
"""


def send(base, session, conversation_id: int, text: str) -> dict:
    response = session.post(f"{base}/api/conversations/{conversation_id}/messages",
                            json={"text": text, "client_id": f"{text[:20]}-{time.monotonic_ns()}"}, timeout=10)
    assert response.status_code == 201, response.text
    return response.json()["message"]


def notifications(page) -> list[dict]:
    return page.evaluate("window.__notifications.map((n) => ({title: n.title, body: n.body}))")


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_notifications_mute_mentions_title_favicon_and_sound(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    alice_name, bob_name, carol_name = new_username("alice"), new_username("bob"), new_username("carol")
    alice_api, bob_api, carol_api = (api_session(base, n) for n in (alice_name, bob_name, carol_name))
    with_bob = befriend(base, alice_api, bob_api, bob_name)
    with_carol = befriend(base, alice_api, carol_api, carol_name)
    group = alice_api.post(f"{base}/api/conversations", json={"title": "Trip", "members": [bob_name, carol_name]},
                           timeout=10).json()["conversation"]["id"]
    context, page = signed_in_page(browser, base, alice_api, viewport)
    context.add_init_script(FAKE_NOTIFICATIONS)
    size = "phone" if viewport == PHONE else "desktop"
    try:
        page.goto(f"/chat/{with_bob}")
        expect(page.locator("#composer-text")).to_be_editable()
        # Never asked on load; asked on a click of the visible control.
        assert page.evaluate("window.__permissionRequests") == 0
        enable = page.locator("[data-enable-notifications]:visible")
        if viewport == PHONE:  # the list (with its prompt) is off screen while a chat is open
            page.locator("#settings-menu > summary").click()
        expect(enable.first).to_be_visible()
        screenshot(page, f"notifications-prompt-{size}")
        enable.first.click()
        expect(page.locator("[data-enable-notifications]:visible")).to_have_count(0)
        assert page.evaluate("window.__permissionRequests") == 1
        if page.locator("#settings-menu[open]").count() == 0:
            page.locator("#settings-menu > summary").click()
        page.locator("#sound-toggle").check()
        page.keyboard.press("Escape")
        expect(page.locator("#settings-menu")).not_to_have_attribute("open", "")

        # A message in the open, visible conversation: no notification.
        send(base, bob_api, with_bob, "right here")
        expect(page.locator(".message .bubble").last).to_have_text("right here")
        # One elsewhere: a notification with the sender and the text, the count in the title and favicon, a chime.
        send(base, carol_api, with_carol, "are you free tonight?")
        page.wait_for_function("() => window.__notifications.length === 1")
        assert notifications(page) == [{"title": carol_name, "body": "are you free tonight?"}]
        assert page.evaluate("window.__chimes") > 0
        expect(page).to_have_title(f"(1) {bob_name} · Parley")
        page.wait_for_function("() => document.querySelector('link[rel=icon]').href.startsWith('data:image/png')")

        # Muting the group: plain messages stay quiet, a mention of me still notifies.
        page.goto(f"/chat/{group}")
        mute = page.locator(".mute-toggle")
        expect(mute).to_have_attribute("aria-pressed", "false")
        open_conversation_actions(page)
        mute.click()
        expect(mute).to_have_attribute("aria-pressed", "true")
        assert alice_api.get(f"{base}/api/conversations/{group}", timeout=10).json()["conversation"]["muted"] is True
        page.goto(f"/chat/{with_carol}")
        expect(page.locator(".message .bubble").last).to_have_text("are you free tonight?")
        expect(page).to_have_title(f"{carol_name} · Parley")  # read now: nothing unread left
        send(base, carol_api, with_carol, "still there?")  # arrives live: the page is connected
        expect(page.locator(".message .bubble").last).to_have_text("still there?")
        send(base, bob_api, group, "who brings the tent")
        send(base, bob_api, group, f"@{alice_name} can you bring the stove?")
        # (The page was loaded again, so the record starts afresh.)
        page.wait_for_function("() => window.__notifications.length === 1")
        assert notifications(page) == [{"title": f"{bob_name} mentioned you in Trip",
                                          "body": f"@{alice_name} can you bring the stove?"}]
        # A muted conversation counts in the title only with its mention of me ("who brings the tent" does not).
        expect(page).to_have_title(f"(1) {carol_name} · Parley")
        if viewport == DESKTOP:
            expect(page.locator(f'.conversation-item[data-conversation-id="{group}"] .muted-mark')).to_be_visible()

        # Clicking the notification opens its conversation, with the mention highlighted.
        page.evaluate("window.__notifications[0].dispatchEvent(new Event('click'))")
        expect(page).to_have_url(f"{base}/chat/{group}")
        expect(page.locator(".message.mentions-me .mention")).to_have_text(f"@{alice_name}")
        screenshot(page, f"mention-muted-group-{size}")

        # The sound setting is remembered; unmuting works.
        page.locator("#settings-menu > summary").click()
        expect(page.locator("#sound-toggle")).to_be_checked()
        page.keyboard.press("Escape")
        open_conversation_actions(page)
        page.locator(".mute-toggle").click()
        expect(page.locator(".mute-toggle")).to_have_attribute("aria-pressed", "false")
        assert alice_api.get(f"{base}/api/conversations/{group}", timeout=10).json()["conversation"]["muted"] is False
    finally:
        context.close()


@pytest.mark.parametrize("answer, shown", [
    ("default", "Notifications are not enabled: allow them when the browser asks."),
    ("denied", "Notifications are blocked in this browser's settings."),
], ids=["dismissed", "denied"])
def test_enabling_notifications_says_why_they_stay_off(live_stack, browser, answer, shown):
    base = live_stack.url
    alice_api = api_session(base, new_username("alice"))
    context, page = signed_in_page(browser, base, alice_api)
    # The browser's question dismissed, or notifications blocked for the site.
    context.add_init_script(f"""
    window.Notification = class {{
      static permission = "default";
      static requestPermission() {{
        window.Notification.permission = "{answer}";
        return Promise.resolve("{answer}");
      }}
    }};""")
    try:
        page.goto("/chat")
        page.locator("#settings-menu > summary").click()
        expect(page.locator("#notification-state")).to_have_text("Notifications are not enabled.")
        page.keyboard.press("Escape")
        page.locator("#notify-prompt [data-enable-notifications]").click()
        expect(page.locator("#notify-prompt [data-notification-state]")).to_have_text(shown)
        expect(page.locator("#notify-prompt [data-notification-state]")).to_be_visible()
        page.locator("#settings-menu > summary").click()
        expect(page.locator("#notification-state")).to_have_text(shown)
    finally:
        context.close()


def test_mentions_in_muted_groups_count_and_the_rest_looks_quiet(live_stack, browser, screenshot):
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    with_bob = befriend(base, alice_api, bob_api, bob_name)
    groups = {}
    for title in ("Quiet", "Ping"):
        groups[title] = alice_api.post(f"{base}/api/conversations", json={"title": title, "members": [bob_name]},
                                       timeout=10).json()["conversation"]["id"]
        assert alice_api.put(f"{base}/api/conversations/{groups[title]}/mute", timeout=10).status_code == 200
    send(base, bob_api, groups["Quiet"], "nothing for you here")
    send(base, bob_api, groups["Ping"], "tents are packed")
    send(base, bob_api, groups["Ping"], f"@{alice_name} bring the stove")
    context, page = signed_in_page(browser, base, alice_api)
    row = lambda title: page.locator(f'.conversation-item[data-conversation-id="{groups[title]}"]')  # noqa: E731
    try:
        page.goto(f"/chat/{with_bob}")
        # Counted from the server's figures: only the mention of a muted group.
        expect(page).to_have_title(f"(1) {bob_name} · Parley")
        expect(row("Quiet")).to_have_class(re.compile(r"\bquiet\b"))
        expect(row("Ping")).not_to_have_class(re.compile(r"\bquiet\b"))
        expect(row("Quiet").locator(".badge")).to_have_text("1")
        expect(row("Quiet").locator(".conversation-preview")).to_have_css("font-weight", "400")
        screenshot(page, "muted-rows")
        # Live: another mention counts, another plain message does not.
        send(base, bob_api, groups["Quiet"], "still nothing")
        send(base, bob_api, groups["Quiet"], f"@{alice_name}, one for you")
        expect(page).to_have_title(f"(2) {bob_name} · Parley")
        expect(row("Quiet")).not_to_have_class(re.compile(r"\bquiet\b"))
        expect(row("Quiet").locator(".badge")).to_have_text("3")
    finally:
        context.close()
