"""`@username` mentions, found as the browser finds them (web_frontend/static/js/mentions.js):
letters, digits and _ . - after an "@", compared without case; a trailing "." or "-" may end the
sentence rather than the name ("@bob." means bob)."""

from __future__ import annotations

import re

MENTION = re.compile(r"@([A-Za-z0-9_.-]{1,64})")


def mentions(text: str, username: str) -> bool:
    wanted = username.lower()
    return any(name.lower() == wanted or name.rstrip(".-").lower() == wanted for name in MENTION.findall(text))
