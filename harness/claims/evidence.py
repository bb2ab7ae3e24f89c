"""Evidence rows: published vs published, measured vs measured, measured vs published, and
reproduction checks. Each row carries its cells' own settings; parity is judged cell by
cell, and a row whose two cells were not produced alike (shots, CoT, prompt, subset) is
shown as a setup mismatch instead of being tested.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path

from harness import stats
from harness.claims.items import items_for
from harness.claims.model import (
    MeasuredEvidence,
    MeasuredVsPublished,
    PublishedEvidence,
    Reproduction,
    ReproductionRow,
    Row,
)
from harness.published import CellSetup, Published, PublishedError, find

# ---------------------------------------------------------------- records, read once


def plain(value):
    """Records and items as plain dicts, whether records.py hands out dicts or models."""
    return value.model_dump(mode="json") if hasattr(value, "model_dump") else value


def record_per_cell(records: list[tuple[Path, dict]]) -> dict:
    """(model, benchmark) -> (path, record): the full-size run of each cell if there is one
    (a later `limit=50` smoke run must not stand in for it), else the one with the most
    items; among equals, the latest finished."""
    chosen = {}
    for path, record in records:
        record = plain(record)
        key = (record["cell"]["model"], record["cell"]["benchmark"])
        if key not in chosen or _preference(record) > _preference(chosen[key][1]):
            chosen[key] = (path, record)
    return chosen


def _preference(record: dict) -> tuple:
    full_size = record["benchmark"].get("limit") is None
    return (full_size, record["scores"]["primary"]["n"], record["timing"]["finished_at"])


def record_setup(record: dict) -> CellSetup:
    bench = record["benchmark"]
    return CellSetup(
        shots=bench["num_fewshot"],
        cot=bench["cot"],
        metric=record["scores"]["primary"]["metric"],
        harness=f"lm-eval {record['versions']['lm_eval']}",
    )


def record_label(record: dict) -> str:
    bench = record["benchmark"]
    parts = [
        f"{bench['num_fewshot']}-shot",
        "CoT" if bench["cot"] else "",
        "chat template" if record["model"]["chat_template_applied"] else "",
    ]
    return f"{bench['name']} ({', '.join(p for p in parts if p)})"


# ---------------------------------------------------------------- cell parity


def cell_parity(a: CellSetup, b: CellSetup, a_name: str, b_name: str) -> tuple[list[str], list[str]]:
    """(mismatches that make the row not like for like, softer warnings)."""
    mismatches, warnings = [], []
    for field, name, show in (
        ("shots", "shots differ", lambda v: f"{v}-shot"),
        ("cot", "CoT differs", lambda v: "CoT" if v else "no CoT"),
        ("subset", "subset differs", lambda v: f"{v} subset"),
    ):
        x, y = getattr(a, field), getattr(b, field)
        if x is not None and y is not None and x != y:
            mismatches.append(f"{name}: {show(x)} vs {show(y)}")
        elif (x is None) != (y is None):
            unstated = a_name if x is None else b_name
            warnings.append(f"{field} not stated for {unstated}")
    if a.prompt != b.prompt:
        mismatches.append(f"prompt differs: {a.prompt or 'the row prompt'} vs {b.prompt or 'the row prompt'}")
    if a.metric and b.metric and a.metric != b.metric:
        warnings.append(f"metric differs: {a.metric} vs {b.metric}")
    if a.harness and b.harness and a.harness.split()[0] != b.harness.split()[0]:
        warnings.append(f"harness differs: {a.harness} vs {b.harness}")
    return mismatches, warnings


def provenance_warnings(subject: Published, rival: Published) -> list[str]:
    warnings = []
    for entry in (subject, rival):
        if entry.self_reported:
            warnings.append(f"{entry.model}: the vendor's own number ({entry.evaluator})")
        elif entry.self_reported is None:
            warnings.append(f"{entry.model}: evaluator unclear ({entry.evaluator})")
    if subject.evaluator != rival.evaluator:
        warnings.append(f"measured by different parties: {subject.evaluator} vs {rival.evaluator}")
    return warnings


# ---------------------------------------------------------------- published vs published


def dated(entries, as_of: str):
    """Entries whose source existed on `as_of` (YYYY-MM-DD); undated sources are kept."""
    if not as_of:
        return entries
    return tuple(e for e in entries if not e.source.commit_date or e.source.commit_date[:10] <= as_of)


def _row_key(entry: Published) -> str:
    return entry.setting.split(" [")[0].split(" (")[0].split(";")[0].strip()


def _rival_cell(subject: Published, rivals: list[Published]) -> Published | None:
    same_bench = [e for e in rivals if e.benchmark == subject.benchmark]
    for match in (
        [e for e in same_bench if subject.quote_line and e.quote_line == subject.quote_line],
        [e for e in same_bench if _row_key(e) == _row_key(subject)],
        same_bench if len({_row_key(e) for e in same_bench}) == 1 else [],
    ):
        if match:
            return match[0]
    return None


def published_rows(evidence: PublishedEvidence, rival: str, entries) -> list[Row]:
    subject_cells = find(evidence.table, evidence.subject, entries=entries)
    rival_cells = find(evidence.table, rival, entries=entries)
    rows, seen = [], set()
    for subject in subject_cells:
        key = (subject.benchmark, _row_key(subject))
        if key in seen or (evidence.benchmarks and subject.benchmark not in evidence.benchmarks):
            continue  # a source printed twice (two commits of one README) counts once
        seen.add(key)
        other = _rival_cell(subject, rival_cells)
        rows.append(published_row(subject, other))
    return rows


def published_row(subject: Published, other: Published | None) -> Row:
    row = Row(
        benchmark=subject.benchmark,
        label=subject.label,
        subject=subject.value,
        subject_setup=subject.setup.label(),
        subject_source=subject.citation,
    )
    if other is None:
        return row.model_copy(update={"status": "not reported for the rival"})
    mismatches, warnings = cell_parity(subject.setup, other.setup, subject.model, other.model)
    lookup = items_for(subject.benchmark, subject.setup.subset or other.setup.subset)
    row = row.model_copy(
        update={
            "rival": other.value,
            "rival_setup": other.setup.label(),
            "rival_source": other.citation,
            "difference": round(subject.value - other.value, 2),
            "n_items": lookup.n,
            "n_source": lookup.why,
            "parity_warnings": mismatches + warnings + provenance_warnings(subject, other),
        }
    )
    if mismatches:
        return row.model_copy(
            update={
                "status": "setup mismatch",
                "status_detail": "; ".join(mismatches),
                "label": f"{subject.benchmark} ({subject.setup.label()} vs {other.setup.label()})",
            }
        )
    if lookup.n is None:
        return row.model_copy(
            update={
                "status": "untestable",
                "status_detail": lookup.why,
                "method": "no item count: point difference only",
            }
        )
    diff = stats.unpaired_difference(subject.value, other.value, lookup.n)
    return row.model_copy(
        update={
            "ci95": [round(diff.low, 2), round(diff.high, 2)],
            "p_value": diff.p_value,
            "method": diff.method,
            "mde": round(diff.mde, 2),
            "mde_basis": diff.mde_basis,
            "diff": diff,
        }
    )


# ---------------------------------------------------------------- measured vs measured


def measured_parity(a: dict, b: dict) -> list[str]:
    warnings = []
    checks = [
        ("num_fewshot", a["benchmark"]["num_fewshot"], b["benchmark"]["num_fewshot"]),
        ("limit", a["benchmark"]["limit"], b["benchmark"]["limit"]),
        ("chat template", a["model"]["chat_template_applied"], b["model"]["chat_template_applied"]),
        ("dtype", a["model"]["dtype"], b["model"]["dtype"]),
        ("scorer", a["model"].get("scorer"), b["model"].get("scorer")),
        ("lm-eval", a["versions"]["lm_eval"], b["versions"]["lm_eval"]),
    ]
    warnings += [f"{name} differs: {x} vs {y}" for name, x, y in checks if x != y]
    quantized = [(r["model"]["name"], r["model"]["quantization"]) for r in (a, b) if r["model"].get("quantization")]
    warnings += [f"{name} is quantized ({q})" for name, q in quantized]
    if a["model"]["variant"] != b["model"]["variant"]:
        warnings.append(f"variants differ: {a['model']['variant']} vs {b['model']['variant']}")
    return warnings


def primary_filter_items(record: dict, items: list[dict]) -> list[dict]:
    """The items of the record's primary filter. lm-eval logs one sample per (item, filter).
    Since schema 1.3 each line names its filter; before, the lines of an item follow the
    filter_list order (bbh_3shot: `none`, then `remove_whitespace`), so there the k-th line
    of an item is the k-th filter of the benchmark's `task_overrides.filter_list`."""
    if items and all(item.get("filter") for item in items):
        return [item for item in items if item["filter"] == record["benchmark"]["metric_filter"]]
    occurrence: Counter = Counter()
    numbered = []
    for item in items:
        key = (item["task"], item["doc_id"], item["doc_hash"])
        numbered.append((occurrence[key], item))
        occurrence[key] += 1
    per_item = max(occurrence.values(), default=1)
    if per_item == 1:
        return items
    bench = record["benchmark"]
    names = [f["name"] for f in (bench.get("task_overrides") or {}).get("filter_list", [])]
    if len(names) != per_item or bench["metric_filter"] not in names:
        raise ValueError(
            f"{per_item} lines per item and no filter list naming '{bench['metric_filter']}' in the record: "
            "cannot tell which line is the primary filter's"
        )
    index = names.index(bench["metric_filter"])
    return [item for k, item in numbered if k == index]


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


def chance_baseline(items: list[dict]) -> float | None:
    """Expected accuracy, in points, of guessing uniformly among each item's choices."""
    choices = [
        len(i["loglikelihoods"]) for i in items if isinstance(i.get("loglikelihoods"), list) and i["loglikelihoods"]
    ]
    return round(100 * sum(1 / c for c in choices) / len(choices), 2) if choices else None


def measured_rows(evidence: MeasuredEvidence, rival: str, chosen: dict, load_items, iterations: int) -> list[Row]:
    rows = [
        _not_measurable(bench, evidence.not_measurable[bench])
        if bench in evidence.not_measurable
        else _measured_or_pending(bench, evidence.subject, rival, chosen, load_items, iterations)
        for bench in evidence.benchmarks
    ]
    primary = [r.label for r in rows if r.has_numbers]
    for bench in evidence.fallback_benchmarks:
        row = _measured_or_pending(bench, evidence.subject, rival, chosen, load_items, iterations)
        if primary and row.has_numbers:  # shown with its scores, no longer tested
            row = Row(
                benchmark=row.benchmark,
                label=row.label,
                status="superseded",
                status_detail=f"a substitute setting; {', '.join(primary)} has records of both models and decides",
                subject=row.subject,
                rival=row.rival,
                n_items=row.n_items,
                records=row.records,
            )
        rows.append(row)
    return rows


def _not_measurable(bench: str, why: str) -> Row:
    return Row(benchmark=bench, label=bench, status=f"not measurable here: {why}")


def _measured_or_pending(bench: str, subject: str, rival: str, chosen: dict, load_items, iterations: int) -> Row:
    cells = [chosen.get((subject, bench)), chosen.get((rival, bench))]
    if None in cells:
        missing = [m for m, c in zip((subject, rival), cells, strict=False) if c is None]
        return Row(
            benchmark=bench, label=bench, status="not yet measured", status_detail=f"no record for {', '.join(missing)}"
        )
    return measured_row(bench, cells, subject, load_items, iterations)


def measured_row(bench: str, cells, subject: str, load_items, iterations: int) -> Row:
    (a_path, a), (b_path, b) = cells
    try:
        a_items = primary_filter_items(a, [plain(i) for i in load_items(a_path)])
        b_items = primary_filter_items(b, [plain(i) for i in load_items(b_path)])
    except ValueError as error:
        return Row(benchmark=bench, label=record_label(a), status="records share no items", status_detail=str(error))
    a_scores, b_scores, unmatched = paired_items(a_items, b_items)
    label = record_label(a)
    if not a_scores:
        return Row(benchmark=bench, label=label, status="records share no items", status_detail="cannot pair")
    diff = stats.paired_difference(a_scores, b_scores, iterations=iterations, pooling=pooling(a))
    tasks = [task for task in a_scores for _ in a_scores[task]]
    differences = [x - y for task in a_scores for x, y in zip(a_scores[task], b_scores[task], strict=False)]
    warnings = measured_parity(a, b) + ([f"{unmatched} items of {subject} not in both records"] if unmatched else [])
    scaled = stats.Difference(
        100 * diff.estimate, 100 * diff.low, 100 * diff.high, diff.p_value, diff.method, 100 * diff.mde, diff.mde_basis
    )
    subject_score, rival_score, note = shown_scores(a, b, a_scores, b_scores)
    return Row(
        benchmark=bench,
        label=label,
        subject=subject_score,
        rival=rival_score,
        subject_setup=label,
        rival_setup=record_label(b),
        difference=round(scaled.estimate, 2),
        ci95=[round(scaled.low, 2), round(scaled.high, 2)],
        p_value=diff.p_value,
        n_items=len(differences),
        n_source="items both records scored",
        method=diff.method,
        mde=round(scaled.mde, 2),
        mde_basis=diff.mde_basis,
        chance=chance_baseline(a_items),
        clustered_se=round(100 * stats.clustered_stderr(differences, tasks), 2),
        records=[str(a_path), str(b_path)],
        parity_warnings=warnings + note,
        diff=scaled,
    )


def pooling(record: dict) -> stats.Pooling:
    """How the record's primary score pools its tasks, so that the paired difference pools
    them the same way (lm-eval's MMLU group weights subjects by their items)."""
    item_weighted = record["scores"]["primary"].get("aggregation") == "item-weighted mean over subtasks"
    return "items" if item_weighted else "macro"


def shown_scores(a: dict, b: dict, a_scores: dict, b_scores: dict) -> tuple[float, float, list[str]]:
    """The two scores a row shows: the records' own when both scored exactly the paired
    items, else the means over the items both scored, so the two scores and their
    difference describe the same items (a full-size record against a limit=50 one)."""
    n_paired = sum(len(v) for v in a_scores.values())
    n_a, n_b = a["scores"]["primary"]["n"], b["scores"]["primary"]["n"]
    if n_a == n_b == n_paired:
        return round(100 * a["scores"]["primary"]["value"], 2), round(100 * b["scores"]["primary"]["value"], 2), []
    # the same pooling as the paired difference's estimate
    mean = lambda scores: round(100 * stats.pooled_mean(scores, pooling(a)), 2)  # noqa: E731
    note = f"scores shown on the {n_paired} items both records scored (the records hold {n_a} and {n_b})"
    return mean(a_scores), mean(b_scores), [note]


# ---------------------------------------------------------------- measured vs a published number


def measured_score(record: dict) -> stats.Difference:
    """Our primary score in points with its normal 95% CI (p-value filled in by the caller)."""
    primary = record["scores"]["primary"]
    value, half = 100 * primary["value"], 100 * stats.Z95 * _stderr(primary, primary["n"])
    return stats.Difference(value, value - half, value + half, 1.0, "measured score vs published point")


def measured_vs_published_rows(evidence: MeasuredVsPublished, rival: str, chosen: dict, entries) -> list[Row]:
    rows = []
    for bench, printed in evidence.benchmarks.items():
        benchmark, _, setting = printed.partition("|")
        try:
            point = find(evidence.table, rival, benchmark, setting or None, entries=entries)[0]
        except PublishedError as error:
            rows.append(Row(benchmark=bench, label=bench, status="published number missing", status_detail=str(error)))
            continue
        cell = chosen.get((evidence.subject, bench))
        if cell is None:
            rows.append(
                Row(
                    benchmark=bench,
                    label=f"{bench} vs {point.label}",
                    status="not yet measured",
                    status_detail=f"no record for {evidence.subject}",
                )
            )
            continue
        rows.append(measured_vs_published_row(bench, cell, point, rival))
    return rows


def measured_vs_published_row(bench: str, cell, point: Published, rival: str) -> Row:
    path, record = cell
    ours = measured_score(record)
    stderr = (ours.high - ours.low) / 2 / stats.Z95
    diff = ours.estimate - point.value
    p_value = stats.normal_two_sided_p(diff / stderr) if stderr else (0.0 if diff else 1.0)
    mismatches, warnings = cell_parity(record_setup(record), point.setup, "ours", rival)
    warnings = (
        mismatches
        + warnings
        + ([f"{rival}: the vendor's own number ({point.evaluator})"] if point.self_reported else [])
    )
    warnings.append(f"measured by this harness vs published by {point.reported_by} ({point.evaluator})")
    row = Row(
        benchmark=bench,
        label=record_label(record),
        subject=round(ours.estimate, 2),
        rival=point.value,
        subject_setup=record_setup(record).label(),
        rival_setup=point.setup.label(),
        rival_source=point.citation,
        difference=round(diff, 2),
        n_items=record["scores"]["primary"]["n"],
        n_source="our record",
        records=[str(path)],
        parity_warnings=warnings,
    )
    if mismatches:
        return row.model_copy(update={"status": "setup mismatch", "status_detail": "; ".join(mismatches)})
    result = stats.Difference(
        diff,
        ours.low - point.value,
        ours.high - point.value,
        p_value,
        "our 95% CI against the published point",
        stats.mde_from_stderr(stderr),
        f"n={record['scores']['primary']['n']} items, published point taken as exact",
    )
    return row.model_copy(
        update={
            "ci95": [round(result.low, 2), round(result.high, 2)],
            "p_value": p_value,
            "method": result.method,
            "mde": round(result.mde, 2),
            "mde_basis": result.mde_basis,
            "diff": result,
        }
    )


# ---------------------------------------------------------------- reproduction


def reproduction_rows(checks: list[Reproduction], chosen: dict, entries) -> list[ReproductionRow]:
    return [reproduction_row(check, chosen, entries) for check in checks]


def reproduction_row(check: Reproduction, chosen: dict, entries) -> ReproductionRow:
    row = ReproductionRow(
        model=check.model,
        benchmark=check.benchmark,
        label=check.benchmark,
        status=f"not measurable here: {check.not_measurable}" if check.not_measurable else "not yet measured",
        known_differences=check.known_differences,
        proxy=check.proxy or None,
    )
    try:
        published = find(check.table, check.published_model, check.published_benchmark, entries=entries)[0]
    except PublishedError as error:
        return row.model_copy(update={"status": f"published number missing: {error}"})
    row = row.model_copy(
        update={
            "published": published.value,
            "published_setting": published.label,
            "published_source": published.citation,
        }
    )
    cell = chosen.get((check.model, check.benchmark))
    if cell is None or check.not_measurable:
        return row
    path, record = cell
    try:
        metric, measured, stderr = card_metric(record, check.metric)
    except PublishedError as error:
        return row.model_copy(update={"status": f"metric missing: {error}", "record": str(path)})
    half = stats.Z95 * stderr
    ours = record_setup(record).model_copy(update={"metric": metric})
    mismatches, warnings = cell_parity(ours, published.setup, "ours", "published")
    inside = abs(measured - published.value) <= half
    return row.model_copy(
        update={
            "label": record_label(record),
            "measured": round(measured, 2),
            "ci95": [round(measured - half, 2), round(measured + half, 2)],
            "stderr": round(stderr, 3),
            "metric": metric,
            "n_items": record["scores"]["primary"]["n"],
            "limit": record["benchmark"]["limit"],
            "gap": round(measured - published.value, 2),
            "record": str(path),
            "status": "setup mismatch: " + "; ".join(mismatches)
            if mismatches
            else "published value inside our 95% CI"
            if inside
            else "published value outside our 95% CI",
            "parity_warnings": list(check.known_differences) + record_differences(record) + mismatches + warnings,
        }
    )


def card_metric(record: dict, metrics: list[str]) -> tuple[str, float, float]:
    """(metric name, value in points, standard error in points) as the card reports it: the
    record's primary score, or the mean of named metrics. The mean's standard error is taken
    as the mean of theirs, an upper bound whatever their correlation (triangle inequality)."""
    primary = record["scores"]["primary"]
    if not metrics:
        return primary["metric"], 100 * primary["value"], 100 * _stderr(primary, primary["n"])
    found = {  # a single-task record (IFEval): metric name -> {value, stderr}
        name.split(",")[0]: value for task in record["scores"]["metrics"].values() for name, value in task.items()
    }
    missing = [m for m in metrics if m not in found]
    if missing:
        raise PublishedError(f"the record has no {', '.join(missing)} (it has: {', '.join(sorted(found))})")
    values = [found[m] for m in metrics]
    return (
        f"mean of {', '.join(metrics)}",
        100 * sum(v["value"] for v in values) / len(values),
        100 * sum(_stderr(v, primary["n"]) for v in values) / len(values),
    )


def _stderr(score: dict, n: int) -> float:
    """lm-eval's standard error, or the binomial one over the record's n items where lm-eval
    gives none (IFEval's instruction-level scores: n prompts < n instructions, so wider;
    BBH's macro mean over subtasks: close to the item-level one, the subtasks being of
    similar size)."""
    if score.get("stderr") is not None:
        return score["stderr"]
    value = score["value"]
    return (value * (1 - value) / n) ** 0.5 if n else 0.0


def record_differences(record: dict) -> list[str]:
    """How our cell was produced, where a model card's run most likely differs."""
    model, bench = record["model"], record["benchmark"]
    weights = f"{model['quantization']} weights (dequantized)" if model.get("quantization") else "unquantized weights"
    notes = [f"ours: {weights}, run in {model.get('dtype_used') or model['dtype']}; the card: the original model"]
    if bench["limit"] is not None:
        notes.append(f"ours: only the first {bench['limit']} items per task (limit), not the full set")
    return notes
