"""Experiment specs: conditions from a matrix and explicit overrides, seeds, errors naming the field."""

import pytest

from apps.experiments.spec import SpecError, spec_load, trial_seed

BASE = """
name: regimes
run:
  environment: {kind: cournot, firms: 2}
  agents: [{kind: qlearning}]
  rounds: 100
"""


def test_matrix_makes_one_condition_per_combination_merged_over_the_run():
    plan = spec_load(BASE + "matrix:\n  regime: [ungoverned, institutional]\n  rounds: [10, 20]\nseeds: 3\n")
    assert [c.label for c in plan.conditions] == [
        "regime=ungoverned, rounds=10", "regime=ungoverned, rounds=20",
        "regime=institutional, rounds=10", "regime=institutional, rounds=20",
    ]
    assert plan.conditions[3].run == {"environment": {"kind": "cournot", "firms": 2},
                                      "agents": [{"kind": "qlearning"}], "rounds": 20, "regime": "institutional"}
    assert plan.seeds == [0, 1, 2]
    assert plan.trials == 12


def test_explicit_conditions_deep_merge_mappings_and_replace_lists():
    plan = spec_load(BASE + """conditions:
  - {label: three firms, environment: {firms: 3}}
  - {label: cartel, agents: [{kind: cartel}]}
""")
    assert plan.conditions[0].run["environment"] == {"kind": "cournot", "firms": 3}
    assert plan.conditions[1].run["agents"] == [{"kind": "cartel"}]


def test_baseline_can_be_named_by_a_value_of_its_condition():
    plan = spec_load(BASE + "matrix: {regime: [ungoverned, institutional]}\nbaseline: institutional\n")
    assert plan.baseline == 1


def test_tasks_seeds_and_repeats_multiply_into_trials():
    plan = spec_load(BASE + "tasks: [{task: a}, {task: b}]\nseeds: {from: 100, count: 4}\nrepeats: 3\n")
    assert plan.seeds == [100, 101, 102, 103]
    assert plan.trials == 1 * 2 * 4 * 3


def test_the_first_repeat_runs_with_the_spec_seed_and_later_ones_with_derived_seeds():
    assert trial_seed(seed=7, repeat=0) == 7
    assert len({trial_seed(seed=7, repeat=r) for r in range(5)}) == 5


@pytest.mark.parametrize("extra, field", [
    ("seeds: -1\n", "seeds"),
    ("seeds: [1, 1]\n", "seeds"),
    ("seeds: {count: 0}\n", "seeds.count"),
    ("matrix: {regime: []}\n", "matrix.regime"),
    ("matrix: {seed: [1, 2]}\n", "matrix.seed"),
    ("repeats: two\n", "repeats"),
    ("baseline: nothing\n", "baseline"),
    ("conditions: [{label: a}, {label: a}]\n", "conditions"),
    ("colour: blue\n", "colour"),
    ("seeds: 100000\nrepeats: 2\n", "seeds"),
])
def test_bad_specs_name_the_field(extra, field):
    with pytest.raises(SpecError) as caught:
        spec_load(BASE + extra)
    assert caught.value.field == field


def test_a_spec_without_a_name_or_run_is_refused():
    with pytest.raises(SpecError) as caught:
        spec_load("run: {environment: {kind: x}}\n")
    assert caught.value.field == "name"
    with pytest.raises(SpecError) as caught:
        spec_load("name: x\n")
    assert caught.value.field == "run"


def test_broken_yaml_names_the_line():
    with pytest.raises(SpecError) as caught:
        spec_load("name: x\nrun: {environment: [\n")
    assert caught.value.field == "source" and "line" in caught.value.message


def test_every_shipped_example_spec_parses():
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "examples" / "experiments"
    names = sorted(p.name for p in folder.glob("*.yaml"))
    assert "cournot-institutional-ai.yaml" in names and "progent-agentdojo.yaml" in names
    for path in folder.glob("*.yaml"):
        plan = spec_load(path.read_text())
        assert plan.trials >= 1, path.name
