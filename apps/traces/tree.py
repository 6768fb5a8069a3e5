"""The span tree and waterfall of one episode, from the trace and span ids its steps store.

Pure: plain step dicts in, nodes out (no Django import). An OTLP span became one or two steps
(action + observation, or user + assistant message) that share its span id: they are one node.
Agent spans (kept on the episode, not steps) are nodes too, so tool and chat spans hang under
the agent that ran them. A step without a span id is a node of its own; a node whose parent is
unknown hangs from the episode. Times are datetimes; durations and offsets are milliseconds.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


@dataclass
class Node:
    key: str
    label: str
    kind: str  # agent | tool | chat | message | decision | step
    parent: str = ""
    start: datetime | None = None
    end: datetime | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = Decimal(0)
    steps: list[int] = field(default_factory=list)
    error: bool = False
    untrusted: bool = False
    verdict: str = ""
    agent: str = ""
    depth: int = 0
    children: list["Node"] = field(default_factory=list)
    # Set by layout(): where the bar starts and how wide it is, in percent of the episode's span.
    offset_pct: float = 0.0
    width_pct: float = 0.0

    @property
    def duration_ms(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return max(0.0, (self.end - self.start).total_seconds() * 1000)

    def add_usage(self, step: dict[str, Any]) -> None:
        self.tokens_in += step.get("tokens_in") or 0
        self.tokens_out += step.get("tokens_out") or 0
        if step.get("cost") is not None:
            self.cost += Decimal(str(step["cost"]))


@dataclass
class Tree:
    roots: list[Node]
    start: datetime | None
    end: datetime | None
    tokens_in: int
    tokens_out: int
    cost: Decimal
    nodes: int
    truncated: bool = False

    @property
    def duration_ms(self) -> float | None:
        if self.start is None or self.end is None:
            return None
        return max(0.0, (self.end - self.start).total_seconds() * 1000)

    def rows(self) -> list[Node]:
        """Depth-first, children in start order: the waterfall's rows."""
        out: list[Node] = []
        stack = list(reversed(self.roots))
        while stack:
            node = stack.pop()
            out.append(node)
            stack.extend(reversed(node.children))
        return out


def _kind(step: dict[str, Any]) -> str:
    if step["kind"] == "decision":
        return "decision"
    if step["tool"]:
        return "tool"
    if step["kind"] == "message" and (step.get("tokens_in") or step.get("tokens_out") or step["role"] == "assistant"):
        return "chat"
    return step["kind"]


def _label(step: dict[str, Any], kind: str) -> str:
    if kind == "decision":
        return f"decide {step['tool']}".strip()
    if kind == "tool":
        return step["tool"]
    if kind == "chat":
        return f"chat {step['agent']}".strip()
    return f"{step['kind']} {step['agent'] or step['role']}".strip()


def _ns(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value) / 1e9, tz=UTC) if value else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def build(steps: Iterable[dict[str, Any]], agent_spans: Iterable[dict[str, Any]] = (),
          max_nodes: int = 2000) -> Tree:
    """Steps as dicts with index, kind, agent, role, tool, span_id, parent_span_id, started_at,
    ended_at, tokens_in, tokens_out, cost, error, provenance, verdict (in index order)."""
    nodes: dict[str, Node] = {}
    order: list[str] = []
    truncated = False
    total_in = total_out = 0
    total_cost = Decimal(0)
    for span in agent_spans:
        key = str(span.get("span_id") or "")
        if key and key not in nodes:
            nodes[key] = Node(key=key, label=str(span.get("name") or "agent"), kind="agent",
                              parent=str(span.get("parent_span_id") or ""),
                              start=_ns(span.get("start_ns")), end=_ns(span.get("end_ns")))
            order.append(key)
    for step in steps:
        total_in += step.get("tokens_in") or 0
        total_out += step.get("tokens_out") or 0
        if step.get("cost") is not None:
            total_cost += Decimal(str(step["cost"]))
        key = step.get("span_id") or f"step-{step['index']}"
        node = nodes.get(key)
        if node is None:
            if len(nodes) >= max_nodes:
                truncated = True
                continue
            kind = _kind(step)
            node = nodes[key] = Node(key=key, label=_label(step, kind), kind=kind,
                                     parent=step.get("parent_span_id") or "", agent=step["agent"])
            order.append(key)
        elif node.kind == "message":
            # A chat span's second step (the assistant's answer) says what the span was.
            node.kind = _kind(step)
            node.label = _label(step, node.kind)
        node.steps.append(step["index"])
        node.add_usage(step)
        node.error = node.error or bool(step.get("error"))
        node.untrusted = node.untrusted or step.get("provenance") == "untrusted"
        node.verdict = node.verdict or str(step.get("verdict") or "")
        for name in ("started_at", "ended_at"):
            moment = step.get(name)
            if moment is not None:
                node.start = moment if node.start is None or moment < node.start else node.start
                node.end = moment if node.end is None or moment > node.end else node.end
    roots: list[Node] = []
    for key in order:
        node = nodes[key]
        parent = nodes.get(node.parent) if node.parent and node.parent != key else None
        (parent.children if parent is not None else roots).append(node)
    _sums(roots)
    starts = [n.start for n in nodes.values() if n.start is not None]
    ends = [n.end for n in nodes.values() if n.end is not None]
    tree = Tree(roots=roots, start=min(starts) if starts else None, end=max(ends) if ends else None,
                tokens_in=total_in, tokens_out=total_out, cost=total_cost, nodes=len(nodes), truncated=truncated)
    _layout(tree)
    return tree


def _sums(roots: list[Node]) -> None:
    """Agent nodes: their children's tokens and cost, and their time span if the span had none."""
    def walk(node: Node, depth: int, seen: set[str]) -> None:
        node.depth = depth
        node.children.sort(key=lambda n: (n.start is None, n.start or datetime.min.replace(tzinfo=UTC),
                                          n.steps[0] if n.steps else -1))
        for child in node.children:
            if child.key in seen:
                continue
            seen.add(child.key)
            walk(child, depth + 1, seen)
            if node.kind == "agent":
                node.tokens_in += child.tokens_in
                node.tokens_out += child.tokens_out
                node.cost += child.cost
                if child.start is not None and (node.start is None or child.start < node.start):
                    node.start = child.start
                if child.end is not None and (node.end is None or child.end > node.end):
                    node.end = child.end

    seen: set[str] = set()
    for root in roots:
        walk(root, 0, seen)


def _layout(tree: Tree) -> None:
    total = tree.duration_ms
    if not total or tree.start is None:
        return
    for node in tree.rows():
        if node.start is None:
            continue
        node.offset_pct = round((node.start - tree.start).total_seconds() * 1000 / total * 100, 2)
        node.width_pct = max(0.4, round((node.duration_ms or 0) / total * 100, 2))
