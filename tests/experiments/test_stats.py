"""Experiment statistics against values worked out by hand (or published worked examples)."""

import math

import pytest

from apps.experiments.stats import (
    Moments,
    bootstrap_ci,
    cohens_d,
    mean_ci,
    mean_difference_ci,
    pass_at_k,
    pass_hat_k,
    passk_mean,
    proportion_ci,
    proportion_difference_ci,
)

A = [1.0, 2.0, 3.0, 4.0, 5.0]  # mean 3, sample variance 2.5
B = [3.0, 4.0, 5.0, 6.0, 7.0]  # mean 5, sample variance 2.5


def test_moments_merged_in_batches_equal_the_whole_sample():
    values = [12.5, 3.0, 7.25, 100.0, -4.0, 0.5, 8.0]
    merged = Moments.of(values[:3]).merge(Moments.of(values[3:]))
    whole = Moments.of(values)
    assert merged.n == 7
    assert merged.mean == pytest.approx(sum(values) / 7)
    assert merged.variance == pytest.approx(whole.variance)
    assert Moments.from_list(merged.as_list()) == merged


def test_moments_refuse_a_value_that_is_not_a_number():
    with pytest.raises(ValueError):
        Moments().add(float("nan"))


def test_mean_ci_is_the_student_t_interval():
    # se = sqrt(2.5 / 5) = 0.70711, t(0.975, df=4) = 2.77645: 3 -/+ 1.96324
    ci = mean_ci(Moments.of(A))
    assert (ci.estimate, ci.n) == (3.0, 5)
    assert ci.low == pytest.approx(1.03676, abs=1e-4)
    assert ci.high == pytest.approx(4.96324, abs=1e-4)


def test_mean_ci_of_one_value_has_no_interval():
    ci = mean_ci(Moments.of([4.0]))
    assert ci.estimate == 4.0 and math.isnan(ci.low)
    assert ci.as_dict()["low"] is None


def test_wilson_interval_for_five_of_ten():
    # z = 1.95996: centre (0.5 + z²/20) / (1 + z²/10) = 0.5, half-width z·sqrt(0.025 + z²/400) / 1.38415 = 0.26341
    ci = proportion_ci(5, 10)
    assert ci.low == pytest.approx(0.23659, abs=1e-4)
    assert ci.high == pytest.approx(0.76341, abs=1e-4)


def test_wilson_interval_at_zero_successes_starts_at_zero():
    # upper bound z² / (n + z²) = 3.84146 / 33.84146 = 0.11351
    ci = proportion_ci(0, 30)
    assert ci.low == pytest.approx(0.0, abs=1e-12)
    assert ci.high == pytest.approx(0.11351, abs=1e-4)


def test_clopper_pearson_interval_for_five_of_ten():
    ci = proportion_ci(5, 10, method="exact")
    assert ci.low == pytest.approx(0.18709, abs=1e-4)
    assert ci.high == pytest.approx(0.81291, abs=1e-4)


def test_proportion_ci_refuses_more_successes_than_trials():
    with pytest.raises(ValueError):
        proportion_ci(11, 10)


def test_welch_interval_for_a_difference_of_means():
    # se = sqrt(0.5 + 0.5) = 1, Welch df = 1 / (0.0625 + 0.0625) = 8, t(0.975, 8) = 2.30600
    ci = mean_difference_ci(Moments.of(A), Moments.of(B))
    assert ci.estimate == pytest.approx(-2.0)
    assert ci.low == pytest.approx(-4.30600, abs=1e-4)
    assert ci.high == pytest.approx(0.30600, abs=1e-4)


def test_newcombe_interval_matches_his_worked_example():
    # Newcombe (1998), Statistics in Medicine 17:873, example (a): 56/70 - 48/80, method 10
    ci = proportion_difference_ci(56, 70, 48, 80)
    assert ci.estimate == pytest.approx(0.2)
    assert ci.low == pytest.approx(0.0524, abs=1e-4)
    assert ci.high == pytest.approx(0.3339, abs=1e-4)


def test_cohens_d_uses_the_pooled_standard_deviation():
    # pooled SD = sqrt((4·2.5 + 4·2.5) / 8) = 1.58114; d = -2 / 1.58114
    assert cohens_d(Moments.of(A), Moments.of(B)) == pytest.approx(-1.26491, abs=1e-5)


def test_cohens_d_pools_unequal_samples_by_their_degrees_of_freedom():
    a, b = [2.0, 4.0, 6.0], [1.0, 1.0, 1.0, 1.0, 6.0]
    # a: mean 4, M2 8; b: mean 2, M2 20; pooled SD = sqrt(28 / 6) = 2.16025; d = 2 / 2.16025
    assert cohens_d(Moments.of(a), Moments.of(b)) == pytest.approx(0.92582, abs=1e-5)


def test_cohens_d_is_undefined_without_spread():
    assert math.isnan(cohens_d(Moments.of([1.0, 1.0]), Moments.of([1.0, 1.0])))


def test_pass_at_k_and_pass_hat_k_for_two_successes_in_five():
    # pass@2 = 1 - C(3,2)/C(5,2) = 1 - 3/10; pass^2 = C(2,2)/C(5,2) = 1/10
    assert pass_at_k(5, 2, 2) == pytest.approx(0.7)
    assert pass_hat_k(5, 2, 2) == pytest.approx(0.1)
    assert pass_at_k(5, 2, 1) == pytest.approx(0.4) == pass_hat_k(5, 2, 1)


def test_pass_at_k_needs_at_least_k_repeats():
    with pytest.raises(ValueError):
        pass_at_k(2, 1, 3)


def test_passk_mean_averages_tasks_and_skips_those_with_too_few_repeats():
    result = passk_mean([(5, 2), (5, 5), (1, 1)], k=2)
    # task 1: 0.7 / 0.1; task 2: 1.0 / 1.0
    assert result == {"k": 2, "tasks": 2, "skipped": 1, "pass_at_k": pytest.approx(0.85),
                      "pass_hat_k": pytest.approx(0.55)}


def test_bootstrap_interval_is_reproducible_and_brackets_the_mean():
    values = [3.1, 2.0, 4.5, 3.3, 2.8, 3.9, 1.7, 3.0, 2.6, 4.1]
    first, again = bootstrap_ci(values, seed=7), bootstrap_ci(values, seed=7)
    assert first == again
    assert first.estimate == pytest.approx(3.1)
    assert first.low < first.estimate < first.high


def test_bootstrap_of_identical_values_is_the_value():
    ci = bootstrap_ci([0.0] * 20)
    assert (ci.low, ci.high) == (0.0, 0.0)
