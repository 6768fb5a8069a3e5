"""Per-condition results built trial by trial equal the statistics of the whole sample."""

import pytest

from apps.experiments import aggregate, stats


def _state(trials, task="-"):
    state: dict = {}
    for metrics in trials:
        aggregate.accumulate(state=state, metrics=metrics, task_key=task, success="success")
    return state


def test_flatten_keeps_numbers_and_booleans_and_totals_per_agent_mappings():
    flat = aggregate.flatten_metrics({"tier": 3, "severe": True, "profit": {"a": 10.0, "b": 5.0}, "note": "x",
                                      "series": [1, 2]})
    assert flat == {"tier": 3.0, "severe": True, "profit.a": 10.0, "profit.b": 5.0, "profit.total": 15.0}


def test_summary_gives_t_intervals_for_numbers_and_wilson_for_booleans():
    state = _state([{"tier": 1.0, "severe": True}, {"tier": 2.0, "severe": False}, {"tier": 3.0, "severe": False},
                    {"tier": 4.0, "severe": False}, {"tier": 5.0, "severe": True}])
    table = aggregate.summary(state=state, ks=[1])["metrics"]
    assert table["tier"]["estimate"] == pytest.approx(3.0)
    assert table["tier"]["low"] == pytest.approx(stats.mean_ci(stats.Moments.of([1, 2, 3, 4, 5])).low)
    assert table["severe"]["estimate"] == pytest.approx(0.4)
    assert table["severe"]["low"] == pytest.approx(stats.proportion_ci(2, 5).low)


def test_batches_merged_equal_one_pass():
    trials = [{"tier": float(i % 5), "severe": i % 3 == 0} for i in range(30)]
    whole = _state(trials)
    merged: dict = {}
    aggregate.merge_states(merged, _state(trials[:11]))
    aggregate.merge_states(merged, _state(trials[11:]))
    assert merged["proportions"] == whole["proportions"]
    assert merged["moments"]["tier"] == pytest.approx(whole["moments"]["tier"])


def test_comparison_reports_the_difference_and_cohens_d_against_the_baseline():
    baseline = _state([{"tier": v} for v in (3.0, 4.0, 5.0, 6.0, 7.0)])
    governed = _state([{"tier": v} for v in (1.0, 2.0, 3.0, 4.0, 5.0)])
    row = aggregate.comparison(state=governed, baseline=baseline)["tier"]
    assert row["difference"]["estimate"] == pytest.approx(-2.0)
    assert row["cohens_d"] == pytest.approx(-1.26491, abs=1e-5)


def test_passk_groups_repeats_by_task():
    state: dict = {}
    for task, outcomes in {"t1": [True, False, False, True, False], "t2": [True] * 5}.items():
        for ok in outcomes:
            aggregate.accumulate(state=state, metrics={"success": ok}, task_key=task, success="success")
    (p,) = aggregate.summary(state=state, ks=[2])["passk"]
    assert p["pass_at_k"] == pytest.approx((0.7 + 1.0) / 2)
    assert p["pass_hat_k"] == pytest.approx((0.1 + 1.0) / 2)
