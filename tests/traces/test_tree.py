"""The span tree (apps/traces/tree.py): pure, from step dicts and agent spans."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from apps.traces import tree

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _step(index, kind="action", tool="", span="", parent="", start=0, end=None, **extra):
    return {"index": index, "kind": kind, "agent": "banker", "role": extra.pop("role", ""), "tool": tool,
            "span_id": span, "parent_span_id": parent,
            "started_at": T0 + timedelta(milliseconds=start) if start is not None else None,
            "ended_at": T0 + timedelta(milliseconds=end) if end is not None else None,
            "tokens_in": extra.pop("tokens_in", None), "tokens_out": extra.pop("tokens_out", None),
            "cost": extra.pop("cost", None), "error": extra.pop("error", ""),
            "provenance": extra.pop("provenance", "trusted"), "verdict": extra.pop("verdict", None)}


def _agent(span="a1", start=0, end=1000):
    return {"span_id": span, "name": "invoke_agent banker", "parent_span_id": "",
            "start_ns": int((T0 + timedelta(milliseconds=start)).timestamp() * 1e9),
            "end_ns": int((T0 + timedelta(milliseconds=end)).timestamp() * 1e9)}


def test_the_two_steps_of_one_span_are_one_node_under_its_agent():
    steps = [_step(0, "message", span="c1", parent="a1", start=10, role="user"),
             _step(1, "message", span="c1", parent="a1", start=10, end=400, role="assistant",
                   tokens_in=40, tokens_out=9, cost="0.002"),
             _step(2, "action", "send_money", span="t1", parent="a1", start=450),
             _step(3, "observation", "send_money", span="t1", parent="a1", start=450, end=700)]
    built = tree.build(steps, [_agent()])
    assert [(n.kind, n.label, n.depth) for n in built.rows()] == [
        ("agent", "invoke_agent banker", 0), ("chat", "chat banker", 1), ("tool", "send_money", 1)]
    chat, call = built.rows()[1:]
    assert chat.steps == [0, 1] and chat.duration_ms == 390 and (chat.tokens_in, chat.tokens_out) == (40, 9)
    assert call.duration_ms == 250 and call.steps == [2, 3]


def test_totals_sum_every_step_and_agents_sum_their_children():
    steps = [_step(0, "message", span="c1", parent="a1", start=0, end=100, role="assistant",
                   tokens_in=10, tokens_out=5, cost="0.5"),
             _step(1, "message", span="c2", parent="a1", start=200, end=300, role="assistant",
                   tokens_in=1, tokens_out=2, cost="0.25")]
    built = tree.build(steps, [_agent()])
    assert (built.tokens_in, built.tokens_out, built.cost) == (11, 7, Decimal("0.75"))
    agent = built.roots[0]
    assert (agent.tokens_in, agent.cost) == (11, Decimal("0.75"))
    assert built.duration_ms == 1000


def test_waterfall_bars_are_placed_by_start_and_sized_by_duration():
    steps = [_step(0, "action", "a", span="s1", start=0, end=500), _step(1, "action", "b", span="s2", start=500, end=1000)]
    first, second = tree.build(steps).rows()
    assert (first.offset_pct, first.width_pct) == (0, 50) and (second.offset_pct, second.width_pct) == (50, 50)


def test_steps_without_span_ids_are_each_a_node_of_the_episode():
    built = tree.build([_step(0, "message", start=None, role="user"), _step(1, "decision", "send_money", start=None,
                                                                           verdict="block")])
    assert [(n.key, n.kind, n.verdict, n.depth) for n in built.rows()] == [
        ("step-0", "message", "", 0), ("step-1", "decision", "block", 0)]
    assert built.duration_ms is None


def test_a_span_whose_parent_never_arrived_hangs_from_the_episode():
    built = tree.build([_step(0, "action", "x", span="s1", parent="missing", start=0, end=5)])
    assert built.roots[0].key == "s1" and built.roots[0].depth == 0


def test_errors_and_untrusted_results_mark_their_span():
    built = tree.build([_step(0, "action", "read_web", span="s1"),
                        _step(1, "observation", "read_web", span="s1", provenance="untrusted", error="timeout")])
    node = built.rows()[0]
    assert node.untrusted and node.error


def test_the_tree_stops_at_max_nodes_and_says_so():
    built = tree.build([_step(i, "action", "t", span=f"s{i}") for i in range(10)], max_nodes=4)
    assert built.nodes == 4 and built.truncated
