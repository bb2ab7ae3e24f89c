"""The statistics verdicts rest on: paired tests on per-item outcomes, CIs, Holm, power.

scipy and numpy do the arithmetic (binomial test, normal quantiles, one vectorised
bootstrap); this module only says which test answers which question. Standard errors of
clustered items follow Miller, "Adding Error Bars to Evals" (arXiv:2411.00640), eq. 4.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy.stats import binomtest, norm

Z95 = float(norm.ppf(0.975))
Z90 = float(norm.ppf(0.95))
POWER = 0.80
Pooling = Literal["macro", "items"]  # how a benchmark pools its strata (tasks) into one score


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts: b = items only A got
    right, c = items only B got right (binomial test of b against n = b + c, p = 1/2)."""
    return float(binomtest(b, b + c, 0.5).pvalue) if b + c else 1.0


def normal_two_sided_p(z: float) -> float:
    return float(2 * norm.sf(abs(z)))


@dataclass
class Difference:
    estimate: float  # A minus B
    low: float  # 95% CI
    high: float
    p_value: float
    method: str
    mde: float | None = None  # minimum detectable effect at 80% power, same unit
    mde_basis: str = ""  # how the MDE was computed (n, discordance)


def _stratum_weights(diffs: list[np.ndarray], pooling: Pooling) -> np.ndarray:
    """How much each stratum's mean counts: equally (macro) or by its item count (pooled
    items, as lm-eval's MMLU group score)."""
    sizes = np.array([len(d) for d in diffs], float)
    return sizes / sizes.sum() if pooling == "items" else np.full(len(diffs), 1 / len(diffs))


def pooled_mean(by_stratum: dict, pooling: Pooling) -> float:
    """Mean of per-item values over strata, pooled as the benchmark pools them."""
    strata = [np.asarray(by_stratum[s], float) for s in sorted(by_stratum)]
    return _weighted_mean(strata, _stratum_weights(strata, pooling))


def _weighted_mean(strata: list[np.ndarray], weights: np.ndarray) -> float:
    return float(sum(w * values.mean() for w, values in zip(weights, strata, strict=True)))


def _resample_means(diffs: list[np.ndarray], weights: np.ndarray, iterations: int, seed: int) -> np.ndarray:
    """Weighted mean over strata of the per-stratum mean difference, for `iterations` paired
    resamples drawn within each stratum (one matrix per stratum, no Python loop per draw)."""
    rng = np.random.default_rng(seed)
    totals = np.zeros(iterations)
    for d, weight in zip(diffs, weights, strict=True):
        picks = rng.integers(0, len(d), size=(iterations, len(d)))
        totals += weight * d[picks].mean(axis=1)
    return totals


def paired_bootstrap(
    a_by_stratum: dict, b_by_stratum: dict, iterations: int = 2000, seed: int = 0
) -> tuple[float, float, float]:
    """Macro-mean difference (mean over strata of per-stratum mean A - B) with a 95%
    percentile CI; items are resampled in pairs within each stratum."""
    estimate, low, high, _ = _bootstrap(a_by_stratum, b_by_stratum, iterations, seed, "macro")
    return estimate, low, high


def _bootstrap(
    a: dict, b: dict, iterations: int, seed: int, pooling: Pooling
) -> tuple[float, float, float, np.ndarray]:
    diffs = [np.asarray(a[s], float) - np.asarray(b[s], float) for s in sorted(a)]
    weights = _stratum_weights(diffs, pooling)
    estimate = _weighted_mean(diffs, weights)
    samples = _resample_means(diffs, weights, iterations, seed)
    low, high = np.quantile(samples, [0.025, 0.975])
    return estimate, float(low), float(high), samples


def paired_difference(
    a: dict, b: dict, iterations: int = 2000, seed: int = 0, pooling: Pooling = "macro"
) -> Difference:
    """Compare two models on the same items. `a`/`b`: stratum -> list of per-item scores in
    the same item order; `pooling`: the strata's means averaged equally ("macro") or
    weighted by their items ("items"), as the benchmark's own score pools them. 0/1 scores
    get McNemar's exact test; others a bootstrap p-value. The MDE uses the observed
    discordance rate (0/1) or the SD of item differences."""
    estimate, low, high, samples = _bootstrap(a, b, iterations, seed, pooling)
    x = np.concatenate([np.asarray(a[s], float) for s in sorted(a)])
    y = np.concatenate([np.asarray(b[s], float) for s in sorted(a)])
    if np.isin(x, (0, 1)).all() and np.isin(y, (0, 1)).all():
        only_a, only_b = int(((x == 1) & (y == 0)).sum()), int(((x == 0) & (y == 1)).sum())
        discordance = (only_a + only_b) / len(x)
        return Difference(
            estimate,
            low,
            high,
            mcnemar_exact(only_a, only_b),
            "McNemar exact (paired 0/1)",
            mde_paired(len(x), discordance),
            f"n={len(x)} paired items, discordance {discordance:.1%}",
        )
    # bootstrap p-value: how often the resampled difference crosses zero, two-sided
    share = min((samples <= 0).sum(), (samples >= 0).sum())
    p_value = min(1.0, 2 * (share + 1) / (iterations + 1))
    sd = float(np.std(x - y, ddof=1)) if len(x) > 1 else 0.0
    return Difference(
        estimate,
        low,
        high,
        p_value,
        "paired bootstrap",
        (Z95 + norm.ppf(POWER)) * sd / math.sqrt(len(x)),
        f"n={len(x)} paired items, SD of differences",
    )


def holm(p_values: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values, in the input order."""
    p = np.asarray(p_values, float)
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (len(p) - np.arange(len(p))) * p[order])
    adjusted = np.empty_like(p)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted.tolist()


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
    return Difference(
        diff,
        diff - Z95 * stderr,
        diff + Z95 * stderr,
        p_value,
        f"unpaired z-test, n={n} items each",
        mde_from_stderr(stderr),
        f"n={n} items each, unpaired (no item data, discordance unknown)",
    )


def mde_from_stderr(stderr: float, alpha: float = 0.05, power: float = POWER) -> float:
    """Smallest true difference a two-sided test at `alpha` detects with `power`, given the
    standard error of the estimated difference (normal approximation)."""
    return float((norm.ppf(1 - alpha / 2) + norm.ppf(power)) * stderr)


def mde_paired(n: int, discordance: float, alpha: float = 0.05, power: float = POWER) -> float:
    """MDE (as a proportion) of a paired 0/1 comparison: with discordance rate d, the
    difference of two paired proportions has variance about d/n near the null."""
    return mde_from_stderr(math.sqrt(discordance / n), alpha, power) if n else float("inf")


def clustered_stderr(values: list[float], clusters: list) -> float:
    """Cluster-robust standard error of a mean (Miller 2024, eq. 4): items of one cluster
    (a subtask, a shared passage) are not independent, so residuals are summed per
    cluster before squaring. Equals the plain SE (ddof=0) when every cluster has one item."""
    x = np.asarray(values, float)
    labels = np.asarray(clusters)
    residuals = x - x.mean()
    sums = np.array([residuals[labels == c].sum() for c in np.unique(labels)])
    return float(math.sqrt((sums**2).sum()) / len(x))


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
