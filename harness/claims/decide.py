"""Quantifiers: one comparison's rows -> verdict, reason and the rows that decided it.

Every row gets an outcome first; each quantifier then reads outcomes only:
- win / loss: the difference survives Holm's correction over the tested rows (alpha 0.05);
- ahead / behind / tie: tested, inside the noise;
- untested (ahead|behind|tie): no item count (untestable) or cells not produced alike
  (setup mismatch). Such rows are named in the reason and never decide a verdict alone.

Semantics (README "Quantifiers"):
- beats: one benchmark (one row per setting): supported on a win and no loss, refuted on a
  loss and no win, otherwise inconclusive.
- beats_on_several: supported with >= min_count wins; refuted when the wins plus the rows
  where the subject is ahead (tested or not) are fewer than min_count. Rows where the
  subject is behind never count as potential wins.
- might_surpass: beats_on_several on the evidence that existed when the claim was made.
- on_all: supported when every row is a win; refuted when any like-for-like row shows the
  subject behind (a claim about "all" admits no exception, even inside the noise);
  otherwise inconclusive.
- on_par: every tested row shown inside +-margin (TOST); refuted when a row's 95% CI lies
  entirely outside +-margin on either side.
- on_par_or_better: every tested row shown above -margin (non-inferiority, 90% CI lower
  bound, i.e. one-sided 5%); refuted when a row's 95% CI lies entirely below -margin.
  Being ahead never counts against it.
- reproduces (a packaged model against its model card, row by row; the card's number is
  taken as exact, our score carries the CI): a row is *reproduced* when the 90% CI of
  (ours - card) lies inside +-tolerance (TOST at 5%), *not reproduced* when the 95% CI lies
  entirely outside it, otherwise *unclear*. Supported when every measurable row is
  measured and reproduced; refuted when any row is not reproduced; otherwise inconclusive.
  Rows the claim marks as not measurable here (no offline data, no chat template) are
  named and never decide; a row whose record scored only the first `limit` items (not a
  sample of the set the card scored) is shown as a *limited run* and counts as still to
  measure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from harness import stats
from harness.claims.model import Claim, ReproductionRow, Row

UNTESTED = ("untestable", "setup mismatch")


@dataclass
class Decision:
    verdict: str
    reason: str
    deciding: list[str] = field(default_factory=list)  # labels of the rows that decided


def classify(rows: list[Row], alpha: float) -> None:
    """Fill p_holm and outcome on every row that has numbers."""
    tested = [r for r in rows if r.status == "compared" and r.diff is not None]
    for row, p_adj in zip(tested, stats.holm([r.diff.p_value for r in tested]) if tested else [], strict=False):
        row.p_holm = p_adj
        side = "ahead" if row.difference > 0 else "behind" if row.difference < 0 else "tie"
        row.outcome = {"ahead": "win", "behind": "loss"}.get(side, side) if p_adj < alpha else side
    for row in rows:
        if row.status in UNTESTED:
            side = "ahead" if row.difference > 0 else "behind" if row.difference < 0 else "tie"
            row.outcome = f"untested ({side})"


def _names(rows: list[Row]) -> str:
    return ", ".join(r.label for r in rows)


def _tally(rows: list[Row]) -> str:
    numbered = [r for r in rows if r.outcome]
    count = lambda *outcomes: sum(r.outcome in outcomes for r in numbered)  # noqa: E731
    text = (
        f"ahead on {count('win', 'ahead', 'untested (ahead)')}/{len(numbered)} rows ({count('win')} beyond noise "
        f"after Holm), behind on {count('loss', 'behind', 'untested (behind)')} ({count('loss')} beyond noise)"
    )
    untested = [r for r in numbered if r.status in UNTESTED]
    if untested:
        text += f"; not tested: {'; '.join(f'{r.label}: {r.status_detail}' for r in untested)}"
    return text


def power_notes(claim: Claim, rows: list[Row]) -> None:
    """Inconclusive tested rows: underpowered (MDE above the gap that matters) or not.
    Decided rows of a claim that states its gap: the MDE set against that gap."""
    for row in rows:
        if row.outcome in ("win", "loss") and row.mde is not None and claim.claimed_gap is not None:
            row.power_note = f"detects {row.mde:.1f} points at 80% power; the claimed gap is {claim.claimed_gap:.1f}"
        if row.outcome not in ("ahead", "behind", "tie") or row.mde is None:
            continue
        gap = claim.claimed_gap if claim.claimed_gap is not None else claim.margin
        if gap is None:
            gap, what = abs(row.difference), "the observed gap"
        else:
            what = "the claimed gap" if claim.claimed_gap is not None else "the margin"
        if row.mde > gap:
            row.power_note = f"underpowered: detects {row.mde:.1f} points at 80% power, {what} is {gap:.1f}"
        elif row.diff is not None and -gap < row.diff.low and row.diff.high < gap:
            row.power_note = (
                f"detected equivalence: the 95% CI [{row.diff.low:.1f}, {row.diff.high:.1f}] "
                f"excludes {what} of {gap:.1f} either way"
            )
        else:
            row.power_note = f"powered for {what} ({gap:.1f} >= MDE {row.mde:.1f}) yet not significant"


def decide(claim: Claim, rows: list[Row]) -> Decision:
    """Verdict and reason for one subject-vs-rival comparison over its rows."""
    numbered = [r for r in rows if r.has_numbers]
    if not numbered:
        return Decision("not yet measured", "no benchmark has numbers for both sides")
    classify(numbered, claim.alpha)
    power_notes(claim, numbered)
    tally = _tally(numbered)
    if claim.quantifier in ("beats", "beats_on_several", "might_surpass"):
        return decide_beats(claim, numbered, tally)
    if claim.quantifier == "on_all":
        return decide_on_all(numbered, tally)
    return decide_on_par(claim, numbered, tally)


def decide_beats(claim: Claim, rows: list[Row], tally: str) -> Decision:
    wins = [r for r in rows if r.outcome == "win"]
    losses = [r for r in rows if r.outcome == "loss"]
    if claim.claimed_gap is not None:  # the test's power, stated whatever the outcome
        tally += (
            "; power (MDE at 80%, alpha 0.05): "
            + ", ".join(f"{r.label} {r.mde:.1f} points" for r in rows if r.mde is not None and r.status == "compared")
            + f" against the claimed gap of {claim.claimed_gap:.1f}"
        )
    if claim.quantifier == "beats":
        if wins and not losses:
            return Decision("supported", tally, [r.label for r in wins])
        if losses and not wins:
            return Decision("refuted", tally, [r.label for r in losses])
        return Decision("inconclusive", tally + _power_summary(rows), [r.label for r in rows])
    needed = claim.min_count
    potential = [r for r in rows if r.outcome in ("ahead", "untested (ahead)")]
    if len(wins) >= needed:
        return Decision("supported", tally + f"; needs {needed} wins beyond noise", [r.label for r in wins])
    if len(wins) + len(potential) < needed:
        behind = [r for r in rows if r.outcome in ("loss", "behind")]
        return Decision(
            "refuted",
            tally + f"; needs {needed} wins, and only {len(wins) + len(potential)} rows "
            f"have the subject ahead at all ({_names(wins + potential) or 'none'})",
            [r.label for r in (wins + potential or behind)],
        )
    return Decision(
        "inconclusive",
        tally + f"; needs {needed} wins beyond noise; possible: {_names(potential)}" + _power_summary(potential),
        [r.label for r in wins + potential],
    )


def decide_on_all(rows: list[Row], tally: str) -> Decision:
    behind = [r for r in rows if r.outcome in ("loss", "behind")]
    if behind:
        noise = ["beyond noise" if r.outcome == "loss" else "inside the noise" for r in behind]
        return Decision(
            "refuted",
            tally
            + "; 'all' fails on "
            + ", ".join(f"{r.label} ({r.difference:+.1f}, {n})" for r, n in zip(behind, noise, strict=False)),
            [r.label for r in behind],
        )
    not_won = [r for r in rows if r.outcome != "win"]
    if not not_won:
        return Decision("supported", tally, [r.label for r in rows])
    return Decision(
        "inconclusive",
        tally + f"; not shown as wins: {_names(not_won)}" + _power_summary(not_won),
        [r.label for r in not_won],
    )


def decide_on_par(claim: Claim, rows: list[Row], tally: str) -> Decision:
    """Per tested row: shown inside the margin, clearly outside, or unclear."""
    margin, better_ok = claim.margin, claim.quantifier == "on_par_or_better"
    outside, unclear = [], []
    for row in (r for r in rows if r.status == "compared"):
        diff = row.diff
        half_90 = (diff.high - diff.low) / 2 * stats.Z90 / stats.Z95
        if better_ok:
            shown = diff.estimate - half_90 > -margin
            clearly_out = diff.high < -margin
        else:
            shown = stats.equivalent(diff, margin)
            clearly_out = diff.high < -margin or diff.low > margin
        if shown:
            row.power_note = f"shown {'above -' if better_ok else 'within ±'}{margin:g} points (90% CI)"
        elif clearly_out:
            outside.append(row)
        else:
            unclear.append(row)
    kind = "non-inferiority" if better_ok else "equivalence"
    text = f"{tally}; {kind} margin {margin:g} points"
    if outside:
        side = "below" if better_ok else "outside"
        return Decision(
            "refuted", f"{text}; 95% CI entirely {side} the margin on {_names(outside)}", [r.label for r in outside]
        )
    if unclear:
        return Decision(
            "inconclusive",
            f"{text}; not shown on {_names(unclear)}" + _power_summary(unclear),
            [r.label for r in unclear],
        )
    tested = [r for r in rows if r.status == "compared"]
    if not tested:
        return Decision("inconclusive", f"{text}; no row could be tested", [])
    return Decision("supported", f"{text}; shown on {len(tested)} tested rows", [r.label for r in tested])


def _power_summary(rows: list[Row]) -> str:
    under = [r for r in rows if r.power_note and r.power_note.startswith("underpowered")]
    equivalent = [r for r in rows if r.power_note and r.power_note.startswith("detected equivalence")]
    text = "; underpowered on " + ", ".join(f"{r.label} (MDE {r.mde:.1f})" for r in under) if under else ""
    if equivalent:
        text += "; detected equivalence (the gap that matters is excluded) on " + _names(equivalent)
    return text


# ---------------------------------------------------------------- reproduction of a model card


def judge_reproduction_row(row: ReproductionRow, tolerance: float) -> None:
    """Outcome of one measured card row: TOST of (ours - card) against +-tolerance."""
    if row.status.startswith("setup mismatch"):
        row.outcome = "setup mismatch"
        return
    if row.limit is not None:
        row.outcome = "limited run"
        row.power_note = (
            f"our record scored only the first {row.limit} items per task, not a sample of the set the card "
            "scored: shown, never decides"
        )
        return
    gap, stderr = row.gap, row.stderr or 0.0
    diff = stats.Difference(gap, gap - stats.Z95 * stderr, gap + stats.Z95 * stderr, 1.0, "ours minus the card")
    half_90 = stats.Z90 * stderr
    ci_90 = f"[{gap - half_90:+.1f}, {gap + half_90:+.1f}]"
    if stats.equivalent(diff, tolerance):
        row.outcome, row.power_note = "reproduced", f"gap {gap:+.1f}, 90% CI {ci_90} inside ±{tolerance:g}"
    elif diff.low > tolerance or diff.high < -tolerance:
        row.outcome = "not reproduced"
        row.power_note = f"gap {gap:+.1f}, 95% CI [{diff.low:+.1f}, {diff.high:+.1f}] entirely beyond ±{tolerance:g}"
    elif half_90 >= tolerance:
        row.outcome = "unclear"
        row.power_note = (
            f"underpowered: our 90% CI half-width {half_90:.1f} is not below the tolerance {tolerance:g} "
            f"(n={row.n_items}), so no score at this n could show it"
        )
    else:
        row.outcome = "unclear"
        row.power_note = f"gap {gap:+.1f}, 90% CI {ci_90} crosses ±{tolerance:g}"


def decide_reproduction(claim: Claim, rows: list[ReproductionRow]) -> Decision:
    """Verdict of a `reproduces` claim over its card rows (module docstring)."""
    tolerance = claim.margin
    measurable = [r for r in rows if not r.status.startswith(("not measurable", "published number missing"))]
    measured = [r for r in measurable if r.measured is not None]
    for row in measured:
        judge_reproduction_row(row, tolerance)
    pending = [r for r in measurable if r.measured is None]
    left_out = [r for r in rows if r not in measurable]
    groups = {
        outcome: [r for r in measured if r.outcome == outcome]
        for outcome in ("reproduced", "not reproduced", "unclear", "setup mismatch", "limited run")
    }
    text = f"tolerance ±{tolerance:g} points; {len(measured)} of {len(measurable)} measurable card rows measured"
    for outcome, group in groups.items():
        if group:
            text += f"; {outcome}: " + ", ".join(f"{r.label} ({r.power_note or r.status})" for r in group)
    if pending:
        text += "; not yet measured: " + ", ".join(r.label for r in pending)
    if left_out:
        text += "; not judged: " + ", ".join(f"{r.label} ({r.status})" for r in left_out)
    if not measured:
        return Decision("not yet measured", text, [])
    if groups["not reproduced"]:
        return Decision("refuted", text, [r.label for r in groups["not reproduced"]])
    if not pending and len(groups["reproduced"]) == len(measured):
        return Decision("supported", text, [r.label for r in measured])
    undecided = groups["unclear"] + groups["setup mismatch"] + groups["limited run"] + pending
    return Decision("inconclusive", text, [r.label for r in undecided])
