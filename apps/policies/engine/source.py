"""Reading policy text (YAML, or JSON which YAML also reads) while remembering where each value sits.

The YAML node tree carries a start mark per node; walking it once gives a map from a value's path
(`("rules", 2, "when", "amount")`) to its 1-based line, so validation can name the line.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True)
class Issue:
    message: str
    path: Path = ()
    line: int | None = None
    rule: str | None = None

    @property
    def field(self) -> str:
        return path_text(self.path)

    def __str__(self) -> str:
        where = [f"line {self.line}"] if self.line else []
        if self.rule:
            where.append(f"rule {self.rule}")
        if self.path:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def as_dict(self) -> dict:
        return {"message": self.message, "field": self.field, "line": self.line, "rule": self.rule}


class PolicyError(ValueError):
    """A policy that cannot be compiled. `issues` lists every problem found, each with its line."""

    def __init__(self, issues: list[Issue]):
        self.issues = issues
        super().__init__("; ".join(str(i) for i in issues))


def path_text(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class Document:
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)

    def line(self, path: Path) -> int | None:
        # A missing key has no line of its own: report the closest enclosing value.
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)


def load(text: str) -> Document:
    """Parses YAML or JSON text. Raises PolicyError (with the line) on syntax errors or duplicate keys."""
    if not isinstance(text, str) or not text.strip():
        raise PolicyError([Issue("the policy is empty")])
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise PolicyError([Issue(f"not valid YAML/JSON: {exc.problem or exc}", line=line)]) from None
    except yaml.YAMLError as exc:
        raise PolicyError([Issue(f"not valid YAML/JSON: {exc}")]) from None
    finally:
        loader.dispose()
    lines: dict[Path, int] = {}
    issues: list[Issue] = []
    if node is not None:
        _walk(node, (), lines, issues)
    if issues:
        raise PolicyError(issues)
    return Document(data=data, lines=lines)


def _walk(node: yaml.Node, path: Path, lines: dict[Path, int], issues: list[Issue]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                issues.append(Issue(f"duplicate key '{key}'", path + (key,), key_node.start_mark.line + 1))
            seen.add(key)
            _walk(value_node, path + (key,), lines, issues)
            lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _walk(item, path + (i,), lines, issues)
