"""What the app builds once at start-up and the views use per request."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from .clients.auth import AuthClient
from .clients.chat import ChatClient
from .config import Config

EXTENSION = "web_frontend"


@dataclass(frozen=True)
class AppState:
    config: Config
    auth: AuthClient
    chat: ChatClient


def app_state() -> AppState:
    return current_app.extensions[EXTENSION]
