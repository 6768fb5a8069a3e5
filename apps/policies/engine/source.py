"""Reading policy text (YAML, or JSON which YAML also reads) while remembering where each value sits.

The shared document loader (apps/core/documents) does the reading, with its limits; this module
keeps the policy language's own error shape: every issue names its line, rule and field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from apps.core.documents import Document, DocumentError, Path, load_document
from apps.core.documents import Issue as DocumentIssue

__all__ = ["Document", "Issue", "Path", "PolicyError", "load"]


@dataclass(frozen=True)
class Issue(DocumentIssue):
    rule: str | None = None

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line else []
        if self.rule:
            where.append(f"rule {self.rule}")
        if self.path:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, Any]:
        return {**super().as_dict(), "rule": self.rule}


class PolicyError(DocumentError):
    """A policy that cannot be compiled. `issues` lists every problem found, each with its line."""


def load(text: str) -> Document:
    """Parses YAML or JSON text. Raises PolicyError (with the line) on syntax errors, duplicate keys
    and documents past the loader's limits."""
    if not isinstance(text, str) or not text.strip():
        raise PolicyError([Issue("the policy is empty")])
    try:
        return load_document(text, syntax="not valid YAML/JSON")
    except DocumentError as exc:
        raise PolicyError([Issue(i.message, i.path, i.line) for i in exc.issues]) from None
