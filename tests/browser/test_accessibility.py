"""Every page passes axe-core with no serious or critical violation, in both themes and both sizes:
chats, friends, the account page and the account deletion page (with avatars shown as pictures)."""

from __future__ import annotations

import io
import time

import pytest
from PIL import Image

from .conftest import DESKTOP, PHONE, api_session, befriend, new_username, open_conversation_actions

pytestmark = pytest.mark.browser

# Vendored next to socket.io-client (see web_frontend/static/vendor/VERSION); no page loads it.
AXE = "/static/vendor/axe-core-4.14.1.min.js"


def violations(page) -> list[str]:
    page.add_script_tag(url=AXE)
    found = page.evaluate("""async () => {
        const result = await axe.run(document, { resultTypes: ["violations", "incomplete"] });
        const serious = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
        // axe files text drawn in its own background colour (contrast 1:1) as "incomplete", not as a
        // violation, taking it for deliberately hidden text; no visible text here is meant to be hidden.
        const invisible = result.incomplete.filter((v) => v.id === "color-contrast")
            .map((v) => ({ ...v, nodes: v.nodes.filter((n) => n.any.some((c) => c.data && c.data.messageKey === "equalRatio")) }))
            .filter((v) => v.nodes.length);
        return serious.concat(invisible)
            .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")}`);
    }""")
    return found


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_every_page_has_no_serious_accessibility_violation(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    alice_name, bob_name, carol_name = new_username("alice"), new_username("bob"), new_username("carol")
    alice_api, bob_api, carol_api = (api_session(base, n) for n in (alice_name, bob_name, carol_name))
    direct_id = befriend(base, alice_api, bob_api, bob_name)
    befriend(base, alice_api, carol_api, carol_name)
    group = alice_api.post(f"{base}/api/conversations", json={"title": "Trip", "members": [bob_name, carol_name]},
                           timeout=10).json()["conversation"]
    for session, text in ((alice_api, "see you"), (bob_api, f"@{alice_name} are you in?"), (bob_api, "later")):
        response = session.post(f"{base}/api/conversations/{group['id']}/messages",
                                json={"text": text, "client_id": f"a11y-{time.monotonic_ns()}"}, timeout=10)
        assert response.status_code == 201, response.text
    bob_api.post(f"{base}/api/conversations/{direct_id}/messages", json={"text": "hi", "client_id": "a11y-d"}, timeout=10)
    # Avatars as pictures too (alice's own, and bob's in her lists), not only as initials.
    for session in (alice_api, bob_api):
        photo = io.BytesIO()
        Image.new("RGB", (80, 80), (40, 140, 90)).save(photo, format="PNG")
        avatar = session.put(f"{base}/api/me/avatar", files={"file": ("me.png", photo.getvalue(), "image/png")},
                             timeout=10)
        assert avatar.status_code == 200, avatar.text

    logged_in = [("chat", "/chat"), ("chat-group", f"/chat/{group['id']}"), ("chat-direct", f"/chat/{direct_id}"),
                 ("friends", "/friends"), ("account", "/account"), ("account-delete", "/account/delete"),
                 ("not-found", "/no-such-page")]
    logged_out = [("login", "/login"), ("register", "/register")]
    problems = []
    for scheme in ("light", "dark"):
        member = browser.new_context(base_url=base, viewport=viewport, color_scheme=scheme)
        member.add_cookies([{"name": c.name, "value": c.value, "url": base, "httpOnly": True, "sameSite": "Lax"}
                            for c in alice_api.cookies])
        visitor = browser.new_context(base_url=base, viewport=viewport, color_scheme=scheme)
        try:
            for context, pages in ((member, logged_in), (visitor, logged_out)):
                page = context.new_page()
                for name, path in pages:
                    page.goto(path)
                    page.wait_for_load_state("networkidle")
                    assert page.evaluate("document.documentElement.dataset.theme") == scheme
                    problems += [f"{name} {scheme}: {v}" for v in violations(page)]
                    if name == "chat-group":
                        # The open members panel (with its danger button) and the settings menu are checked too.
                        open_conversation_actions(page)
                        page.locator("[aria-controls=group-panel]").click()
                        page.get_by_role("button", name="Leave group").wait_for()
                        problems += [f"members panel {scheme}: {v}" for v in violations(page)]
                        page.locator("#settings-menu > summary").click()
                        problems += [f"settings menu {scheme}: {v}" for v in violations(page)]
                        screenshot(page, f"a11y-{name}-{scheme}-{'phone' if viewport == PHONE else 'desktop'}")
        finally:
            member.close()
            visitor.close()
    assert problems == [], "\n".join(problems)
