"""Finding a known text inside a tool's output whatever way the output was serialised.

Tool output reaches agents as YAML or JSON text, which re-wraps long lines, folds newlines and
escapes characters, so an injected paragraph seldom appears verbatim. Both sides are compared
after escapes are undone, quotes doubled by YAML are single again and whitespace runs are one space.
"""

import re

_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    text = text.replace("\\n", " ").replace("\\t", " ").replace("\\r", " ").replace("''", "'").replace("\\", "")
    return _SPACE.sub(" ", text).strip()


def carries(text: str, markers: list[str]) -> bool:
    """Whether `text` contains any of `markers` (already normalized)."""
    flat = normalize(text)
    return any(marker and marker in flat for marker in markers)
