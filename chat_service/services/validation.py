"""Input checks shared by the actions; every failure is a 422 naming the field."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from shared.errors import ValidationError

# Ids are 64-bit signed integers in the database; larger numbers cannot name anything.
MAX_ID = 2**63 - 1
USERNAME_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
# Characters that show nothing on their own: whitespace, controls, format characters (zero-width
# space and joiners, BOM, bidi marks, tags), unassigned and private code points, non-spacing marks
# (variation selectors, the grapheme joiner), and the blank letters used to fake an empty text.
INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cn", "Co", "Cs", "Mn"})
BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def invalid(field: str, message: str) -> ValidationError:
    return ValidationError(message, fields={field: message})


def text_field(value: Any, field: str, *, max_length: int, strip: bool = False) -> str:
    """A string of 1..max_length characters, with something visible, storable as UTF-8."""
    if not isinstance(value, str):
        raise invalid(field, f"{field} must be a string.")
    if strip:
        value = value.strip()
    if not has_visible_character(value):
        raise invalid(field, f"{field} must not be empty or only whitespace or invisible characters.")
    if len(value) > max_length:
        raise invalid(field, f"{field} must be at most {max_length} characters.")
    storable(value, field)
    return value


def has_visible_character(value: str) -> bool:
    return any(unicodedata.category(char) not in INVISIBLE_CATEGORIES and char not in BLANK_CHARACTERS
               for char in value)


def storable(value: str, field: str) -> None:
    # PostgreSQL refuses NUL characters and UTF-8 refuses lone surrogates.
    if "\x00" in value:
        raise invalid(field, f"{field} must not contain NUL characters.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid(field, f"{field} must be valid Unicode text.") from None


def optional_client_id(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise invalid("client_id", "client_id must be a string of 1 to 64 characters.")
    storable(value, "client_id")
    return value


def positive_id(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
        raise invalid(field, f"{field} must be a positive integer id.")
    return value


def username_field(value: Any, field: str = "username") -> str:
    if not isinstance(value, str) or not value:
        raise invalid(field, f"{field} must be a non-empty string.")
    if len(value) > 64:
        raise invalid(field, f"{field} must be at most 64 characters.")
    storable(value, field)
    return value


def looks_like_username(value: str) -> bool:
    return bool(USERNAME_PATTERN.match(value))
