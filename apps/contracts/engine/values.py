"""Candidate values in text and JSON: what an injected instruction could smuggle into a tool call.

Each value is a string `kind:normalised`, e.g. `iban:DE89370400440532013000`, `num:1250.5`,
`email:eve@evil.example`, `url:https://evil.example/x`, `token:<16+ chars>`, `name:John Smith`.
"""

import re
from collections.abc import Iterable, Mapping
from typing import Any

KINDS = ("iban", "email", "url", "number", "token", "name")
_PREFIX = {"iban": "iban:", "email": "email:", "url": "url:", "number": "num:", "token": "token:", "name": "name:"}

_PATTERN = re.compile(
    r"(?P<url>https?://[^\s\"'<>]+)"
    r"|(?P<email>[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
    r"|(?P<iban>\b[A-Z]{2}\d{2}(?:[A-Z0-9]{10,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,3})?)\b)"
    r"|(?P<token>\b(?=[A-Za-z_-]*\d)(?=[0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,}\b)"
    r"|(?P<name>\b[A-Z][a-z]+(?: [A-Z][a-z]+)+\b(?![@\w]))"
    r"|(?P<number>(?<![\w.])-?\d[\d,]*(?:\.\d+)?)"
)


# Capitalised words that start sentences or address people, not parts of a name.
_NOT_NAMES = frozenset(
    "A An The I We You He She They It My Our Your His Her Their This That These Those Dear Hi Hello Hey "
    "Please Thanks Thank Yes No Ok Okay Done Sent Paid Ask Send Pay Transfer Contact Call Mail Email Tell "
    "To From For And Or But If When Then So Also Mr Mrs Ms Dr Sir Madam Today Yesterday Tomorrow".split()
)


def _number(text: str) -> str | None:
    text = text.replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return None
    if value.is_integer() and abs(value) < 1e18:
        return str(int(value))
    return repr(value)


def text_values(text: str, out: set[str], min_digits: int = 1) -> None:
    for m in _PATTERN.finditer(text):
        kind = m.lastgroup
        assert kind is not None  # every alternative of the pattern is a named group
        raw = m.group(kind)
        if kind == "number":
            digits = sum(c.isdigit() for c in raw)
            if digits < min_digits:
                continue
            norm = _number(raw)
            if norm is not None:
                out.add("num:" + norm)
        elif kind == "iban":
            out.add("iban:" + raw.replace(" ", ""))
        elif kind == "url":
            out.add("url:" + raw.rstrip(".,;:!?)]}"))
        elif kind == "email":
            out.add("email:" + raw.lower())
        elif kind == "name":
            words = raw.split(" ")
            while words and words[0] in _NOT_NAMES:
                words.pop(0)
            if len(words) >= 2:
                out.add("name:" + " ".join(words))
        else:
            out.add(_PREFIX[kind] + raw)


def json_values(value: object, out: set[str], min_digits: int = 1) -> None:
    """Values in strings and numbers anywhere inside `value` (keys are structure, not data)."""
    if isinstance(value, str):
        text_values(value, out, min_digits)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, (int, float)):
        norm = _number(str(value))
        if norm is not None and sum(c.isdigit() for c in norm) >= min_digits:
            out.add("num:" + norm)
    elif isinstance(value, dict):
        for v in value.values():
            json_values(v, out, min_digits)
    elif isinstance(value, (list, tuple)):
        for v in value:
            json_values(v, out, min_digits)
    else:  # Decimal and friends
        text_values(str(value), out, min_digits)


def step_values(step: Mapping[str, Any], *, arguments: bool) -> frozenset[str]:
    """Values a step carries: its text and result (what it said or observed), or its arguments."""
    out: set[str] = set()
    if arguments:
        json_values(step.get("arguments"), out)
    else:
        content = step.get("content")
        if content:
            text_values(content, out)
        result = step.get("result")
        if result is not None:
            json_values(result, out)
    return frozenset(out)


def keep(values: Iterable[str], kinds: Iterable[str], min_number_digits: int) -> list[str]:
    prefixes = tuple(_PREFIX[k] for k in kinds)
    kept: list[str] = []
    for v in values:
        if not v.startswith(prefixes):
            continue
        if v.startswith("num:") and sum(c.isdigit() for c in v) < min_number_digits:
            continue
        kept.append(v)
    return kept
