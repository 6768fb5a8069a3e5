"""YAML read with line numbers, so every problem in a governance graph can name its line.

Pure Python (PyYAML only), no Django.
"""

from dataclasses import dataclass

import yaml


@dataclass(frozen=True)
class Problem:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class GraphError(ValueError):
    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: p.line)
        super().__init__("; ".join(str(p) for p in self.problems))


class _Map(dict):
    line = 0
    key_lines: dict


class _List(list):
    line = 0
    item_lines: list


def _plain(node: yaml.Node, loader: yaml.SafeLoader, problems: list[Problem]):
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = _Map()
        out.line, out.key_lines = line, {}
        for key_node, value_node in node.value:
            key = _plain(key_node, loader, problems)
            if not isinstance(key, str | int | float | bool):
                problems.append(Problem(key_node.start_mark.line + 1, "mapping keys must be plain values"))
                continue
            if key in out:
                problems.append(Problem(key_node.start_mark.line + 1, f"duplicate key {key!r}"))
            out[key] = _plain(value_node, loader, problems)
            out.key_lines[key] = key_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        out = _List(_plain(item, loader, problems) for item in node.value)
        out.line, out.item_lines = line, [item.start_mark.line + 1 for item in node.value]
        return out
    return loader.construct_object(node, deep=True)


def _load(source: str) -> _Map:
    try:
        loader = yaml.SafeLoader(source)
        try:
            node = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise GraphError([Problem(mark.line + 1 if mark else 1, f"not valid YAML: {getattr(exc, 'problem', exc)}")]) from None
    if node is None or not isinstance(node, yaml.MappingNode):
        raise GraphError([Problem(1, "a graph is a YAML mapping with name, initial, states and transitions")])
    problems: list[Problem] = []
    data = _plain(node, yaml.SafeLoader(""), problems)
    if problems:
        raise GraphError(problems)
    return data


def _line(mapping, key, default: int = 1) -> int:
    return getattr(mapping, "key_lines", {}).get(key, getattr(mapping, "line", default))


def _normal(value):
    """Plain JSON-able data (drops the line bookkeeping) for the manifest and its digest."""
    if isinstance(value, dict):
        return {str(k): _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value
