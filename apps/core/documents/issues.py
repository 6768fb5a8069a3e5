"""What is wrong with a document, and where: one type for policies, contracts and graphs.

An issue carries the field path (`("rules", 2, "when", "amount")`, shown as `rules[2].when.amount`),
the 1-based line and a message. Each engine keeps the shape of its own error texts by formatting
issues itself; the data underneath is the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Path = tuple[str | int, ...]


def path_text(path: Path) -> str:
    """`("rules", 2, "when")` -> `rules[2].when`. A text part may itself be dotted (`"rules[2].when"`)."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass(frozen=True)
class Issue:
    message: str
    path: Path = ()
    line: int | None = None

    @property
    def field(self) -> str:
        return path_text(self.path)

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line else []
        if self.path:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, Any]:
        return {"message": self.message, "field": self.field, "line": self.line}


class DocumentError(ValueError):
    """A document that cannot be read or compiled; `issues` lists every problem found."""

    def __init__(self, issues: Sequence[Issue]):
        self.issues = list(issues)
        super().__init__("; ".join(str(i) for i in self.issues))
