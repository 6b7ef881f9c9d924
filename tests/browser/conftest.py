"""Headless Chromium (Debian's) driven by Playwright, against a real stack through its gateway."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Iterator

import pytest
import requests

from shared.testing import unavailable

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
PASSWORD = "correct horse battery"
DESKTOP = {"width": 1366, "height": 800}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def browser() -> Iterator:
    if not os.path.exists(CHROMIUM):
        unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def save(page, name: str) -> None:
        page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))

    return save


def new_username(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(3)}"


def api_session(base: str, username: str, password: str = PASSWORD, *, register: bool = True) -> requests.Session:
    """A logged-in cookie session that behaves like a same-origin page (it sends the gateway's Origin)."""
    session = requests.Session()
    session.headers["Origin"] = base
    if register:
        response = session.post(f"{base}/auth/register", timeout=10,
                                json={"username": username, "email": f"{username}@example.com", "password": password})
        assert response.status_code == 201, response.text
    response = session.post(f"{base}/auth/login", json={"username": username, "password": password}, timeout=10)
    assert response.status_code == 200, response.text
    return session


def signed_in_page(browser, base: str, session: requests.Session, viewport: dict = DESKTOP):
    """A browser context holding `session`'s login cookies, and a page in it."""
    context = browser.new_context(base_url=base, viewport=viewport)
    context.add_cookies([{"name": c.name, "value": c.value, "url": base, "httpOnly": True, "sameSite": "Lax"}
                         for c in session.cookies])
    return context, context.new_page()


def befriend(base: str, asker: requests.Session, answerer: requests.Session, answerer_name: str) -> int:
    """Make two users friends through the API; returns their direct conversation's id."""
    sent = asker.post(f"{base}/api/friend-requests", json={"username": answerer_name}, timeout=10)
    assert sent.status_code == 201, sent.text
    accepted = answerer.post(f"{base}/api/friend-requests/{sent.json()['request']['id']}/accept", timeout=10)
    assert accepted.status_code == 200, accepted.text
    return accepted.json()["conversation_id"]


def open_conversation_actions(page) -> None:
    """On a phone the open conversation's actions (search, mute, members, block) sit behind "⋯": open it."""
    toggle = page.locator("#conversation-actions-toggle")
    if toggle.is_visible() and toggle.get_attribute("aria-expanded") == "false":
        toggle.click()
