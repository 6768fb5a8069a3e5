"""Contract YAML, read by the shared document loader (apps/core/documents) with its limits.

Mappings and lists come back as `LDict` / `LList`, which remember their own line and the line of
each key or item, so errors can point at them.
"""

from typing import Any

from apps.contracts.engine.errors import ContractError
from apps.core.documents import DocumentError, load_document, plain
from apps.core.documents import Mapping as LDict
from apps.core.documents import Sequence as LList

__all__ = ["LDict", "LList", "line_of", "load", "plain"]


def load(source: str) -> Any:
    try:
        return load_document(source, syntax="invalid YAML").data
    except DocumentError as exc:
        first = exc.issues[0]
        raise ContractError(first.message, field=first.field, line=first.line) from None


def line_of(container: Any, key: Any = None) -> int | None:
    """The line of `key` inside `container` (or of the container itself)."""
    if key is not None:
        if isinstance(container, LDict):
            return container.key_lines.get(key, container.line)
        if isinstance(container, LList) and isinstance(key, int) and 0 <= key < len(container):
            return container.item_lines[key]
    return getattr(container, "line", None)
