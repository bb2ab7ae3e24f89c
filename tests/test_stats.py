"""Statistics against scipy and hand-computed cases."""

import math
import random

import pytest
from scipy import stats as scipy_stats

from harness import stats


@pytest.mark.parametrize("b,c", [(0, 0), (3, 0), (5, 5), (12, 4), (1, 20), (40, 55)])
def test_mcnemar_exact_is_the_two_sided_binomial_test(b, c):
    expected = scipy_stats.binomtest(b, b + c, 0.5).pvalue if b + c else 1.0
    assert stats.mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-12)


def test_mcnemar_hand_case():
    # b=0, c=5: both tails of Binomial(5, 1/2) at the extremes = 2/32
    assert stats.mcnemar_exact(0, 5) == pytest.approx(2 / 32)


def test_holm_hand_case():
    # sorted p 0.01, 0.03, 0.04 -> 3*0.01, 2*0.03, max(0.06, 1*0.04)
    assert stats.holm([0.04, 0.01, 0.03]) == pytest.approx([0.06, 0.03, 0.06])


def test_holm_matches_statsmodels_style_monotone_adjustment():
    p = [0.2, 0.001, 0.04, 0.03, 0.5]
    adjusted = stats.holm(p)
    order = sorted(range(5), key=p.__getitem__)
    assert [adjusted[i] for i in order] == sorted(adjusted)
    assert adjusted[1] == pytest.approx(0.005)


def test_unpaired_difference_matches_a_normal_z_test():
    diff = stats.unpaired_difference(88.6, 88.7, 14042)
    se = math.hypot(math.sqrt(0.886 * 0.114 / 14042), math.sqrt(0.887 * 0.113 / 14042)) * 100
    assert diff.p_value == pytest.approx(2 * scipy_stats.norm.sf(0.1 / se))
    assert diff.high - diff.low == pytest.approx(2 * 1.959963984540054 * se)


def test_paired_difference_uses_mcnemar_for_binary_items_and_a_bootstrap_ci():
    rng = random.Random(1)
    a = {"t": [1 if rng.random() < 0.7 else 0 for _ in range(400)]}
    b = {"t": [x if rng.random() < 0.8 else 1 - x for x in a["t"]]}
    diff = stats.paired_difference(a, b, iterations=1000)
    only_a = sum(1 for x, y in zip(a["t"], b["t"], strict=False) if x > y)
    only_b = sum(1 for x, y in zip(a["t"], b["t"], strict=False) if y > x)
    assert diff.method.startswith("McNemar")
    assert diff.p_value == pytest.approx(scipy_stats.binomtest(only_a, only_a + only_b).pvalue)
    assert diff.estimate == pytest.approx((only_a - only_b) / 400)
    assert diff.low < diff.estimate < diff.high


def test_paired_bootstrap_is_the_macro_mean_over_strata():
    a = {"x": [1, 1, 1, 1], "y": [0, 0]}
    b = {"x": [0, 0, 0, 0], "y": [0, 0]}
    estimate, low, high = stats.paired_bootstrap(a, b, iterations=200)
    assert estimate == pytest.approx(0.5) and low == high == pytest.approx(0.5)


def test_paired_difference_pools_by_items_when_the_benchmark_does():
    """A 2-item stratum and an 8-item one: macro weighs their means equally, item pooling
    (lm-eval's MMLU group) weighs each item equally; the CI follows the estimate."""
    a = {"small": [1, 1], "large": [0] * 8}
    b = {"small": [0, 0], "large": [0] * 8}
    macro = stats.paired_difference(a, b, iterations=300)
    items = stats.paired_difference(a, b, iterations=300, pooling="items")
    assert macro.estimate == pytest.approx(0.5) and items.estimate == pytest.approx(0.2)
    assert items.low == pytest.approx(0.2) and items.high == pytest.approx(0.2)


def test_paired_difference_on_continuous_scores_uses_the_bootstrap():
    a = {"t": [0.5 + 0.01 * i for i in range(50)]}
    b = {"t": [0.4 + 0.01 * i for i in range(50)]}
    diff = stats.paired_difference(a, b, iterations=500)
    assert diff.method == "paired bootstrap" and diff.p_value < 0.01
    assert diff.estimate == pytest.approx(0.1)


def test_equivalence_needs_the_90_percent_ci_inside_the_margin():
    inside = stats.Difference(0.0, -1.9, 1.9, 1.0, "")
    assert stats.equivalent(inside, margin=2.0)
    assert not stats.equivalent(stats.Difference(1.5, -0.5, 3.5, 0.1, ""), margin=2.0)


def test_minimum_detectable_effect_at_80_percent_power():
    # paired 0/1, 840 items, a quarter discordant: (z_.975 + z_.80) * sqrt(0.25 / 840)
    expected = (scipy_stats.norm.ppf(0.975) + scipy_stats.norm.ppf(0.8)) * math.sqrt(0.25 / 840)
    assert stats.mde_paired(840, 0.25) == pytest.approx(expected)
    assert 100 * stats.mde_paired(840, 0.25) == pytest.approx(4.83, abs=0.01)  # the BBH example in issue #12
    unpaired = stats.unpaired_difference(28.2, 26.7, 6511)
    assert unpaired.mde == pytest.approx(2.8016 * (unpaired.high - unpaired.low) / (2 * stats.Z95), rel=1e-3)


def test_paired_difference_reports_its_power():
    a = {"t": [1, 0] * 200}
    b = {"t": [1, 1] * 100 + [0, 0] * 100}
    diff = stats.paired_difference(a, b, iterations=200)
    discordance = 0.5
    assert diff.mde == pytest.approx(stats.mde_paired(400, discordance))
    assert "discordance 50.0%" in diff.mde_basis


def test_clustered_standard_error_follows_miller_2024():
    values = [1.0, 0.0, 1.0, 1.0, 0.0, 0.0]
    singletons = stats.clustered_stderr(values, list(range(6)))
    assert singletons == pytest.approx(math.sqrt(sum((v - 0.5) ** 2 for v in values)) / 6)
    # items that move together within a cluster widen the standard error
    together = stats.clustered_stderr([1, 1, 1, 0, 0, 0], ["a", "a", "a", "b", "b", "b"])
    assert together > stats.clustered_stderr([1, 0, 1, 0, 1, 0], ["a", "a", "a", "b", "b", "b"])
    assert together == pytest.approx(math.sqrt(1.5**2 + 1.5**2) / 6)
