"""Reviewer reports: records + verdicts -> REPORT.md, report.html (self-contained) and CSVs.

Both documents answer first: one table of every claim (C1..C12 order) with its verdict, a
one-line why naming the deciding rows, and the rival used; then the details. Warnings
repeated across rows are printed once in a legend and cited by key. Markdown tables are
drawn by tabulate, the page by a jinja2 template with autoescape; plots are matplotlib
SVG inline, so the page opens from disk with no network. A corrupt record or verdict is
named in the report and skipped; of several records of one cell the report shows the one
verdicts read (full size first, then most items, then newest), with a note.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup
from pydantic import ValidationError
from tabulate import tabulate

from harness import atomic
from harness.claims import Verdict, record_per_cell
from harness.claims.evidence import chance_baseline, plain
from harness.records import RecordError, iter_records, load_items
from harness.stats import Z95

VERDICT_COLOURS = {
    "supported": "#1a7f37",
    "refuted": "#cf222e",
    "inconclusive": "#9a6700",
    "not yet measured": "#57606a",
    "out of scope": "#8250df",
}
PENDING = ("not yet measured", "not reported for the rival", "published number missing")


@dataclass
class ReportData:
    results_dir: Path = Path("results")
    cells: dict = field(default_factory=dict)  # (model, benchmark) -> (path, record)
    finished_per_cell: dict = field(default_factory=dict)  # (model, benchmark) -> finished_at of each run
    verdicts: list[Verdict] = field(default_factory=list)
    skipped: list = field(default_factory=list)  # (path, reason)
    legend: dict = field(default_factory=dict)  # warning text -> key ("w1")

    def key(self, warning: str) -> str:
        return self.legend.setdefault(warning, f"w{len(self.legend) + 1}")

    def link(self, path: str) -> str:
        """A record path relative to the report, so links work from disk and on a forge."""
        return (
            os.path.relpath(path, self.results_dir)
            if os.path.isabs(path) or path.startswith(str(self.results_dir))
            else path
        )


def claim_order(verdict: Verdict) -> tuple:
    match = re.match(r"C(\d+)([a-z]?)", verdict.label or "")
    return (int(match.group(1)), match.group(2)) if match else (99, verdict.claim)


def load_verdicts(results_dir: Path, skipped: list) -> list[Verdict]:
    verdicts = []
    for path in sorted((results_dir / "verdicts").glob("*.json")):
        try:
            data = json.loads(path.read_text())
            if data.get("kind") != "claim-harness/verdict":
                raise ValueError("not a verdict file")
            verdicts.append(Verdict.model_validate(data))
        except (ValueError, ValidationError) as error:
            first = str(error).splitlines()[0] if isinstance(error, ValidationError) else str(error)
            skipped.append((path, f"{path}: {first} (re-run python -m harness.verify)"))
    return sorted(verdicts, key=claim_order)


def collect(results_dir: Path) -> ReportData:
    data = ReportData(results_dir=results_dir)
    good = []
    for path, record in iter_records(results_dir):
        if isinstance(record, RecordError):
            data.skipped.append((path, str(record)))
            continue
        record = plain(record)
        good.append((path, record))
        key = (record["cell"]["model"], record["cell"]["benchmark"])
        data.finished_per_cell.setdefault(key, []).append(record["timing"]["finished_at"])
    data.cells = record_per_cell(good)
    data.verdicts = load_verdicts(results_dir, data.skipped)
    return data


# ---------------------------------------------------------------- plain rows (tables, CSV)


def fmt(value, digits: int = 1) -> str:
    """A cell for a reader: numbers rounded, nothing printed for missing values."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, list):
        return "[" + ", ".join(fmt(v, digits) for v in value) + "]"
    return str(value)


def setting_of(record: dict) -> str:
    bench = record["benchmark"]
    return (
        f"{bench['num_fewshot']}-shot"
        + (", CoT" if bench["cot"] else "")
        + (", chat template" if record["model"]["chat_template_applied"] else "")
    )


def runs_note(finished: list[str], shown: dict) -> str:
    """Why this record of a cell with several runs: the newest, or a larger earlier one
    (a later run scored fewer items, e.g. the limit=50 default run after a full one)."""
    if len(finished) < 2:
        return ""
    if shown["timing"]["finished_at"] == max(finished):
        return f"newest of {len(finished)} runs"
    return f"largest of {len(finished)} runs (a later one scored fewer items)"


def score_rows(data: ReportData) -> list[dict]:
    rows = []
    for (model, bench), (path, record) in sorted(data.cells.items()):
        primary = record["scores"]["primary"]
        value, half = 100 * primary["value"], 100 * Z95 * (primary["stderr"] or 0.0)
        note = runs_note(data.finished_per_cell.get((model, bench), []), record)
        rows.append(
            {
                "model": model,
                "benchmark": bench,
                "setting": setting_of(record),
                "label": f"{bench} ({setting_of(record)})",
                "score": round(value, 2),
                "ci95_low": round(value - half, 2),
                "ci95_high": round(value + half, 2),
                "n_items": primary["n"],
                "metric": primary["metric"],
                "chance": cell_chance(path),
                "finished_at": record["timing"]["finished_at"],
                "note": note,
                "record": data.link(str(path)),
            }
        )
    return rows


def cell_chance(path: Path) -> float | None:
    """Chance baseline of a multiple-choice cell (points), from its per-item choices (read
    through records.load_items, which checks the sha256 the record names)."""
    try:
        return chance_baseline([plain(item) for item in load_items(path)])
    except (RecordError, OSError):
        return None


def reproduction_rows(data: ReportData) -> list[dict]:
    """One row per (model, benchmark, card number); a row judged by a reproduction claim
    (with an outcome) is preferred to the same row listed by another claim."""
    rows: dict[tuple, dict] = {}
    for verdict in data.verdicts:
        for row in verdict.reproduction:
            key = (row.model, row.benchmark, row.published)
            if key in rows and (rows[key]["outcome"] or not row.outcome):
                continue
            rows[key] = {
                "model": row.model,
                "benchmark": row.label,
                "measured": row.measured,
                "ci95": row.ci95,
                "published": row.published,
                "gap": row.gap,
                "published_setting": row.published_setting,
                "outcome": row.outcome or "",
                "status": repro_status(row),
                "claim": verdict.claim,
                "source": row.published_source or "",
                "record": data.link(row.record) if row.record else "",
            }
    return list(rows.values())


def repro_status(row) -> str:
    """What a reproduction row showed: the tolerance rule's outcome with its reason, or the status."""
    return f"{row.outcome}: {row.power_note}" if row.outcome and row.power_note else row.outcome or row.status


def claim_reproduction_table(data: ReportData, verdict: Verdict) -> list[list]:
    """A claim's card rows: card number, ours with its CI, gap, outcome, warnings, record."""
    return [
        [
            row.published_setting or row.benchmark,
            row.label,
            f"{fmt(row.measured)} {fmt(row.ci95)}" if row.measured is not None else "",
            fmt(row.published),
            fmt(row.gap),
            repro_status(row),
            "; ".join(row.parity_warnings),  # in full: per card row, the differences are the point
            data.link(row.record) if row.record else "",
        ]
        for row in verdict.reproduction
    ]


REPRO_HEADERS = ["card row", "ours (config, setting)", "ours [95% CI]", "card", "gap", "outcome", "setup differences"]


def claim_rows(data: ReportData) -> list[dict]:
    return [
        {
            "label": v.label,
            "claim": v.claim,
            "verdict": v.verdict,
            "rival": v.rival_chosen,
            "why": v.why,
            "said_by": v.said_by,
            "when": v.when,
            "reason": v.reason,
        }
        for v in data.verdicts
    ]


def write_csv(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(
            {k: json.dumps(v) if isinstance(v, (list, dict)) else fmt(v, 2) if v is None else v for k, v in row.items()}
            for row in rows
        )
    atomic.write_bytes(path, buffer.getvalue().encode())


def evidence_rows(data: ReportData, comparison) -> tuple[list[list], list[str]]:
    """(table rows of the compared and untested rows, labels of the rows still to measure)."""
    table, pending = [], []
    for row in comparison.rows:
        if row.status in PENDING or row.status == "records share no items":
            pending.append(row.label)
            continue
        notes = " ".join(data.key(w) for w in row.parity_warnings)
        status = row.outcome or row.status
        if row.status in ("untestable", "setup mismatch"):
            status = f"{row.status}: {row.status_detail}"
        elif row.power_note:
            status += f"; {row.power_note}"
        table.append(
            [
                row.label,
                fmt(row.subject),
                fmt(row.rival),
                f"{row.difference:+.1f} {fmt(row.ci95)}".strip() if row.difference is not None else "",
                fmt(row.p_holm, 3) if row.p_holm is not None else "",
                fmt(row.n_items),
                fmt(row.mde),
                fmt(row.chance),
                status,
                notes,
                [data.link(r) for r in row.records],
            ]
        )
    return table, pending


# ---------------------------------------------------------------- plots (matplotlib -> SVG)


def _svg(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg") :]  # drop the XML prolog: the SVG sits inside HTML


def forest_plot(verdict: Verdict) -> str | None:
    """Differences (subject - rival, points) with 95% CIs, one line per tested row."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        (f"{r.label[:48]} vs {c.rival[:24]}", r.difference, r.ci95)
        for c in verdict.comparisons
        for r in c.rows
        if r.ci95
    ]
    if not rows:
        return None
    figure, axes = plt.subplots(figsize=(7, 0.32 * len(rows) + 1.0))
    for y, (_, diff, (low, high)) in enumerate(reversed(rows)):
        colour = "#1a7f37" if low > 0 else "#cf222e" if high < 0 else "#57606a"
        axes.errorbar(diff, y, xerr=[[diff - low], [high - diff]], fmt="o", color=colour, capsize=3)
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_yticks(range(len(rows)), [label for label, _, _ in reversed(rows)], fontsize=8)
    axes.set_xlabel("difference, subject minus rival (points, 95% CI)")
    return _svg(figure)


def benchmark_bars(label: str, scores: list[dict], reproductions: list[dict]) -> str:
    """Measured score per model (95% CI) beside the published number for that model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [row["model"] for row in scores]
    published = {
        r["model"]: r["published"] for r in reproductions if r["benchmark"] == label and r.get("published") is not None
    }
    figure, axes = plt.subplots(figsize=(1.8 * len(models) + 2, 3))
    xs = range(len(models))
    measured = [row["score"] for row in scores]
    errors = [row["score"] - row["ci95_low"] for row in scores]
    axes.bar([x - 0.2 for x in xs], measured, width=0.4, yerr=errors, capsize=4, color="#0969da", label="measured")
    axes.bar(
        [x + 0.2 for x in xs],
        [published.get(m, 0) for m in models],
        width=0.4,
        color="#bf8700",
        label="published (its own setting)",
    )
    axes.set_xticks(list(xs), models, fontsize=8)
    axes.set_ylabel("score (%)")
    axes.set_title(label, fontsize=9)
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    return _svg(figure)


# ---------------------------------------------------------------- Markdown (tabulate)


def md_table(headers: list[str], rows: list[list]) -> str:
    clean = [[str(cell).replace("|", "\\|").replace("\n", " ") for cell in row] for row in rows]
    return tabulate(clean, headers=headers, tablefmt="github", disable_numparse=True)


def summary_rows(data: ReportData, link) -> list[list]:
    return [[v.label, link(v), f"**{v.verdict.upper()}**", v.why, v.rival_chosen] for v in data.verdicts]


def markdown(data: ReportData) -> str:
    details = [line for verdict in data.verdicts for line in claim_markdown(data, verdict)]
    parts = [
        "# Benchmark-claim report",
        "",
        "Each claim, its verdict, why (the rows that decided it) and the rival row used; details and "
        "evidence follow. Verdict rules: README, *Quantifiers*.",
        "",
        md_table(
            ["", "claim", "verdict", "why", "rival"],
            summary_rows(data, lambda v: f"[{v.statement.english or v.claim}](#claim-{v.claim})"),
        ),
        "",
    ]
    if data.legend:
        parts += [
            "**Warnings legend** (cited by key in the tables below):",
            "",
            "; ".join(f"**{key}** {text}" for text, key in data.legend.items()),
            "",
        ]
    parts += scores_markdown(data)
    parts += ["## Claims in detail", ""] + details
    if data.skipped:
        parts += ["## Skipped files", ""] + [f"- {reason}" for _, reason in data.skipped] + [""]
    return "\n".join(parts)


def scores_markdown(data: ReportData) -> list[str]:
    scores = score_rows(data)
    if not scores:
        return ["## Scores", "", "No measured records yet.", ""]
    models = sorted({r["model"] for r in scores})
    labels = sorted({r["label"] for r in scores})
    by_cell = {(r["model"], r["label"]): r for r in scores}
    grid = [
        [m]
        + [
            (
                f"{by_cell[m, b]['score']:.1f} [{by_cell[m, b]['ci95_low']:.1f}, {by_cell[m, b]['ci95_high']:.1f}] "
                f"n={by_cell[m, b]['n_items']}"
                + (f", chance {by_cell[m, b]['chance']:.1f}" if by_cell[m, b]["chance"] is not None else "")
                + (f" ({by_cell[m, b]['note']})" if by_cell[m, b]["note"] else "")
            )
            if (m, b) in by_cell
            else "not run"
            for b in labels
        ]
        for m in models
    ]
    parts = [
        "## Scores (models x benchmarks)",
        "",
        "Scores in %, with 95% confidence intervals; each from a record under `records/` "
        "(paths in `tables/scores.csv`).",
        "",
        md_table(["model", *labels], grid),
        "",
    ]
    repro = reproduction_rows(data)
    if repro:
        parts += [
            "## Measured next to published",
            "",
            md_table(
                ["model", "benchmark (our setting)", "measured [95% CI]", "published (its setting)", "gap", "outcome"],
                [
                    [
                        r["model"],
                        r["benchmark"],
                        f"{fmt(r['measured'])} {fmt(r['ci95'])}" if r["measured"] is not None else "not run",
                        f"{fmt(r['published'])} {r['published_setting'] or ''}",
                        fmt(r["gap"]),
                        r["status"],
                    ]
                    for r in repro
                ],
            ),
            "",
        ]
    return parts


def claim_markdown(data: ReportData, verdict: Verdict) -> list[str]:
    lines = [
        f'<a id="claim-{verdict.claim}"></a>',
        "",
        f"### {verdict.label} {verdict.claim}: **{verdict.verdict.upper()}**",
        "",
        f"> {verdict.statement.english or verdict.statement.original} — {verdict.said_by}, {verdict.when}",
        "",
    ]
    if verdict.semantics:
        lines += [f"*Read as* ({verdict.quantifier}): {verdict.semantics}", ""]
    if verdict.margin is not None:
        lines += [f"*Margin* {verdict.margin:g} points: {verdict.margin_reason}", ""]
    if verdict.proxy:
        lines += ["*About a proxy*: " + "; ".join(verdict.proxy), ""]
    lines += [
        f"*Why*: {verdict.why}",
        "",
        f"Evidence: [`verdicts/{verdict.claim}.json`](verdicts/{verdict.claim}.json)",
        "",
    ]
    if verdict.sensitivity:
        lines += [
            "*Other rival rows* (same rule): "
            + "; ".join(f"{a.rival}: {a.verdict}" for a in verdict.sensitivity)
            + (
                " — the verdict depends on the rival chosen."
                if verdict.depends_on_rival
                else " — the verdict does not depend on the rival chosen."
            ),
            "",
        ]
    if verdict.rule_checks:
        lines += [
            "*The same rule on other pairs*: "
            + "; ".join(f"{c.subject} vs {c.rival}: {c.verdict} ({c.why})" for c in verdict.rule_checks),
            "",
        ]
    for comparison in verdict.comparisons:
        if evidence_rows(data, comparison)[0]:
            lines += comparison_markdown(data, comparison)
    pending = pending_line(data, verdict)
    if pending:
        lines += [pending, ""]
    if verdict.reproduction:
        table = [
            row[:-1] + [f"[record]({row[-1]})" if row[-1] else ""] for row in claim_reproduction_table(data, verdict)
        ]
        lines += [
            "**Card rows** (our score vs the model card's)",
            "",
            md_table([*REPRO_HEADERS, "evidence"], table),
            "",
        ]
    if verdict.speed:
        lines += [f"*Speed*: {verdict.speed.verdict} ({verdict.speed.reason})", ""]
    return lines


def comparison_markdown(data: ReportData, comparison) -> list[str]:
    table, pending = evidence_rows(data, comparison)
    lines = [
        f"**{comparison.subject} vs {comparison.rival}** — {comparison.evidence}: *{comparison.verdict}*"
        + (f" (rival row: {comparison.rival_why})" if comparison.rival_why else ""),
        "",
    ]
    if table:
        table = [row[:-1] + [" ".join(f"[record]({path})" for path in row[-1])] for row in table]
        lines += [
            md_table(
                [
                    "benchmark (setting)",
                    "subject",
                    "rival",
                    "difference [95% CI]",
                    "p (Holm)",
                    "n",
                    "MDE (80%)",
                    "chance",
                    "outcome",
                    "warnings",
                    "evidence",
                ],
                table,
            ),
            "",
        ]
    sources = comparison_sources(comparison)
    if sources:
        lines += ["Sources: " + "; ".join(sources), ""]
    return lines


def pending_line(data: ReportData, verdict: Verdict) -> str:
    """Every row of a claim still to measure (or not reported for a rival), in one line."""
    groups = []
    for comparison in verdict.comparisons:
        _, pending = evidence_rows(data, comparison)
        if pending:
            groups.append(f"vs {comparison.rival} ({comparison.evidence.split(' (')[0]}): {', '.join(pending)}")
    count = sum(len(evidence_rows(data, c)[1]) for c in verdict.comparisons)
    return f"*Not yet measured or not reported* ({count} rows): " + "; ".join(groups) + "." if groups else ""


def comparison_sources(comparison) -> list[str]:
    """Where the published numbers of one comparison come from, each source once."""
    seen = []
    for row in comparison.rows:
        for source in (row.subject_source, row.rival_source):
            if source and source not in seen:
                seen.append(source)
    return seen


# ---------------------------------------------------------------- HTML (jinja2)


def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("harness", "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    environment.filters["fmt"] = fmt
    return environment


def html_page(data: ReportData) -> str:
    scores = score_rows(data)
    repro = reproduction_rows(data)
    charts = [
        Markup(
            benchmark_bars(
                label, [s for s in scores if s["label"] == label], [dict(r, benchmark=r["benchmark"]) for r in repro]
            )
        )
        for label in sorted({s["label"] for s in scores})
    ]
    cards = []
    for verdict in data.verdicts:
        plot = forest_plot(verdict)
        comparisons = []
        for comparison in verdict.comparisons:
            table, _ = evidence_rows(data, comparison)
            if table:
                comparisons.append({"c": comparison, "rows": table, "sources": comparison_sources(comparison)})
        cards.append(
            {
                "v": verdict,
                "plot": Markup(plot) if plot else "",
                "comparisons": comparisons,
                "pending": pending_line(data, verdict).replace("*", ""),
                "repro": claim_reproduction_table(data, verdict),
                "colour": VERDICT_COLOURS.get(verdict.verdict, "#57606a"),
            }
        )
    counts = {}
    for verdict in data.verdicts:
        counts[verdict.verdict] = counts.get(verdict.verdict, 0) + 1
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            verdicts=data.verdicts,
            cards=cards,
            scores=scores,
            repro=repro,
            charts=charts,
            legend=data.legend,
            skipped=[reason for _, reason in data.skipped],
            colours=VERDICT_COLOURS,
            summary=", ".join(f"{n} {name}" for name, n in sorted(counts.items())),
        )
    )


def write_report(results_dir: Path) -> dict:
    """Write REPORT.md, report.html and tables/*.csv under results_dir; return their paths."""
    data = collect(results_dir)
    outputs = {
        "markdown": results_dir / "REPORT.md",
        "html": results_dir / "report.html",
        "scores_csv": results_dir / "tables" / "scores.csv",
        "reproduction_csv": results_dir / "tables" / "measured_vs_published.csv",
        "claims_csv": results_dir / "tables" / "claims.csv",
    }
    atomic.write_bytes(outputs["markdown"], markdown(data).encode())
    atomic.write_bytes(outputs["html"], html_page(data).encode())
    write_csv(outputs["scores_csv"], score_rows(data))
    write_csv(outputs["reproduction_csv"], reproduction_rows(data))
    write_csv(outputs["claims_csv"], claim_rows(data))
    return {"outputs": outputs, "skipped": data.skipped, "cells": len(data.cells), "claims": len(data.verdicts)}


def _main(cfg) -> None:
    import sys

    summary = write_report(Path(cfg.results_dir))
    for _, reason in summary["skipped"]:
        print(f"[report] skipped: {reason}", file=sys.stderr)
    for path in summary["outputs"].values():
        print(f"wrote {path}")


def main() -> None:
    import hydra

    from harness import CONFIG_DIR

    hydra.main(config_path=str(CONFIG_DIR), config_name="report", version_base="1.3")(_main)()


if __name__ == "__main__":
    main()
