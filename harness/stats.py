"""The statistics verdicts rest on: paired tests on per-item outcomes, CIs, Holm.

Pure Python on purpose (no scipy at run time); tests check every function against
scipy or hand-computed cases.
"""
from __future__ import annotations

import math
import random
from dataclasses import dataclass

Z95 = 1.959963984540054
Z90 = 1.6448536269514722


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts: b = items only A got
    right, c = items only B got right (binomial test of b against n = b + c, p = 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def normal_two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


@dataclass
class Difference:
    estimate: float          # A minus B
    low: float               # 95% CI
    high: float
    p_value: float
    method: str


def paired_bootstrap(a_by_stratum: dict, b_by_stratum: dict, iterations: int = 2000,
                     seed: int = 0) -> tuple[float, float, float]:
    """Macro-mean difference (mean over strata of per-stratum mean A - B) with a 95%
    percentile CI; items are resampled in pairs within each stratum."""
    strata = sorted(a_by_stratum)
    diffs = {s: [x - y for x, y in zip(a_by_stratum[s], b_by_stratum[s])] for s in strata}
    estimate = sum(sum(d) / len(d) for d in diffs.values()) / len(strata)
    rng = random.Random(seed)
    samples = []
    for _ in range(iterations):
        total = 0.0
        for d in diffs.values():
            total += sum(d[rng.randrange(len(d))] for _ in d) / len(d)
        samples.append(total / len(strata))
    samples.sort()
    low = samples[int(0.025 * iterations)]
    high = samples[min(iterations - 1, int(0.975 * iterations))]
    return estimate, low, high


def paired_difference(a: dict, b: dict, iterations: int = 2000, seed: int = 0) -> Difference:
    """Compare two models on the same items. `a`/`b`: stratum -> list of per-item scores in
    the same item order. 0/1 scores get McNemar's exact test; others a bootstrap p-value."""
    estimate, low, high = paired_bootstrap(a, b, iterations, seed)
    pairs = [(x, y) for s in a for x, y in zip(a[s], b[s])]
    if all(x in (0, 1) and y in (0, 1) for x, y in pairs):
        b_only = sum(1 for x, y in pairs if x == 1 and y == 0)
        c_only = sum(1 for x, y in pairs if x == 0 and y == 1)
        return Difference(estimate, low, high, mcnemar_exact(b_only, c_only), "McNemar exact (paired 0/1)")
    # bootstrap p-value: how often the resampled difference crosses zero, two-sided
    p_value = min(1.0, 2 * min(_share_at_or_below(0.0, a, b, iterations, seed, sign) for sign in (1, -1)))
    return Difference(estimate, low, high, p_value, "paired bootstrap")


def _share_at_or_below(threshold, a, b, iterations, seed, sign) -> float:
    rng = random.Random(seed + 1)
    diffs = [[x - y for x, y in zip(a[s], b[s])] for s in sorted(a)]
    hits = 0
    for _ in range(iterations):
        value = sum(sum(d[rng.randrange(len(d))] for _ in d) / len(d) for d in diffs) / len(diffs)
        hits += sign * value <= threshold
    return (hits + 1) / (iterations + 1)


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    order = sorted(range(len(p_values)), key=p_values.__getitem__)
    adjusted = [0.0] * len(p_values)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (len(p_values) - rank) * p_values[index]))
        adjusted[index] = running
    return adjusted


def binomial_stderr(percent: float, n: int) -> float:
    """Standard error, in points, of an accuracy of `percent` measured on n items."""
    p = min(max(percent / 100, 0.0), 1.0)
    return 100 * math.sqrt(p * (1 - p) / n)


def unpaired_difference(a: float, b: float, n: int) -> Difference:
    """Two published accuracies (points) on the same n-item benchmark, no item data:
    a z-test treating them as independent, which overstates the noise of a paired design
    (conservative: fewer differences look significant)."""
    stderr = math.hypot(binomial_stderr(a, n), binomial_stderr(b, n))
    diff = a - b
    p_value = normal_two_sided_p(diff / stderr) if stderr else (0.0 if diff else 1.0)
    return Difference(diff, diff - Z95 * stderr, diff + Z95 * stderr, p_value,
                      f"unpaired z-test, n={n} items each")


def equivalent(diff: Difference, margin: float) -> bool:
    """TOST at 5%: the 90% CI of the difference lies inside (-margin, +margin)."""
    half_width_90 = (diff.high - diff.low) / 2 * Z90 / Z95
    return -margin < diff.estimate - half_width_90 and diff.estimate + half_width_90 < margin


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples of which c passed (Chen et al., 2021, eq. 1):
    1 - C(n-c, k) / C(n, k)."""
    if k > n:
        raise ValueError(f"pass@{k} needs at least {k} samples, got {n}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)
