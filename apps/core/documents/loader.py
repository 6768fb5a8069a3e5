"""One bounded, safe YAML loader for every versioned document (policies, contracts, graphs).

Built on PyYAML's safe loader: libyaml's C parser (linear in the text, also for deep flow nesting,
which the pure-Python scanner handles in quadratic time) under PyYAML's Python composer, which can
be watched node by node:

- limits on size, nesting depth, anchors and aliases, and on the number of values *with aliases
  expanded*, checked while composing, so an alias bomb or a 1,000-deep nesting is refused before
  anything walks it (every later walk, digest or copy is then bounded too);
- only the JSON data types: text, integers (64-bit), finite numbers, true/false, null, lists and
  mappings. Dates stay text; any other tag (`!!python/name:...`, `!!binary`, `!foo`) is refused;
- every mapping key is text, as written (`on:` is the key "on", not true); a key written twice in
  one mapping is refused; control characters are refused by the reader;
- every mapping and list remembers its line and the line of each key or item, for error messages.

Problems come back as one DocumentError listing each Issue with its field path and line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml._yaml import CParser
from yaml._yaml import Mark as CMark
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.reader import ReaderError
from yaml.resolver import Resolver

from apps.core.documents.issues import DocumentError, Issue, Path

_CORE = "tag:yaml.org,2002:"
MAP, SEQ, MERGE = _CORE + "map", _CORE + "seq", _CORE + "merge"
STR, INT, FLOAT = _CORE + "str", _CORE + "int", _CORE + "float"
SCALARS = frozenset((STR, INT, FLOAT, _CORE + "bool", _CORE + "null"))
INT64 = 2**63
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class Limits:
    max_chars: int = 200_000
    max_depth: int = 64
    max_nodes: int = 10_000  # values after expanding aliases
    max_aliases: int = 100  # and as many anchors


LIMITS = Limits()


class Mapping(dict[str, Any]):
    """A mapping read from YAML; `line` is where it starts, `key_lines` where each key is (1-based)."""

    __slots__ = ("line", "key_lines")

    def __init__(self, line: int | None = None):
        super().__init__()
        self.line = line
        self.key_lines: dict[str, int] = {}


class Sequence(list[Any]):
    """A list read from YAML; `line` is where it starts, `item_lines` where each item starts."""

    __slots__ = ("line", "item_lines")

    def __init__(self, line: int | None = None):
        super().__init__()
        self.line = line
        self.item_lines: list[int] = []


@dataclass(frozen=True)
class Document:
    data: Any

    def line(self, path: Path) -> int | None:
        """The line of the value at `path`; for a missing key, of the closest enclosing value."""
        node, line = self.data, getattr(self.data, "line", None)
        for part in path:
            if isinstance(node, Mapping) and isinstance(part, str) and part in node:
                line, node = node.key_lines[part], node[part]
            elif isinstance(node, Sequence) and isinstance(part, int) and 0 <= part < len(node):
                line, node = node.item_lines[part], node[part]
            else:
                break
        return line


def plain(value: Any) -> Any:
    """Plain dicts and lists without line bookkeeping (bounded: the loader counted aliases expanded)."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def load_document(text: str, *, limits: Limits = LIMITS, syntax: str = "not valid YAML") -> Document:
    """Reads YAML (or JSON) text. Raises DocumentError; `syntax` starts the message of a syntax error."""
    if not isinstance(text, str):
        raise DocumentError([Issue("a document is text")])
    if len(text) > limits.max_chars:
        raise DocumentError([Issue(f"the document is {len(text)} characters; the limit is {limits.max_chars}")])
    surrogate = _SURROGATE.search(text)
    if surrogate:  # libyaml reads UTF-8, which cannot hold one
        raise DocumentError([Issue(f"character {ord(surrogate[0]):#06x} is not allowed in a document (a lone "
                                   "surrogate is not a character)", line=text.count("\n", 0, surrogate.start()) + 1)])
    loader = _Loader(text, limits)
    try:
        node = loader.get_single_node()
    except _Refused as exc:
        raise DocumentError([Issue(exc.message, line=exc.line)]) from None
    except ReaderError as exc:
        raise DocumentError([_reader_issue(text, exc)]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise DocumentError([Issue(f"{syntax}: {exc.problem or exc}", line=mark.line + 1 if mark else 1)]) from None
    except yaml.YAMLError as exc:
        raise DocumentError([Issue(f"{syntax}: {exc}", line=1)]) from None
    finally:
        loader.dispose()
    if node is None:
        return Document(None)
    data = loader.build(node, ())
    if loader.issues:
        raise DocumentError(loader.issues)
    return Document(data)


def _reader_issue(text: str, exc: ReaderError) -> Issue:
    # libyaml counts the position in characters of the text it was given
    line = text.count("\n", 0, max(exc.position, 0)) + 1
    char = exc.character if isinstance(exc.character, str) else chr(exc.character)
    return Issue(f"character {ord(char):#06x} is not allowed in a document (control characters cannot be "
                 "stored)", line=line)


class _Refused(Exception):
    def __init__(self, message: str, mark: yaml.Mark | CMark | None):  # libyaml's mark or PyYAML's
        self.message = message
        self.line = mark.line + 1 if mark is not None else None


class _Resolver(Resolver):
    # Dates and times stay text: a document holds JSON data, and a date would not be JSON.
    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != _CORE + "timestamp"]
        for first, resolvers in Resolver.yaml_implicit_resolvers.items()
    }


class _Loader(Composer, CParser, SafeConstructor, _Resolver):
    """libyaml parses (CParser's events); the Python composer (first in the order, so its
    get_single_node and compose_node run) builds nodes, with the limits below."""

    def __init__(self, text: str, limits: Limits):
        CParser.__init__(self, text)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        _Resolver.__init__(self)
        self.limits = limits
        self.issues: list[Issue] = []
        self._depth = self._aliases = self._anchors = 0
        self._measured: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth), aliases expanded
        self._built: dict[int, Any] = {}

    # --- composing: the limits ------------------------------------------------------------

    # `index` is None, an item's position or a value's key node (typeshed's stub says int)
    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        limits = self.limits
        event = self.peek_event()
        assert event is not None  # the composer asks for a node only where the parser has one
        if isinstance(event, yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > limits.max_aliases:
                raise _Refused(f"more than {limits.max_aliases} aliases", event.start_mark)
            target = self.anchors.get(event.anchor)
            if target is not None and id(target) not in self._measured:
                raise _Refused(f"alias *{event.anchor} refers to the value that contains it", event.start_mark)
            return super().compose_node(parent, index)
        if getattr(event, "anchor", None) is not None:
            self._anchors += 1
            if self._anchors > limits.max_aliases:
                raise _Refused(f"more than {limits.max_aliases} anchors", event.start_mark)
        self._depth += 1
        if self._depth > limits.max_depth:
            raise _Refused(f"nested deeper than {limits.max_depth} levels", event.start_mark)
        node = super().compose_node(parent, index)
        assert node is not None  # the composer builds a node for every node event
        self._depth -= 1
        values, depth = 1, 0
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        for child in children:
            n, d = self._measured[id(child)]
            values, depth = values + n, max(depth, d + 1)
        if values > limits.max_nodes:
            raise _Refused(f"more than {limits.max_nodes} values (counting what aliases repeat)", node.start_mark)
        if depth > limits.max_depth:
            raise _Refused(f"nested deeper than {limits.max_depth} levels (counting what aliases repeat)",
                           node.start_mark)
        self._measured[id(node)] = (values, depth)
        return node

    # --- building: JSON data with lines -----------------------------------------------------

    def fail(self, message: str, path: Path, node: yaml.Node) -> None:
        self.issues.append(Issue(message, path, node.start_mark.line + 1))

    def build(self, node: yaml.Node, path: Path) -> Any:
        key = id(node)
        if key in self._built:  # an alias: the same value again, not a copy
            return self._built[key]
        if isinstance(node, yaml.MappingNode):
            value: Any = self._mapping(node, path)
        elif isinstance(node, yaml.SequenceNode):
            value = self._sequence(node, path)
        else:
            value = self._scalar(node, path)
        self._built[key] = value
        return value

    def _tag_allowed(self, node: yaml.Node, path: Path, allowed: frozenset[str] | str) -> bool:
        if node.tag == allowed or node.tag in allowed:
            return True
        shown = node.tag.replace(_CORE, "!!", 1)
        self.fail(f"tag '{shown}' is not allowed: a document holds text, numbers, true/false, null, "
                  "lists and mappings", path, node)
        return False

    def _mapping(self, node: yaml.MappingNode, path: Path) -> Mapping:
        out = Mapping(node.start_mark.line + 1)
        self._tag_allowed(node, path, MAP)
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                self._merge(out, value_node, path)
        own: set[str] = set()
        for key_node, value_node in node.value:
            if key_node.tag == MERGE:
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail("mapping keys must be plain values (text or numbers)", path, key_node)
                continue
            self._tag_allowed(key_node, path, SCALARS)
            name = key_node.value
            if name in own:
                self.fail(f"duplicate key {name!r}", path + (name,), key_node)
                continue
            own.add(name)
            out[name] = self.build(value_node, path + (name,))
            out.key_lines[name] = key_node.start_mark.line + 1
        return out

    def _merge(self, out: Mapping, value_node: yaml.Node, path: Path) -> None:
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        if not all(isinstance(s, yaml.MappingNode) for s in sources):
            self.fail("'<<' merges a mapping or a list of mappings", path + ("<<",), value_node)
            return
        for source in reversed(sources):  # the first mapping listed wins
            merged = self.build(source, path)
            for k, v in merged.items():
                out[k], out.key_lines[k] = v, merged.key_lines[k]

    def _sequence(self, node: yaml.SequenceNode, path: Path) -> Sequence:
        out = Sequence(node.start_mark.line + 1)
        self._tag_allowed(node, path, SEQ)
        for i, child in enumerate(node.value):
            out.append(self.build(child, path + (i,)))
            out.item_lines.append(child.start_mark.line + 1)
        return out

    def _scalar(self, node: yaml.Node, path: Path) -> Any:
        if not self._tag_allowed(node, path, SCALARS):
            return None
        if node.tag == INT and len(node.value) > 40:  # before int() spends time on thousands of digits
            self.fail("integers are limited to 64 bits", path, node)
            return None
        try:
            value = self.construct_object(node)
        except (yaml.YAMLError, ValueError) as exc:
            self.fail(f"unreadable value: {getattr(exc, 'problem', None) or exc}", path, node)
            return None
        if node.tag == INT and not -INT64 <= value < INT64:
            self.fail("integers are limited to 64 bits", path, node)
            return None
        if node.tag == FLOAT and not math.isfinite(value):
            self.fail("numbers must be finite (.inf, .nan and values beyond 1e308 are not allowed)", path, node)
            return None
        return value
