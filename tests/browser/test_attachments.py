"""Attachments in the browser: attach (picker, drop, paste), upload progress, cancel, send;
the friend sees the thumbnail and the file card live, opens the lightbox and closes it with Esc.
Desktop and phone size."""

from __future__ import annotations

import base64
import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from .conftest import DESKTOP, PHONE, api_session, befriend, new_username, signed_in_page

pytestmark = pytest.mark.browser


def png(size=(900, 600), color=(30, 140, 90)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, color).save(out, format="PNG")
    return out.getvalue()


def drop_files(page, selector: str, files: list[tuple[str, str, bytes]], event: str = "drop") -> None:
    """Drop (or paste) files on an element, as a person dragging them from their desktop would."""
    page.evaluate("""([selector, files, event]) => {
        const transfer = new DataTransfer();
        for (const [name, type, data] of files) {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            transfer.items.add(new File([bytes], name, { type }));
        }
        const target = document.querySelector(selector);
        if (event === "paste") {
            target.dispatchEvent(new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true }));
        } else {
            target.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
            target.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }
    }""", [selector, [[name, type_, base64.b64encode(data).decode()] for name, type_, data in files], event])


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_send_an_image_and_a_file_the_friend_sees_them(live_stack, browser, screenshot, viewport):
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    conversation_id = befriend(base, alice_api, bob_api, bob_name)
    alice_ctx, alice = signed_in_page(browser, base, alice_api, viewport)
    bob_ctx, bob = signed_in_page(browser, base, bob_api, viewport)
    name = "desktop" if viewport == DESKTOP else "phone"
    try:
        bob.goto(f"/chat/{conversation_id}")
        alice.goto(f"/chat/{conversation_id}")
        expect(alice.locator(".attach-button")).to_be_visible()

        # Picked with the attach button's file picker: uploads at once, with its progress bar.
        alice.set_input_files("#attachment-picker", files=[
            {"name": "meadow.png", "mimeType": "image/png", "buffer": png()}])
        item = alice.locator(".attachment-item", has_text="meadow.png")
        expect(item.locator("progress")).to_be_attached()
        expect(item).to_have_class("attachment-item uploaded")
        assert item.locator("progress").evaluate("p => p.value") == 1

        # Dropped, then taken back before sending: cancel removes it from the message.
        drop_files(alice, ".pane", [("unwanted.txt", "text/plain", b"never sent")])
        unwanted = alice.locator(".attachment-item", has_text="unwanted.txt")
        expect(unwanted).to_be_visible()
        unwanted.locator(".attachment-cancel").click()
        expect(unwanted).to_have_count(0)

        # Pasted into the composer.
        drop_files(alice, "#composer-text", [("notes.txt", "text/plain", b"x" * 2048)], event="paste")
        expect(alice.locator(".attachment-item.uploaded")).to_have_count(2)
        screenshot(alice, f"attachments-tray-{name}")

        alice.locator("#composer-text").fill("Look at this")
        alice.locator("#composer-text").press("Enter")
        expect(alice.locator(".attachment-tray")).to_be_hidden()
        mine = alice.locator(".message.mine").last
        expect(mine.locator(".message-status")).to_have_text(re.compile("Sent|Seen"))  # bob has it open
        expect(mine.locator(".attachment-image img")).to_be_visible()

        # Bob gets it live: text, thumbnail (loaded) and the file card with name and size.
        message = bob.locator(".message", has_text="Look at this")
        expect(message.locator(".bubble")).to_have_text("Look at this")
        thumbnail = message.locator(".attachment-image img")
        expect(thumbnail).to_be_visible()
        expect(thumbnail).to_have_attribute("alt", "meadow.png")
        bob.wait_for_function("img => img.complete && img.naturalWidth === 320", arg=thumbnail.element_handle())
        card = message.locator(".attachment-file")
        expect(card.locator(".attachment-file-name")).to_have_text("notes.txt")
        expect(card.locator(".attachment-file-size")).to_have_text("2.0 KB")
        expect(message).not_to_contain_text("unwanted.txt")
        box = message.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= viewport["width"]
        screenshot(bob, f"attachments-received-{name}")

        # The lightbox shows the full image; Esc closes it.
        thumbnail.click()
        lightbox = bob.locator("dialog.lightbox")
        expect(lightbox).to_be_visible()
        expect(lightbox.locator(".lightbox-caption")).to_contain_text("meadow.png")
        bob.wait_for_function("img => img.complete && img.naturalWidth === 900",
                              arg=lightbox.locator(".lightbox-image").element_handle())
        screenshot(bob, f"attachments-lightbox-{name}")
        bob.keyboard.press("Escape")
        expect(lightbox).to_be_hidden()

        # After a reload it is still there (from history), and the list says what was sent.
        bob.reload()
        expect(bob.locator(".message", has_text="Look at this").locator(".attachment-image img")).to_be_visible()
    finally:
        alice_ctx.close()
        bob_ctx.close()


def test_a_picture_alone_and_a_refused_upload(live_stack, browser):
    base = live_stack.url
    alice_name, bob_name = new_username("alice"), new_username("bob")
    alice_api, bob_api = api_session(base, alice_name), api_session(base, bob_name)
    conversation_id = befriend(base, alice_api, bob_api, bob_name)
    context, alice = signed_in_page(browser, base, alice_api)
    try:
        alice.goto(f"/chat/{conversation_id}")
        # An empty file is refused: the tray says why, and nothing is sent with it.
        alice.set_input_files("#attachment-picker", files=[{"name": "empty.txt", "mimeType": "text/plain",
                                                            "buffer": b""}])
        expect(alice.locator(".attachment-item.failed .attachment-status")).to_contain_text("must not be empty")
        alice.locator(".attachment-item.failed .attachment-cancel").click()
        # A picture with no text is a message of its own.
        alice.set_input_files("#attachment-picker", files=[{"name": "dot.png", "mimeType": "image/png",
                                                            "buffer": png((40, 40))}])
        expect(alice.locator(".attachment-item.uploaded")).to_have_count(1)
        alice.locator(".send-button").click()
        mine = alice.locator(".message.mine").last
        expect(mine.locator(".message-status")).to_have_text("Sent")
        expect(mine.locator(".attachment-image img")).to_be_visible()
        expect(mine.locator(".bubble")).to_have_count(0)
        expect(alice.locator(".conversation-item", has_text=bob_name)).to_contain_text("You: 📷 Photo")
    finally:
        context.close()
