"""The launcher's settings, read from the environment (see `python -m stack` for the list)."""

from __future__ import annotations

import os
from pathlib import Path

from .stack import DEFAULT_PORTS, REPO_ROOT, Stack, StackError


def _int_setting(name: str, default: int) -> int:
    raw = os.environ.get(name) or str(default)
    try:
        return int(raw)
    except ValueError:
        raise StackError(f"{name} must be an integer, not {raw!r}") from None


def run_dir() -> Path:
    return Path(os.environ.get("RUN_DIR") or REPO_ROOT / ".run").resolve()


def stack_from_env(**options) -> Stack:
    instances = _int_setting("CHAT_INSTANCES", 1)
    chat_base = _int_setting("CHAT_BASE_PORT", DEFAULT_PORTS["chat_base"])
    return Stack(
        run_dir(),
        gateway_port=_int_setting("GATEWAY_PORT", DEFAULT_PORTS["gateway"]),
        auth_port=_int_setting("AUTH_PORT", DEFAULT_PORTS["auth"]),
        frontend_port=_int_setting("FRONTEND_PORT", DEFAULT_PORTS["frontend"]),
        chat_ports=[chat_base + i for i in range(instances)] if instances > 0 else [],
        chat_instances=instances,
        auth_database_url=os.environ.get("AUTH_DATABASE_URL") or None,
        chat_database_url=os.environ.get("CHAT_DATABASE_URL") or None,
        redis_url=os.environ.get("REDIS_URL") or None,
        **options,
    )
