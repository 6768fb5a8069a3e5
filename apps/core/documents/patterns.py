"""Regular expressions written by users, run by RE2 in time linear in the input.

Python's `re` backtracks: `^(a+)+$` against 50,000 a's and a `b` would run for hours. RE2 never
backtracks, so every pattern a policy or contract carries is compiled here. What RE2 cannot run in
linear time (back-references, look-ahead and look-behind) is refused when the document is
compiled, with the reason, instead of being run some slower way.
"""

import re2

MAX_PATTERN_CHARS = 2_000

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # a refused pattern is the author's error, reported to them, not logged


class PatternError(ValueError):
    pass


def compile_pattern(pattern: object) -> "re2._Regexp":
    """The compiled pattern (with `search` and `match`), or PatternError saying why not."""
    if not isinstance(pattern, str):
        raise PatternError("a pattern is text")
    if len(pattern) > MAX_PATTERN_CHARS:
        raise PatternError(f"a pattern is at most {MAX_PATTERN_CHARS} characters")
    try:
        return re2.compile(pattern, options=_OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode(errors="replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(f"{reason} (patterns run in linear time: no back-references or look-around)") from None
