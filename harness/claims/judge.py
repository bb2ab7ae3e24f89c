"""The verdict of one claim: gather its comparisons, decide each, combine, and say why.

Our own measurements decide when they exist; otherwise the published table does. The
verdict names the rival row it used and what each alternative row would give, and says
when the measured model is only a proxy for the one the claim names.
"""

from __future__ import annotations

from pathlib import Path

from harness.claims.decide import decide, decide_reproduction
from harness.claims.evidence import (
    dated,
    measured_rows,
    measured_vs_published_rows,
    published_rows,
    record_per_cell,
    reproduction_rows,
)
from harness.claims.model import Alternative, Claim, Comparison, Rival, Row, Verdict
from harness.claims.speed import judge_speed

MEASURED = "measured vs measured (paired, same items)"


def combine(verdicts: list[str]) -> str:
    if "refuted" in verdicts:
        return "refuted"
    if verdicts and all(v == "supported" for v in verdicts):
        return "supported"
    if "inconclusive" in verdicts:
        return "inconclusive"
    return "not yet measured"


def compare(claim: Claim, evidence: str, subject: str, rival: Rival, rows: list[Row]) -> Comparison:
    decision = decide(claim, rows)
    return Comparison(
        evidence=evidence,
        subject=subject,
        rival=rival.name,
        rival_why=rival.why,
        verdict=decision.verdict,
        reason=decision.reason,
        deciding_rows=decision.deciding,
        rows=rows,
    )


def gather_comparisons(claim: Claim, chosen: dict, entries, load_items, iterations: int) -> list[Comparison]:
    """One comparison per (evidence kind, rival), most direct evidence first."""
    comparisons = []
    if claim.measured:
        for rival in claim.measured.rivals:
            rows = measured_rows(claim.measured, rival.name, chosen, load_items, iterations)
            comparisons.append(compare(claim, MEASURED, claim.measured.subject, rival, rows))
    if claim.measured_vs_published:
        evidence = claim.measured_vs_published
        for rival in evidence.rivals:
            rows = measured_vs_published_rows(evidence, rival.name, chosen, entries)
            comparisons.append(
                compare(claim, f"measured vs published ({evidence.table})", evidence.subject, rival, rows)
            )
    if claim.published:
        for rival in claim.published.rivals:
            rows = published_rows(claim.published, rival.name, dated(entries, claim.evidence_as_of))
            comparisons.append(
                compare(
                    claim, f"published vs published ({claim.published.table})", claim.published.subject, rival, rows
                )
            )
    return comparisons


def sensitivity(claim: Claim, entries) -> list[Alternative]:
    """What each alternative rival row would give under the same rule."""
    if not claim.published:
        return []
    alternatives = []
    for rival in claim.published.alternatives:
        rows = published_rows(claim.published, rival.name, dated(entries, claim.evidence_as_of))
        decision = decide(claim, rows)
        alternatives.append(
            Alternative(rival=rival.name, why=rival.why, verdict=decision.verdict, reason=decision.reason)
        )
    return alternatives


def rule_checks(claim: Claim, entries) -> list[Alternative]:
    """The same rule on other pairs of the table (the two rivals against each other, or
    the roles swapped), so a reader sees whether the rule itself is reasonable."""
    if not claim.published:
        return []
    checks = []
    for check in claim.published.checks:
        evidence = claim.published.model_copy(update={"subject": check.subject})
        decision = decide(claim, published_rows(evidence, check.rival, dated(entries, claim.evidence_as_of)))
        checks.append(
            Alternative(
                subject=check.subject,
                rival=check.rival,
                why=check.why,
                verdict=decision.verdict,
                reason=decision.reason,
            )
        )
    return checks


def proxy_notes(claim: Claim, chosen: dict) -> list[str]:
    """How the measured models differ from the models the claim is about."""
    if not claim.measured:
        return []
    notes = []
    for model, claimed in claim.measured.claimed_models.items():
        for bench in claim.measured.benchmarks + claim.measured.fallback_benchmarks:
            cell = chosen.get((model, bench))
            if cell is None:
                continue
            ours = cell[1]["model"]
            if claimed.variant and ours["variant"] != claimed.variant:
                notes.append(
                    f"{model} is the {ours['variant']} model; the claim names {claimed.name} ({claimed.variant})"
                )
            if not claimed.quantized and ours.get("quantization"):
                notes.append(
                    f"{model} runs {ours['quantization']} quantized weights; the claim's number is "
                    f"from unquantized {claimed.name}"
                )
    return sorted(set(notes))


def judge_reproduction(claim: Claim, base: dict, chosen: dict, entries) -> Verdict:
    """A packaged model against its model card: one row per card row, the tolerance rule."""
    rows = reproduction_rows(claim.reproduction, chosen, entries)
    decision = decide_reproduction(claim, rows)
    proxy = sorted({r.proxy for r in rows if r.proxy and r.measured is not None})
    counts = {}
    for row in rows:
        word = row.outcome or row.status.split(":")[0]  # not yet measured | not measurable here | ...
        counts.setdefault(word, []).append(row.label)
    why = f"{decision.verdict} (±{claim.margin:g} points): " + "; ".join(
        f"{word} {', '.join(labels[:4])}" + (f" and {len(labels) - 4} more" if len(labels) > 4 else "")
        for word, labels in counts.items()
    )
    reason = decision.reason
    if proxy:
        reason, why = f"about a proxy ({'; '.join(proxy)}): {reason}", f"about a proxy: {why}"
    return Verdict(
        **base,
        verdict=decision.verdict,
        reason=reason,
        why=why,
        deciding_rows=decision.deciding,
        decided_by="reproduction (our score with its CI vs the card's number)",
        rival_chosen="; ".join(dict.fromkeys(check.table for check in claim.reproduction)),
        proxy=proxy,
        setup_parity_warnings=sorted({w for r in rows for w in r.parity_warnings}),
        reproduction=rows,
    )


def fallback_note(claim: Claim, measured: list[Comparison]) -> str:
    """When a claim's substitute settings decide because its own have no records of both
    models yet, say so and name what is missing."""
    if not claim.measured or not claim.measured.fallback_benchmarks:
        return ""
    rows = [r for c in measured for r in c.rows]
    own = [r for r in rows if r.benchmark in claim.measured.benchmarks]
    used = [r.label for r in rows if r.benchmark in claim.measured.fallback_benchmarks and r.has_numbers]
    if not used or any(r.has_numbers for r in own):
        return ""
    missing = "; ".join(f"{r.benchmark}: {r.status_detail or r.status}" for r in own)
    names = " or ".join(r.benchmark for r in own)
    return f"on the substitute {', '.join(used)} until {names} has records of both models ({missing})"


OUTCOME_WORDS = {
    "win": "ahead beyond noise",
    "loss": "behind beyond noise",
    "ahead": "ahead within noise",
    "behind": "behind within noise",
    "tie": "tied",
}


PARITY_WORDS = {  # a parity verdict is decided by the margin, not by who is ahead
    "on_par": {
        "refuted": "95% CI outside ±{m:g}",
        "inconclusive": "not shown within ±{m:g}",
        "supported": "shown within ±{m:g}",
    },
    "on_par_or_better": {
        "refuted": "95% CI below -{m:g}",
        "inconclusive": "not shown above -{m:g}",
        "supported": "shown above -{m:g}",
    },
}


def one_line_why(deciding: list[Comparison], claim: Claim | None = None) -> str:
    """Per rival: the verdict, then the deciding rows grouped by what they showed (for a
    parity claim: against the margin)."""
    parts = []
    for comparison in deciding:
        outcome = {r.label: r.outcome for r in comparison.rows}
        groups: dict[str, list[str]] = {}
        for label in comparison.deciding_rows:
            word = OUTCOME_WORDS.get(outcome.get(label) or "", "untested")
            words = PARITY_WORDS.get(claim.quantifier, {}) if claim else {}
            if comparison.verdict in words:
                word = words[comparison.verdict].format(m=claim.margin) + f" ({word})"
            groups.setdefault(word, []).append(label)
        shown = "; ".join(
            f"{word} on {', '.join(labels[:3])}" + (f" and {len(labels) - 3} more" if len(labels) > 3 else "")
            for word, labels in groups.items()
        )
        untested = [r.label for r in comparison.rows if r.status in ("untestable", "setup mismatch")]
        parts.append(
            f"vs {comparison.rival}: {comparison.verdict}"
            + (f" ({shown})" if shown else "")
            + (f", not tested: {', '.join(untested)}" if untested else "")
        )
    return "; ".join(parts)


def judge(claim: Claim, records: list[tuple[Path, dict]], entries, load_items, iterations: int = 2000) -> Verdict:
    """Verdict for one claim from the records on disk and the published numbers."""
    base = dict(
        claim=claim.id,
        label=claim.label,
        statement=claim.statement,
        said_by=claim.said_by,
        where=claim.where,
        when=claim.when,
        quantifier=claim.quantifier,
        semantics=claim.semantics,
        margin=claim.margin,
        margin_reason=claim.margin_reason,
    )
    if claim.quantifier == "out_of_scope":
        return Verdict(**base, verdict="out of scope", reason=claim.reason, why=claim.reason)
    chosen = record_per_cell(records)
    if claim.quantifier == "reproduces":
        return judge_reproduction(claim, base, chosen, entries)
    comparisons = gather_comparisons(claim, chosen, entries, load_items, iterations)
    measured = [c for c in comparisons if c.evidence.startswith("measured") and c.verdict != "not yet measured"]
    deciding = measured or [c for c in comparisons if c.evidence.startswith("published")] or comparisons
    verdict = combine([c.verdict for c in deciding])
    reason = (
        "; ".join(f"vs {c.rival}: {c.verdict} ({c.reason})" for c in deciding)
        or f"no evidence available: {claim.notes or 'the claim names no measured or published comparison'}"
    )
    why = one_line_why(deciding, claim) or reason
    substitute = fallback_note(claim, measured)
    if substitute:
        reason, why = f"{substitute}: {reason}", f"{substitute}: {why}"
    proxy = proxy_notes(claim, chosen) if measured else []
    if proxy:
        reason = f"about a proxy ({'; '.join(proxy)}): {reason}"
        why = f"about a proxy: {why}"
    if claim.evidence_as_of:
        reason = f"judged on the evidence of its time (sources dated up to {claim.evidence_as_of}): {reason}"
        why = f"on the evidence of its time (to {claim.evidence_as_of}): {why}"
    alternatives = sensitivity(claim, entries)
    result = Verdict(
        **base,
        verdict=verdict,
        reason=reason,
        why=why,
        deciding_rows=[r for c in deciding for r in c.deciding_rows],
        rival_chosen=", ".join(c.rival for c in deciding),
        decided_by=deciding[0].evidence if deciding else None,
        proxy=proxy,
        sensitivity=alternatives,
        depends_on_rival=any(a.verdict != verdict for a in alternatives) if alternatives else None,
        rule_checks=rule_checks(claim, entries),
        setup_parity_warnings=sorted({w for c in deciding for r in c.rows for w in r.parity_warnings}),
        comparisons=comparisons,
        reproduction=reproduction_rows(claim.reproduction, chosen, entries),
    )
    if claim.speed:  # "less capable but faster": both halves must hold
        speed = judge_speed(claim.speed, chosen)
        result.speed = speed
        result.verdict = combine([verdict, speed.verdict])
        result.reason = f"capability: {reason}; {speed.reason}"
        result.why = f"capability: {why}; {speed.reason}"
    return result
