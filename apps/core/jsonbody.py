"""One JSON reader for every request body, with the limits that keep bad input a 400 naming the field.

Refused, each with the path of the value (`config.temperature`, `steps[3].arguments.note`):
NaN and ±Infinity, numbers beyond a float (1e400), integers beyond 64 bits, NUL characters and
lone surrogates in strings or keys (PostgreSQL's jsonb and text cannot hold them), and nesting
deeper than MAX_DEPTH (a fixed bound, so no RecursionError can surface as a 500).
Pure Python: the API parser (apps/core/parsers.py), ingestion, JSONL import and OTLP JSON use it.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import re2

from apps.core.documents import Path, path_text

MAX_DEPTH = 64
INT64 = 2**63
_SURROGATE = re.compile("[\ud800-\udfff]")


class JsonBodyError(ValueError):
    """`field` is the path of the offending value ("body" for the body as a whole)."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class _Refused:
    """Stands in for a number the parse hooks refused, until the walk finds where it was."""

    __slots__ = ("message",)

    def __init__(self, message: str):
        self.message = message


def _constant(_name: str) -> _Refused:
    return _Refused("NaN and Infinity are not JSON numbers")


def _float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused("numbers must be finite (at most about 1e308)")


def _int(text: str) -> int | _Refused:
    if len(text) > 20:  # before int() spends time on thousands of digits
        return _Refused("integers are limited to 64 bits")
    value = int(text)
    return value if -INT64 <= value < INT64 else _Refused("integers are limited to 64 bits")


# What any refused value needs in the raw text: NUL and surrogate escapes, raw UTF-8 surrogates (the
# json module decodes bytes with surrogatepass), NaN/Infinity, long digit runs, 3-digit exponents.
# Most bodies have none, and skip the parse hooks and the full walk; a match (also inside a string,
# or a valid surrogate pair) only means the precise path runs. RE2 scans in one linear pass over
# the bytes (Latin-1: byte for byte), several times faster than `re` on this alternation.
_SCAN_OPTIONS = re2.Options()
_SCAN_OPTIONS.encoding = re2.Options.Encoding.LATIN1
_SUSPECT = re2.compile(rb"\\u0000|\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]|NaN|Infinity|[0-9]{19}|[eE][+-]?[0-9]{3}",
                       options=_SCAN_OPTIONS)


def json_parse(body: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The parsed body, or JsonBodyError naming the offending value's path."""
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if not raw:
        raise JsonBodyError("body", "the body is empty; send JSON")
    suspect = _SUSPECT.search(raw) is not None
    try:
        if suspect:
            data = json.loads(raw, parse_constant=_constant, parse_float=_float, parse_int=_int)
        else:
            data = json.loads(raw)
    except UnicodeDecodeError:
        raise JsonBodyError("body", "the body is not UTF-8") from None
    except json.JSONDecodeError as exc:
        raise JsonBodyError("body", f"malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise JsonBodyError("body", f"JSON nested deeper than {max_depth} levels") from None
    # Fewer brackets than the depth limit cannot nest past it (the /decide case).
    if suspect or (raw.count(b"[") + raw.count(b"{") > max_depth and _too_deep(data, max_depth)):
        problem = _first_problem(data, max_depth)
        if problem is not None:
            path, message = problem
            raise JsonBodyError(path_text(path) or "body", message)
    return data


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    if not text.isascii() and _SURROGATE.search(text):
        return "contains a lone surrogate (not a Unicode character)"
    return None


def _too_deep(data: Any, max_depth: int) -> bool:
    """Level by level, containers only: the cheapest walk that bounds the depth."""
    level, depth = [data], 1
    while level:
        if depth > max_depth:
            return True
        deeper: list = []
        for value in level:
            if type(value) is dict or type(value) is list:
                items = value.values() if type(value) is dict else value
                deeper += [c for c in items if type(c) is dict or type(c) is list]
        level, depth = deeper, depth + 1
    return False


def _first_problem(data: Any, max_depth: int) -> tuple[Path, str] | None:
    """The first refused value in document order: its path and what is wrong there."""
    stack: list[tuple[Any, Path]] = [(data, ())]
    while stack:
        value, path = stack.pop()
        if type(value) is _Refused:
            return path, value.message
        if type(value) is str:
            problem = _text_problem(value)
            if problem:
                return path, problem
            continue
        if type(value) is dict:
            for key in value:
                problem = _text_problem(key)
                if problem:
                    return path, f"a key {problem}"
            children: list[tuple[Any, Path]] = [(v, (*path, k)) for k, v in value.items()]
        elif type(value) is list:
            children = [(v, (*path, i)) for i, v in enumerate(value)]
        else:
            continue
        if len(path) >= max_depth:
            return path, f"JSON nested deeper than {max_depth} levels"
        stack.extend(reversed(children))
    return None
