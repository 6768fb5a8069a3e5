"""The one JSON reader: what it refuses (with the value's path) and what it must still accept."""

import pytest

from apps.core.jsonbody import JsonBodyError, json_parse


def refusal(body: bytes | str) -> tuple[str, str]:
    with pytest.raises(JsonBodyError) as info:
        json_parse(body)
    return info.value.field, info.value.message


@pytest.mark.parametrize(("body", "field"), [
    (b'{"a": {"b": [1, NaN]}}', "a.b[1]"),
    (b'{"a": 1.5e400}', "a"),
    (b'{"a": -12345678901234567890}', "a"),
    (b'{"a": ["x\\u0000y"]}', "a[0]"),
    (b'{"a": "\\udfff"}', "a"),
    (b'{"a": "\xed\xa0\x80"}', "a"),  # a surrogate written as raw UTF-8 bytes
    ('{"a": "\ud800"}', "a"),
])
def test_a_refused_value_is_named_by_its_path(body, field):
    assert refusal(body)[0] == field


def test_nesting_past_64_levels_is_refused_and_64_is_not():
    assert "nested deeper than 64 levels" in refusal(b"[" * 65 + b"]" * 65)[1]
    assert "nested deeper than 64 levels" in refusal(b"[" * 100_000 + b"]" * 100_000)[1]
    assert json_parse(b"[" * 64 + b"]" * 64)


def test_what_only_looks_suspect_is_accepted():
    body = '{"emoji": "\\ud83d\\ude00", "words": "NaN and Infinity", "iban": "DE89370400440532013000", ' \
           '"max": 9223372036854775807, "small": 1e-300, "korean": "한국"}'
    assert json_parse(body) == {"emoji": "😀", "words": "NaN and Infinity", "iban": "DE89370400440532013000",
                                "max": 2**63 - 1, "small": 1e-300, "korean": "한국"}


@pytest.mark.parametrize("body", [b"", b"{", b"\xff\xfe\xfd"])
def test_a_body_that_is_not_json_is_refused_as_a_whole(body):
    assert refusal(body)[0] == "body"
