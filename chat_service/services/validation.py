"""chat's own input rules; the checks themselves are shared.validation's."""

from __future__ import annotations

import re

from shared.validation import Text

# What a username given to chat may be: it is looked up (here, then in auth), never
# stored as given, so this is looser than auth's registration rule.
USERNAME = Text(max_length=64)
USERNAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def looks_like_username(value: str) -> bool:
    """Worth asking auth about: only what auth could have registered."""
    return bool(USERNAME_PATTERN.fullmatch(value))
