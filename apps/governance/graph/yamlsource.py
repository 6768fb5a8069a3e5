"""Graph YAML, read by the shared document loader (apps/core/documents) with its limits.

A graph problem names its line (the message says which field), so a reviewer can jump to it.
Pure Python, no Django.
"""

from apps.core.documents import DocumentError, Issue, load_document
from apps.core.documents import Mapping as _Map
from apps.core.documents import Sequence as _Seq
from apps.core.documents import plain as _normal

__all__ = ["GraphError", "Problem", "_Map", "_Seq", "_line", "_load", "_normal"]


class Problem(Issue):
    """An issue of a graph, written `Problem(line, message)` throughout the graph validator."""

    def __init__(self, line: int, message: str):
        super().__init__(message, (), line)

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class GraphError(DocumentError):
    def __init__(self, problems: list[Problem]):
        super().__init__(sorted(problems, key=lambda p: p.line or 0))

    @property
    def problems(self) -> list[Issue]:
        return self.issues


def _load(source: str) -> _Map:
    try:
        data = load_document(source).data
    except DocumentError as exc:
        raise GraphError([Problem(i.line or 1, _with_field(i)) for i in exc.issues]) from None
    if not isinstance(data, _Map):
        raise GraphError([Problem(1, "a graph is a YAML mapping with name, initial, states and transitions")])
    return data


def _with_field(issue: Issue) -> str:
    # The loader's duplicate-key message already quotes the key; other value problems say where.
    if issue.path and not issue.message.startswith("duplicate key"):
        return f"{issue.field}: {issue.message}"
    return issue.message


def _line(mapping: object, key: str, default: int = 1) -> int:
    """The line of `key` in a mapping read from YAML; else the mapping's own line; else `default`."""
    line: int = getattr(mapping, "key_lines", {}).get(key, getattr(mapping, "line", default))
    return line
