"""Regular expressions written by users, run by RE2 in time linear in the input.

Python's `re` backtracks: `^(a+)+$` against 50,000 a's and a `b` would run for hours. RE2 never
backtracks, so every pattern a policy or contract carries is compiled here. What RE2 cannot run in
linear time (back-references, look-ahead and look-behind) is refused when the document is
compiled, with the reason, instead of being run some slower way.
"""

import re2
from re2 import _re2

MAX_PATTERN_CHARS = 2_000
_UNANCHORED, _ANCHOR_START = _re2.RE2.Anchor.UNANCHORED, _re2.RE2.Anchor.ANCHOR_START
_NO_MATCH = (-1, -1)

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is the author's error, reported to them, not logged


class PatternError(ValueError):
    pass


class LinearPattern:
    """A compiled pattern answering only whether it occurs: `search` (anywhere) and `match` (at the
    start) return True or None, which is all the engines and fastjsonschema's validators ask.

    It calls the binding's compiled RE2 object directly: the binding's `search` builds a match
    object through a generator and costs about six times as much per call, on the decide path.
    """

    __slots__ = ("pattern", "_regexp")

    def __init__(self, pattern: str, compiled: "re2._Regexp"):
        self.pattern = pattern
        self._regexp = compiled._regexp

    def search(self, text: str) -> bool | None:
        data = text.encode("utf-8", "surrogatepass")
        return True if self._regexp.Match(_UNANCHORED, data, 0, len(data))[0] != _NO_MATCH else None

    def match(self, text: str) -> bool | None:
        data = text.encode("utf-8", "surrogatepass")
        return True if self._regexp.Match(_ANCHOR_START, data, 0, len(data))[0] != _NO_MATCH else None


def compile_pattern(pattern: object) -> LinearPattern:
    """The compiled pattern, or PatternError saying why RE2 cannot run it."""
    if not isinstance(pattern, str):
        raise PatternError("a pattern is text")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"a pattern is at most {MAX_PATTERN_CHARS} characters")
    try:
        return LinearPattern(pattern, re2.compile(pattern, options=_OPTIONS))
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(f"{reason} (patterns run in linear time: no back-references or look-around)") from None
