"""Speed halves of claims ("less capable but faster"), judged from throughput in records."""

from __future__ import annotations

from harness.claims.model import Speed, SpeedVerdict


def judge_speed(speed: Speed, newest: dict) -> SpeedVerdict:
    """Each `faster` model against `than`, by items per second on the same benchmark and
    hardware (one timed run per cell: no confidence interval)."""
    slow = speed.than
    ratios, missing = [], []
    for fast in speed.faster:
        pairs = [
            (bench, newest[(fast, bench)][1], newest[(slow, bench)][1])
            for (model, bench) in newest
            if model == fast and (slow, bench) in newest
        ]
        pairs = [
            (b, f, s)
            for b, f, s in pairs
            if f.get("throughput") and s.get("throughput") and f["hardware"]["config"] == s["hardware"]["config"]
        ]
        if not pairs:
            missing.append(fast)
        ratios += [
            (fast, b, f["throughput"]["items_per_second"] / s["throughput"]["items_per_second"]) for b, f, s in pairs
        ]
    if missing:
        return SpeedVerdict(
            verdict="not yet measured",
            reason=(f"speed: no throughput on a shared benchmark and hardware for {', '.join(missing)} and {slow}"),
        )
    text = "speed: " + "; ".join(f"{m} {r:.2f}x {slow} on {b}" for m, b, r in ratios) + " (items/s, one run each)"
    if all(r > 1 for _, _, r in ratios):
        return SpeedVerdict(verdict="supported", reason=text)
    return SpeedVerdict(verdict="refuted" if all(r < 1 for _, _, r in ratios) else "inconclusive", reason=text)
