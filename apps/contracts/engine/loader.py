"""YAML loading that remembers where every key and item was written, for error messages."""

from typing import Any

import yaml

from apps.contracts.engine.errors import ContractError

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LDict(dict):
    """A mapping from YAML that knows its own line and each key's line (1-based)."""

    line: int | None = None
    lines: dict


class LList(list):
    line: int | None = None
    lines: list


class _Loader(_Base):
    pass


def _mapping(loader, node):
    loader.flatten_mapping(node)
    out = LDict()
    out.line = node.start_mark.line + 1
    out.lines = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key, bool) and isinstance(key_node, yaml.ScalarNode):
            key = key_node.value  # YAML 1.1 reads a bare `on:` key as True; contracts mean the word
        if not isinstance(key, (str, int, float, bool)) and key is not None:
            raise ContractError("keys must be scalars", line=key_node.start_mark.line + 1)
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = key_node.start_mark.line + 1
    return out


def _sequence(loader, node):
    out = LList(loader.construct_object(child, deep=True) for child in node.value)
    out.line = node.start_mark.line + 1
    out.lines = [child.start_mark.line + 1 for child in node.value]
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load(source: str) -> Any:
    try:
        return yaml.load(source, Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    except ContractError:
        raise
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        raise ContractError(f"invalid YAML: {exc.problem}", line=line) from None
    except yaml.YAMLError as exc:
        raise ContractError(f"invalid YAML: {exc}") from None


def line_of(container: Any, key: Any = None) -> int | None:
    """The line of `key` inside `container` (or of the container itself)."""
    if key is not None:
        lines = getattr(container, "lines", None)
        if isinstance(lines, dict):
            return lines.get(key, getattr(container, "line", None))
        if isinstance(lines, list) and isinstance(key, int) and key < len(lines):
            return lines[key]
    return getattr(container, "line", None)


def plain(value: Any) -> Any:
    """Strips line bookkeeping: plain dicts and lists, for hashing and JSON schema compilation."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value
