"""Claims as data, and the verdict engine.

A claim (configs/claim/<id>.yaml) says who claimed what, where and when, and how to check
it: a quantifier ("beats on several benchmarks", "on par") applied to a subject and its
rivals, with evidence from our measured records (paired tests on the same items), from
the published table the claim comes from, and reproduction checks (our score vs the
published one for the same model). `judge` is a pure function of the claim, the records
and the published numbers; it returns a verdict with its reason and the numbers behind it.
"""
from __future__ import annotations

import dataclasses
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from harness import CONFIG_DIR, stats
from harness.published import Published, PublishedError, find
from harness.schema import ConfigError, build

CLAIM_DIR = CONFIG_DIR / "claim"
VERDICTS = ("supported", "refuted", "inconclusive", "not yet measured", "out of scope")
QUANTIFIERS = ("beats", "beats_on_several", "on_par", "on_par_or_better", "out_of_scope")
# Test-set sizes (items) used to judge the noise of published numbers that come without
# item data. Unknown benchmarks get counts only, no significance.
BENCHMARK_ITEMS = {
    "MMLU": 14042, "MMLU-Pro": 12032, "GSM8K": 1319, "GSM-8K": 1319, "ARC-Challenge": 1172, "Arc-c": 1172,
    "ARC-c": 1172, "Arc-e": 2376, "HumanEval": 164, "MBPP EvalPlus (base)": 378, "MATH": 5000, "GPQA": 448,
    "IFEval": 541, "MGSM": 2750, "InfiniteBench/En.MC": 229, "BBH": 6511, "BIG-Bench Hard": 6511,
    "HellaSwag": 10042, "WinoGrande": 1267, "WinoG": 1267, "PIQA": 1838, "TriviaQA": 17944, "NQ": 3610,
    "BoolQ": 3270, "C-Eval": 1346, "CEval": 1346, "CMMLU": 11582, "DROP": 9536, "MBPP": 500,
}


@dataclass
class Statement:
    original: str = ""
    language: str = "en"
    english: str = ""


@dataclass
class PublishedEvidence:
    table: str = ""
    subject: str = ""                               # model name as the table prints it
    rivals: list = field(default_factory=list)
    benchmarks: list = field(default_factory=list)  # empty = every benchmark both have


@dataclass
class MeasuredEvidence:
    subject: str = ""                               # model config names
    rivals: list = field(default_factory=list)
    benchmarks: list = field(default_factory=list)  # benchmark config names


@dataclass
class MeasuredVsPublished:
    subject: str = ""                               # model config name (our records)
    table: str = ""
    rivals: list = field(default_factory=list)      # model names as the table prints them
    benchmarks: dict = field(default_factory=dict)  # our benchmark config -> "Benchmark|setting" in the table


@dataclass
class Reproduction:
    model: str = ""                                 # model config name
    benchmark: str = ""                             # benchmark config name
    table: str = ""
    published_model: str = ""
    published_benchmark: str = ""
    known_differences: list = field(default_factory=list)


@dataclass
class Claim:
    id: str = ""
    statement: Statement = field(default_factory=Statement)
    said_by: str = ""
    where: str = ""
    when: str = ""
    quantifier: str = "beats_on_several"
    min_count: int = 2          # "several": at least this many benchmarks
    margin: float = 2.0         # points: "on par" means within this margin
    alpha: float = 0.05
    published: Optional[dict] = None
    measured: Optional[dict] = None
    measured_vs_published: Optional[dict] = None
    reproduction: list = field(default_factory=list)
    speed: Optional[dict] = None       # {"faster": [...], "than": ...}: judged from throughput
    reason: str = ""                   # why out of scope
    notes: str = ""


def load_claim(path: Path) -> Claim:
    try:
        data = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    claim = build(Claim, {"id": Path(path).stem, **data}, f"claim {Path(path).stem}")
    if claim.quantifier not in QUANTIFIERS:
        raise ConfigError(f"claim {claim.id}: quantifier '{claim.quantifier}' is not one of {', '.join(QUANTIFIERS)}")
    if claim.published is not None:
        claim.published = build(PublishedEvidence, claim.published, f"claim {claim.id}.published")
    if claim.measured is not None:
        claim.measured = build(MeasuredEvidence, claim.measured, f"claim {claim.id}.measured")
    if claim.measured_vs_published is not None:
        claim.measured_vs_published = build(MeasuredVsPublished, claim.measured_vs_published,
                                            f"claim {claim.id}.measured_vs_published")
    claim.reproduction = [build(Reproduction, r, f"claim {claim.id}.reproduction") for r in claim.reproduction]
    if claim.quantifier == "out_of_scope" and not claim.reason:
        raise ConfigError(f"claim {claim.id}: an out-of-scope claim needs a reason")
    return claim


def claim_names() -> list[str]:
    return sorted(path.stem for path in CLAIM_DIR.glob("*.yaml"))


def load_claims(names: list[str] | None = None) -> list[Claim]:
    known = claim_names()
    for name in names or []:
        if name not in known:
            raise ConfigError(f"unknown claim '{name}' (valid: {', '.join(known)})")
    return [load_claim(CLAIM_DIR / f"{name}.yaml") for name in (names or known)]


# ---------------------------------------------------------------- published vs published

def _setting_key(entry: Published) -> str:
    return entry.setting.split(" [")[0]


def published_parity(subject: Published, rival: Published) -> list[str]:
    warnings = []
    a, b = subject.parsed_setting(), rival.parsed_setting()
    if a["shots"] != b["shots"] and None not in (a["shots"], b["shots"]):
        warnings.append(f"different shots: {a['shots']} vs {b['shots']}")
    if a["text"] != b["text"]:
        warnings.append(f"settings printed differently: '{a['text']}' vs '{b['text']}'")
    if a["cot"] != b["cot"] and None not in (a["cot"], b["cot"]):
        warnings.append(f"CoT differs: {'CoT' if a['cot'] else 'no CoT'} vs {'CoT' if b['cot'] else 'no CoT'}")
    for entry in (subject, rival):
        if entry.self_reported:
            warnings.append(f"{entry.model}: the vendor's own number ({entry.evaluator})")
        elif entry.self_reported is None and entry.evaluator != entry.reported_by:
            warnings.append(f"{entry.model}: evaluator unclear ({entry.evaluator})")
    if subject.evaluator != rival.evaluator:
        warnings.append(f"measured by different parties: {subject.evaluator} vs {rival.evaluator}")
    return warnings


def published_rows(evidence: PublishedEvidence, rival: str, entries) -> list[dict]:
    subject_rows = find(evidence.table, evidence.subject, entries=entries)
    rival_rows = {(_setting_key(e), e.benchmark): e for e in find(evidence.table, rival, entries=entries)}
    rival_by_benchmark = defaultdict(list)
    for entry in rival_rows.values():
        rival_by_benchmark[entry.benchmark].append(entry)
    rows, seen = [], set()
    for subject in subject_rows:
        key = (subject.benchmark, _setting_key(subject))
        if key in seen or (evidence.benchmarks and subject.benchmark not in evidence.benchmarks):
            continue  # a source printed twice (two commits of one README) counts once
        seen.add(key)
        other = rival_rows.get((_setting_key(subject), subject.benchmark)) or \
            (rival_by_benchmark[subject.benchmark] or [None])[0]
        row = {"benchmark": subject.benchmark, "setting": subject.setting, "subject": subject.value,
               "subject_source": subject.citation}
        if other is None:
            rows.append({**row, "status": "not reported for the rival"})
            continue
        n = BENCHMARK_ITEMS.get(subject.benchmark)
        diff = stats.unpaired_difference(subject.value, other.value, n) if n else None
        rows.append({**row, "rival": other.value, "rival_setting": other.setting, "difference": round(subject.value - other.value, 2),
                     "ci95": [round(diff.low, 2), round(diff.high, 2)] if diff else None,
                     "p_value": diff.p_value if diff else None, "n_items": n,
                     "method": diff.method if diff else "no item count known: point difference only",
                     "parity_warnings": published_parity(subject, other), "_diff": diff})
    return rows


# ---------------------------------------------------------------- measured vs measured

def newest_records(records: list[tuple[Path, dict]]) -> dict:
    """(model, benchmark) -> (path, record), the latest finished run of each cell."""
    newest = {}
    for path, record in records:
        key = (record["cell"]["model"], record["cell"]["benchmark"])
        if key not in newest or record["timing"]["finished_at"] > newest[key][1]["timing"]["finished_at"]:
            newest[key] = (path, record)
    return newest


def measured_parity(a: dict, b: dict) -> list[str]:
    warnings = []
    checks = [("num_fewshot", a["benchmark"]["num_fewshot"], b["benchmark"]["num_fewshot"]),
              ("limit", a["benchmark"]["limit"], b["benchmark"]["limit"]),
              ("chat template", a["model"]["chat_template_applied"], b["model"]["chat_template_applied"]),
              ("dtype", a["model"]["dtype"], b["model"]["dtype"]),
              ("scorer", a["model"].get("scorer"), b["model"].get("scorer")),
              ("lm-eval", a["versions"]["lm_eval"], b["versions"]["lm_eval"])]
    warnings += [f"{name} differs: {x} vs {y}" for name, x, y in checks if x != y]
    quantized = [(r["model"]["name"], r["model"]["quantization"]) for r in (a, b) if r["model"].get("quantization")]
    warnings += [f"{name} is quantized ({q})" for name, q in quantized]
    if a["model"]["variant"] != b["model"]["variant"]:
        warnings.append(f"variants differ: {a['model']['variant']} vs {b['model']['variant']}")
    return warnings


def paired_items(a_items: list[dict], b_items: list[dict]) -> tuple[dict, dict, int]:
    """Scores of the items both records scored (same task, doc id and doc hash), by task."""
    b_index = {(i["task"], i["doc_id"], i["doc_hash"]): i["score"] for i in b_items}
    a_scores, b_scores, unmatched = defaultdict(list), defaultdict(list), 0
    for item in a_items:
        key = (item["task"], item["doc_id"], item["doc_hash"])
        if key in b_index and item["score"] is not None and b_index[key] is not None:
            a_scores[item["task"]].append(item["score"])
            b_scores[item["task"]].append(b_index[key])
        else:
            unmatched += 1
    return dict(a_scores), dict(b_scores), unmatched


def measured_rows(evidence: MeasuredEvidence, rival: str, newest: dict, load_items, iterations: int) -> list[dict]:
    rows = []
    for bench in evidence.benchmarks:
        cells = [newest.get((evidence.subject, bench)), newest.get((rival, bench))]
        if None in cells:
            missing = [m for m, c in zip((evidence.subject, rival), cells) if c is None]
            rows.append({"benchmark": bench, "status": f"not yet measured: no record for {', '.join(missing)}"})
            continue
        (a_path, a), (b_path, b) = cells
        a_scores, b_scores, unmatched = paired_items(load_items(a_path, a), load_items(b_path, b))
        if not a_scores:
            rows.append({"benchmark": bench, "status": "records share no items: cannot pair"})
            continue
        diff = stats.paired_difference(a_scores, b_scores, iterations=iterations)
        warnings = measured_parity(a, b) + ([f"{unmatched} items of {evidence.subject} not in both records"]
                                            if unmatched else [])
        rows.append({"benchmark": bench, "subject": round(100 * a["scores"]["primary"]["value"], 2),
                     "rival": round(100 * b["scores"]["primary"]["value"], 2),
                     "difference": round(100 * diff.estimate, 2),
                     "ci95": [round(100 * diff.low, 2), round(100 * diff.high, 2)], "p_value": diff.p_value,
                     "n_items": sum(len(v) for v in a_scores.values()), "method": diff.method,
                     "records": [str(a_path), str(b_path)], "parity_warnings": warnings,
                     "_diff": stats.Difference(100 * diff.estimate, 100 * diff.low, 100 * diff.high,
                                               diff.p_value, diff.method)})
    return rows


# ---------------------------------------------------------------- measured vs a published number

def measured_score(record: dict) -> stats.Difference:
    """Our primary score in points with its normal 95% CI (p-value filled in by the caller)."""
    primary = record["scores"]["primary"]
    value, half = 100 * primary["value"], 100 * stats.Z95 * (primary["stderr"] or 0.0)
    return stats.Difference(value, value - half, value + half, 1.0, "measured score vs published point")


def measured_vs_published_rows(evidence: MeasuredVsPublished, rival: str, newest: dict, entries) -> list[dict]:
    rows = []
    for bench, printed in evidence.benchmarks.items():
        benchmark, _, setting = printed.partition("|")
        try:
            point = find(evidence.table, rival, benchmark, setting or None, entries=entries)[0]
        except PublishedError as error:
            rows.append({"benchmark": bench, "status": f"published number missing: {error}"})
            continue
        cell = newest.get((evidence.subject, bench))
        if cell is None:
            rows.append({"benchmark": bench, "status": f"not yet measured: no record for {evidence.subject}"})
            continue
        path, record = cell
        ours = measured_score(record)
        half = (ours.high - ours.low) / 2
        diff = ours.estimate - point.value
        p_value = stats.normal_two_sided_p(diff / (half / stats.Z95)) if half else (0.0 if diff else 1.0)
        published_setting = point.parsed_setting()
        warnings = [f"{rival}: the vendor's own number ({point.evaluator})"] if point.self_reported else []
        if published_setting["shots"] not in (None, record["benchmark"]["num_fewshot"]):
            warnings.append(f"different shots: {record['benchmark']['num_fewshot']} vs {published_setting['shots']}")
        if published_setting["cot"] not in (None, record["benchmark"]["cot"]):
            warnings.append(f"CoT differs: ours {record['benchmark']['cot']}, published {published_setting['cot']}")
        warnings.append(f"measured by this harness vs published by {point.reported_by} ({point.evaluator})")
        rows.append({"benchmark": bench, "subject": round(ours.estimate, 2), "rival": point.value,
                     "rival_source": point.citation, "difference": round(diff, 2),
                     "ci95": [round(ours.low - point.value, 2), round(ours.high - point.value, 2)],
                     "p_value": p_value, "n_items": record["scores"]["primary"]["n"],
                     "method": "our 95% CI against the published point", "records": [str(path)],
                     "parity_warnings": warnings,
                     "_diff": stats.Difference(diff, ours.low - point.value, ours.high - point.value, p_value, "")})
    return rows


# ---------------------------------------------------------------- quantifiers

def decide(claim: Claim, rows: list[dict]) -> tuple[str, str]:
    """Verdict and reason for one subject-vs-rival comparison over its rows."""
    compared = [r for r in rows if "difference" in r]
    if not compared:
        return "not yet measured", "no benchmark has numbers for both sides"
    tested = [r for r in compared if r["_diff"] is not None]
    adjusted = stats.holm([r["_diff"].p_value for r in tested]) if tested else []
    for row, p_adj in zip(tested, adjusted):
        row["p_holm"] = p_adj
    ahead = [r for r in compared if r["difference"] > 0]
    behind = [r for r in compared if r["difference"] < 0]
    wins = [r for r in tested if r["p_holm"] < claim.alpha and r["difference"] > 0]
    losses = [r for r in tested if r["p_holm"] < claim.alpha and r["difference"] < 0]
    tally = (f"ahead on {len(ahead)}/{len(compared)} benchmarks ({len(wins)} beyond noise after Holm), "
             f"behind on {len(behind)} ({len(losses)} beyond noise)")
    if claim.quantifier in ("beats", "beats_on_several"):
        # supported: enough wins beyond noise; refuted: even counting every row that is not
        # clearly lost, too few remain; otherwise the data cannot tell.
        needed = 1 if claim.quantifier == "beats" else claim.min_count
        if len(wins) >= needed:
            return "supported", tally
        if len(compared) - len(losses) < needed:
            return "refuted", tally + f"; needs {needed} wins"
        return "inconclusive", tally + f"; needs {needed} win{'s' if needed > 1 else ''} beyond noise"
    return decide_on_par(claim, compared, tally)


def decide_on_par(claim: Claim, compared: list[dict], tally: str) -> tuple[str, str]:
    """Each row: clearly behind (CI entirely below -margin), shown equivalent (TOST), or
    unclear; `on_par_or_better` also accepts rows whose CI lies above -margin."""
    margin = claim.margin
    clearly_behind, unclear = [], []
    for row in compared:
        diff = row["_diff"]
        if diff is None:  # no item count: judge the point difference only
            behind = row["difference"] < -margin
            fine = abs(row["difference"]) < margin or (claim.quantifier == "on_par_or_better" and not behind)
        else:
            row["equivalent_within_margin"] = stats.equivalent(diff, margin)
            behind = diff.high < -margin
            fine = row["equivalent_within_margin"] or (claim.quantifier == "on_par_or_better" and diff.low > -margin)
        if behind:
            clearly_behind.append(row["benchmark"])
        elif not fine:
            unclear.append(row["benchmark"])
    text = f"{tally}; margin ±{margin} points"
    if clearly_behind:
        return "refuted", f"{text}; behind by more than the margin on {', '.join(clearly_behind)}"
    if unclear:
        return "inconclusive", f"{text}; not shown within the margin on {', '.join(unclear)}"
    return "supported", text


# ---------------------------------------------------------------- reproduction and speed

def reproduction_rows(claim: Claim, newest: dict, entries) -> list[dict]:
    rows = []
    for check in claim.reproduction:
        row = {"model": check.model, "benchmark": check.benchmark, "known_differences": check.known_differences}
        try:
            published = find(check.table, check.published_model, check.published_benchmark, entries=entries)[0]
        except PublishedError as error:
            rows.append({**row, "status": f"published number missing: {error}"})
            continue
        row.update({"published": published.value, "published_setting": published.setting,
                    "published_source": published.citation})
        cell = newest.get((check.model, check.benchmark))
        if cell is None:
            rows.append({**row, "status": "not yet measured"})
            continue
        primary = cell[1]["scores"]["primary"]
        measured = 100 * primary["value"]
        half = 100 * stats.Z95 * (primary["stderr"] or 0.0)
        setting = published.parsed_setting()
        warnings = list(check.known_differences)
        if setting["shots"] is not None and setting["shots"] != cell[1]["benchmark"]["num_fewshot"]:
            warnings.append(f"shots differ: measured {cell[1]['benchmark']['num_fewshot']}, published {setting['shots']}")
        rows.append({**row, "measured": round(measured, 2), "ci95": [round(measured - half, 2), round(measured + half, 2)],
                     "gap": round(measured - published.value, 2), "record": str(cell[0]),
                     "status": "published value inside our 95% CI" if abs(measured - published.value) <= half
                     else "published value outside our 95% CI", "parity_warnings": warnings})
    return rows


def judge_speed(claim: Claim, newest: dict) -> tuple[str, str]:
    """Each `faster` model against `than`, by items per second on the same benchmark and
    hardware (one timed run per cell: no confidence interval)."""
    slow = claim.speed.get("than")
    ratios, missing = [], []
    for fast in claim.speed.get("faster", []):
        pairs = [(bench, newest[(fast, bench)][1], newest[(slow, bench)][1]) for (model, bench) in newest
                 if model == fast and (slow, bench) in newest]
        pairs = [(b, f, s) for b, f, s in pairs if f.get("throughput") and s.get("throughput")
                 and f["hardware"]["config"] == s["hardware"]["config"]]
        if not pairs:
            missing.append(fast)
        ratios += [(fast, b, f["throughput"]["items_per_second"] / s["throughput"]["items_per_second"])
                   for b, f, s in pairs]
    if missing:
        return "not yet measured", (f"speed: no throughput on a shared benchmark and hardware for "
                                    f"{', '.join(missing)} and {slow}")
    text = "speed: " + "; ".join(f"{m} {r:.2f}x {slow} on {b}" for m, b, r in ratios) + " (items/s, one run each)"
    if all(r > 1 for _, _, r in ratios):
        return "supported", text
    return ("refuted" if all(r < 1 for _, _, r in ratios) else "inconclusive"), text


# ---------------------------------------------------------------- the verdict

def combine(verdicts: list[str]) -> str:
    if "refuted" in verdicts:
        return "refuted"
    if all(v == "supported" for v in verdicts):
        return "supported"
    if "inconclusive" in verdicts:
        return "inconclusive"
    return "not yet measured"


def gather_comparisons(claim: Claim, newest: dict, entries, load_items, iterations: int) -> list[dict]:
    """One comparison per (evidence kind, rival), most direct evidence first."""
    comparisons = []
    if claim.measured:
        for rival in claim.measured.rivals:
            rows = measured_rows(claim.measured, rival, newest, load_items, iterations)
            comparisons.append(_comparison(claim, "measured vs measured (paired, same items)",
                                           claim.measured.subject, rival, rows))
    if claim.measured_vs_published:
        evidence = claim.measured_vs_published
        for rival in evidence.rivals:
            rows = measured_vs_published_rows(evidence, rival, newest, entries)
            comparisons.append(_comparison(claim, f"measured vs published ({evidence.table})",
                                           evidence.subject, rival, rows))
    if claim.published:
        for rival in claim.published.rivals:
            rows = published_rows(claim.published, rival, entries)
            comparisons.append(_comparison(claim, f"published vs published ({claim.published.table})",
                                           claim.published.subject, rival, rows))
    return comparisons


def judge(claim: Claim, records: list[tuple[Path, dict]], entries, load_items, iterations: int = 2000) -> dict:
    """Verdict for one claim from the records on disk and the published numbers. Our own
    measurements decide when they exist; otherwise the published table does."""
    base = {"claim": claim.id, "statement": dataclasses.asdict(claim.statement), "said_by": claim.said_by,
            "where": claim.where, "when": claim.when, "quantifier": claim.quantifier}
    if claim.quantifier == "out_of_scope":
        return {**base, "verdict": "out of scope", "reason": claim.reason, "comparisons": []}
    newest = newest_records(records)
    comparisons = gather_comparisons(claim, newest, entries, load_items, iterations)
    measured = [c for c in comparisons if c["evidence"].startswith("measured") and c["verdict"] != "not yet measured"]
    deciding = measured or [c for c in comparisons if c["evidence"].startswith("published")] or comparisons
    verdict = combine([c["verdict"] for c in deciding]) if deciding else "not yet measured"
    reason = "; ".join(f"vs {c['rival']}: {c['verdict']} ({c['reason']})" for c in deciding) or \
        f"no evidence available: {claim.notes or 'the claim names no measured or published comparison'}"
    result = {**base, "decided_by": deciding[0]["evidence"] if deciding else None}
    if claim.speed:  # "less capable but faster": both halves must hold
        speed_verdict, speed_reason = judge_speed(claim, newest)
        result["speed"] = {"verdict": speed_verdict, "reason": speed_reason}
        verdict, reason = combine([verdict, speed_verdict]), f"capability: {reason}; {speed_reason}"
    parity = sorted({w for c in deciding for row in c["rows"] for w in row.get("parity_warnings", [])})
    result.update({"verdict": verdict, "reason": reason, "setup_parity_warnings": parity,
                   "comparisons": comparisons, "reproduction": reproduction_rows(claim, newest, entries)})
    return result


def _comparison(claim: Claim, evidence: str, subject: str, rival: str, rows: list[dict]) -> dict:
    verdict, reason = decide(claim, rows)
    for row in rows:
        row.pop("_diff", None)
    return {"evidence": evidence, "subject": subject, "rival": rival, "verdict": verdict, "reason": reason,
            "rows": rows}
