"""Reading and checking input, declared once per body and the same in every service.

    SEND = Fields(text=Text(max_length=4000), client_id=Text(max_length=64, required=False))
    values = SEND.check(json_object(request))   # {"text": ..., "client_id": ... or None}

Every field is checked and every problem reported in one 422 `validation_error`:
`fields` maps each bad field to what is wrong with it ("must be a string"), and the
message says the same in sentences. Text that any service stores follows one rule
(`text_problem`): PostgreSQL refuses NUL characters and UTF-8 refuses lone surrogates.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import ValidationError

# Ids are 64-bit signed integers in the databases; larger numbers cannot name anything.
MAX_ID = 2**63 - 1
# Characters that show nothing on their own: whitespace, controls, format characters (zero-width
# space and joiners, BOM, bidi marks, tags), unassigned and private code points, non-spacing marks
# (variation selectors, the grapheme joiner), and the blank letters used to fake an empty text.
INVISIBLE_CATEGORIES = frozenset({"Zs", "Zl", "Zp", "Cc", "Cf", "Cn", "Co", "Cs", "Mn"})
BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800")


def text_problem(value: str) -> str | None:
    """What makes `value` unstorable as text, or None."""
    if "\x00" in value:
        return "must not contain NUL characters"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains characters that are not allowed"
    return None


def has_visible_character(value: str) -> bool:
    return any(unicodedata.category(char) not in INVISIBLE_CATEGORIES and char not in BLANK_CHARACTERS
               for char in value)


def invalid(field: str, problem: str) -> ValidationError:
    """A 422 for one field; `problem` is a predicate ("must be a string")."""
    return ValidationError(f"{field} {problem}.", fields={field: problem})


class Problem(Exception):
    """Raised by a field's check; becomes one entry of `fields`."""


@dataclass(frozen=True)
class Text:
    """A string of min_length..max_length characters (after `strip`), with something
    visible in it unless `blank`; matching `pattern` when given. `problem` replaces the
    default wording of a length or pattern failure."""

    max_length: int
    min_length: int = 1
    required: bool = True
    strip: bool = False
    blank: bool = False
    pattern: re.Pattern[str] | None = None
    problem: str | None = None

    def check(self, value: Any) -> Any:
        if not isinstance(value, str):
            raise Problem("must be a string")
        problem = text_problem(value)
        if problem:
            raise Problem(problem)
        if self.strip:
            value = value.strip()
        if not self.blank and not has_visible_character(value):
            raise Problem("must not be empty or only whitespace or invisible characters")
        if not self.min_length <= len(value) <= self.max_length:
            raise Problem(self.problem or (f"must be at most {self.max_length} characters" if self.min_length <= 1
                                           else f"must be {self.min_length} to {self.max_length} characters"))
        if self.pattern is not None and not self.pattern.fullmatch(value):
            raise Problem(self.problem or "has characters that are not allowed")
        return value


@dataclass(frozen=True)
class Id:
    """A positive integer id (a JSON number; `true` is not 1)."""

    required: bool = True

    def check(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ID:
            raise Problem("must be a positive integer id")
        return value


@dataclass(frozen=True)
class QueryInt:
    """An integer query-string parameter from `minimum` to `maximum`; `default` when absent."""

    minimum: int
    maximum: int
    default: int | None = None
    required: bool = False

    def check(self, value: Any) -> Any:
        if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 19 \
                or not self.minimum <= int(value) <= self.maximum:
            raise Problem(f"must be an integer from {self.minimum} to {self.maximum}")
        return int(value)


Field = Text | Id | QueryInt


def check_field(name: str, field: Field, value: Any) -> Any:
    """One value checked as field `name` of a body (for actions that take their inputs one by one)."""
    return Fields(**{name: field}).check({name: value})[name]


class Fields:
    """The fields of one body (or query string), each with its check."""

    def __init__(self, **fields: Field) -> None:
        self.fields = fields

    def check(self, data: Mapping[str, Any]) -> dict[str, Any]:
        """The checked values (absent optional fields as None, or their default); else a 422
        naming every bad field."""
        values: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for name, field in self.fields.items():
            value = data.get(name)
            if value is None:
                if field.required:
                    problems[name] = "is required"
                values[name] = getattr(field, "default", None)
                continue
            try:
                values[name] = field.check(value)
            except Problem as problem:
                problems[name] = str(problem)
        if problems:
            raise ValidationError(" ".join(f"{name} {problem}." for name, problem in problems.items()),
                                  fields=problems)
        return values
