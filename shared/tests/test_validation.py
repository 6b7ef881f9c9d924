import re

import pytest

from shared.errors import ValidationError
from shared.validation import Fields, Id, QueryInt, Text

BODY = Fields(name=Text(min_length=3, max_length=8, pattern=re.compile(r"[a-z]+")),
              note=Text(max_length=20, required=False, strip=True),
              ref=Id(), page=QueryInt(1, 10, default=1))


def test_every_bad_field_is_named_in_one_422():
    with pytest.raises(ValidationError) as caught:
        BODY.check({"name": "AB", "note": "  ", "ref": True, "page": "11"})
    assert caught.value.fields == {
        "name": "must be 3 to 8 characters", "note": "must not be empty or only whitespace or invisible characters",
        "ref": "must be a positive integer id", "page": "must be an integer from 1 to 10"}
    assert caught.value.message.startswith("name must be 3 to 8 characters.")


@pytest.mark.parametrize("text", ["nul\x00here", "lone\ud800surrogate"])
def test_text_that_cannot_be_stored_is_refused_everywhere_alike(text):
    with pytest.raises(ValidationError) as caught:
        BODY.check({"name": "abc", "ref": 1, "note": text})
    assert set(caught.value.fields) == {"note"}


def test_good_values_come_back_checked_with_defaults():
    assert BODY.check({"name": "abc", "ref": 7, "note": "  hi  "}) == {"name": "abc", "note": "hi", "ref": 7,
                                                                       "page": 1}
    with pytest.raises(ValidationError) as caught:
        BODY.check({})
    assert caught.value.fields == {"name": "is required", "ref": "is required"}


@pytest.mark.parametrize("text", ["\u200b", "\ufeff\u200d", " \u3164 ", "\u2800"])
def test_text_of_only_invisible_characters_is_empty(text):
    with pytest.raises(ValidationError) as caught:
        BODY.check({"name": "abc", "ref": 1, "note": text})
    assert set(caught.value.fields) == {"note"}
