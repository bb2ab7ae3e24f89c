"""Reviewer reports: records + verdicts -> REPORT.md, report.html (self-contained) and CSVs.

Reads every record and verdict under results/; a corrupt file is named in the report and
skipped. Several records of one cell: the newest is shown, with a note. Plots are drawn
with matplotlib and embedded as inline SVG, so the page opens from disk with no network.
"""
from __future__ import annotations

import csv
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

from harness import atomic
from harness.claims import newest_records
from harness.records import RecordError, iter_records
from harness.stats import Z95

VERDICT_COLOURS = {"supported": "#1a7f37", "refuted": "#cf222e", "inconclusive": "#9a6700",
                   "not yet measured": "#57606a", "out of scope": "#8250df"}


@dataclass
class ReportData:
    cells: dict = field(default_factory=dict)        # (model, benchmark) -> (path, record)
    runs_per_cell: dict = field(default_factory=dict)
    verdicts: list = field(default_factory=list)
    skipped: list = field(default_factory=list)      # (path, reason)


def load_verdicts(results_dir: Path, skipped: list) -> list[dict]:
    verdicts = []
    for path in sorted((results_dir / "verdicts").glob("*.json")):
        try:
            verdict = json.loads(path.read_text())
            if verdict.get("kind") != "claim-harness/verdict" or "verdict" not in verdict:
                raise ValueError("not a verdict file")
            verdicts.append(verdict)
        except (ValueError, json.JSONDecodeError) as error:
            skipped.append((path, f"{path}: {error}"))
    return verdicts


def collect(results_dir: Path) -> ReportData:
    data = ReportData()
    good = []
    for path, record in iter_records(results_dir):
        if isinstance(record, RecordError):
            data.skipped.append((path, str(record)))
        else:
            good.append((path, record))
            key = (record["cell"]["model"], record["cell"]["benchmark"])
            data.runs_per_cell[key] = data.runs_per_cell.get(key, 0) + 1
    data.cells = newest_records(good)
    data.verdicts = load_verdicts(results_dir, data.skipped)
    return data


# ---------------------------------------------------------------- tables (plain rows)

def score_rows(data: ReportData) -> list[dict]:
    rows = []
    for (model, bench), (path, record) in sorted(data.cells.items()):
        primary = record["scores"]["primary"]
        value, half = 100 * primary["value"], 100 * Z95 * (primary["stderr"] or 0.0)
        runs = data.runs_per_cell[(model, bench)]
        rows.append({"model": model, "benchmark": bench, "score": round(value, 2),
                     "ci95_low": round(value - half, 2), "ci95_high": round(value + half, 2),
                     "n_items": primary["n"], "metric": primary["metric"],
                     "setting": f"{record['benchmark']['num_fewshot']}-shot"
                                + (", CoT" if record["benchmark"]["cot"] else "")
                                + (", chat template" if record["model"]["chat_template_applied"] else ""),
                     "finished_at": record["timing"]["finished_at"],
                     "note": f"newest of {runs} runs" if runs > 1 else "", "record": str(path)})
    return rows


def reproduction_rows(data: ReportData) -> list[dict]:
    seen, rows = set(), []
    for verdict in data.verdicts:
        for row in verdict.get("reproduction", []):
            key = (row["model"], row["benchmark"], row.get("published"))
            if key in seen:
                continue
            seen.add(key)
            rows.append({"model": row["model"], "benchmark": row["benchmark"], "measured": row.get("measured"),
                         "ci95": row.get("ci95"), "published": row.get("published"), "gap": row.get("gap"),
                         "published_setting": row.get("published_setting"), "status": row["status"],
                         "source": row.get("published_source", "")})
    return rows


def claim_rows(data: ReportData) -> list[dict]:
    return [{"claim": v["claim"], "verdict": v["verdict"], "said_by": v.get("said_by", ""),
             "when": v.get("when", ""), "reason": v["reason"]} for v in data.verdicts]


def write_csv(path: Path, rows: list[dict]) -> None:
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: json.dumps(v) if isinstance(v, (list, dict)) else v for k, v in row.items()}
                         for row in rows)
    atomic.write_bytes(path, buffer.getvalue().encode())


# ---------------------------------------------------------------- plots (matplotlib -> SVG)

def _svg(figure) -> str:
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    figure.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]  # drop the XML prolog: the SVG sits inside HTML


def forest_plot(verdict: dict) -> str | None:
    """Differences (subject - rival, points) with 95% CIs, one line per comparison row."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [(f"{r['benchmark']}{' (' + r['setting'].split(' [')[0][:24] + ')' if r.get('setting') else ''}"
             f" vs {c['rival']}", r["difference"], r["ci95"])
            for c in verdict.get("comparisons", []) for r in c["rows"] if r.get("ci95")]
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


def benchmark_bars(benchmark: str, scores: list[dict], reproductions: list[dict]) -> str:
    """Measured score per model (95% CI) beside the published number for that model."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    models = [row["model"] for row in scores]
    published = {r["model"]: r["published"] for r in reproductions if r["benchmark"] == benchmark
                 and r.get("published") is not None}
    figure, axes = plt.subplots(figsize=(1.8 * len(models) + 2, 3))
    xs = range(len(models))
    measured = [row["score"] for row in scores]
    errors = [row["score"] - row["ci95_low"] for row in scores]
    axes.bar([x - 0.2 for x in xs], measured, width=0.4, yerr=errors, capsize=4, color="#0969da", label="measured")
    axes.bar([x + 0.2 for x in xs], [published.get(m, 0) for m in models], width=0.4, color="#bf8700",
             label="published (its own setting)")
    axes.set_xticks(list(xs), models, fontsize=8)
    axes.set_ylabel("score (%)")
    axes.set_title(benchmark, fontsize=9)
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2)
    return _svg(figure)


# ---------------------------------------------------------------- Markdown

def _md_table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell).replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(data: ReportData) -> str:
    scores = score_rows(data)
    models = sorted({r["model"] for r in scores})
    benches = sorted({r["benchmark"] for r in scores})
    by_cell = {(r["model"], r["benchmark"]): r for r in scores}
    grid = [[m] + [(f"{by_cell[m, b]['score']:.1f} [{by_cell[m, b]['ci95_low']:.1f}, {by_cell[m, b]['ci95_high']:.1f}] "
                    f"n={by_cell[m, b]['n_items']}, {by_cell[m, b]['setting']}" +
                    (f" ({by_cell[m, b]['note']})" if by_cell[m, b]["note"] else ""))
                   if (m, b) in by_cell else "not run" for b in benches] for m in models]
    parts = ["# Benchmark-claim report", "",
             "Scores in %, with 95% confidence intervals; each score comes from a record under `results/records/` (paths in `tables/scores.csv`).", "",
             "## Scores (models x benchmarks)", "", _md_table(["model", *benches], grid), ""]
    repro = reproduction_rows(data)
    if repro:
        parts += ["## Measured next to published", "", _md_table(
            ["model", "benchmark", "measured [95% CI]", "published", "gap", "published setting", "status"],
            [[r["model"], r["benchmark"], f"{r['measured']} {r['ci95']}" if r["measured"] is not None else "not run",
              r["published"], r["gap"], r["published_setting"], r["status"]] for r in repro]), ""]
    parts += ["## Claims", ""]
    for verdict in data.verdicts:
        parts += claim_markdown(verdict)
    if data.skipped:
        parts += ["## Skipped files", ""] + [f"- {reason}" for _, reason in data.skipped] + [""]
    return "\n".join(parts)


def claim_markdown(verdict: dict) -> list[str]:
    statement = verdict.get("statement", {}).get("english") or verdict["claim"]
    lines = [f"### {verdict['claim']}: **{verdict['verdict'].upper()}**", "",
             f"> {statement} — {verdict.get('said_by', '')}, {verdict.get('when', '')}", "",
             f"Reason: {verdict['reason']}", ""]
    for comparison in verdict.get("comparisons", []):
        rows = [r for r in comparison["rows"]]
        lines += [f"*{comparison['evidence']}*: {comparison['subject']} vs {comparison['rival']} — "
                  f"{comparison['verdict']}", ""]
        lines.append(_md_table(["benchmark", "subject", "rival", "difference [95% CI]", "p (Holm)", "parity"],
                               [[r["benchmark"], r.get("subject", ""), r.get("rival", r.get("status", "")),
                                 f"{r['difference']} {r['ci95']}" if "difference" in r else "",
                                 f"{r['p_holm']:.3g}" if r.get("p_holm") is not None else "",
                                 "; ".join(r.get("parity_warnings", []))] for r in rows]))
        lines.append("")
    if verdict.get("setup_parity_warnings"):
        lines += ["Setup-parity warnings:", ""] + [f"- {w}" for w in verdict["setup_parity_warnings"]] + [""]
    return lines


# ---------------------------------------------------------------- HTML

PAGE_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:1200px;color:#1f2328}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0 1.5rem}
th,td{border:1px solid #d0d7de;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f6f8fa;cursor:pointer;user-select:none} th.sorted-asc::after{content:" \\25B2"}
th.sorted-desc::after{content:" \\25BC"} input{padding:.3rem;margin:.3rem 0;width:20rem}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:1rem}
.card{border:1px solid #d0d7de;border-radius:8px;padding:.8rem;background:#fff}
.badge{color:#fff;border-radius:1rem;padding:.1rem .6rem;font-weight:600;font-size:.8rem}
.reason{font-size:.85rem} details{font-size:.8rem} .warn{color:#9a6700} svg{max-width:100%;height:auto}
"""

PAGE_SCRIPT = """
function sortTable(th){const table=th.closest('table');const i=[...th.parentNode.children].indexOf(th);
const asc=!th.classList.contains('sorted-asc');table.querySelectorAll('th').forEach(h=>h.classList.remove('sorted-asc','sorted-desc'));
th.classList.add(asc?'sorted-asc':'sorted-desc');const rows=[...table.tBodies[0].rows];
const key=r=>{const t=r.cells[i].dataset.value??r.cells[i].textContent;const n=parseFloat(t);return isNaN(n)?t.toLowerCase():n;};
rows.sort((a,b)=>{const x=key(a),y=key(b);return (x>y?1:x<y?-1:0)*(asc?1:-1);});rows.forEach(r=>table.tBodies[0].appendChild(r));}
function filterTable(input){const q=input.value.toLowerCase();const table=document.getElementById(input.dataset.table);
[...table.tBodies[0].rows].forEach(r=>{r.style.display=r.textContent.toLowerCase().includes(q)?'':'none';});}
document.querySelectorAll('th').forEach(th=>th.addEventListener('click',()=>sortTable(th)));
document.querySelectorAll('input[data-table]').forEach(i=>i.addEventListener('input',()=>filterTable(i)));
"""


def _cell(value) -> str:
    number = value if isinstance(value, (int, float)) else ""
    return f'<td data-value="{number}">{html.escape(str(value))}</td>'


def html_table(table_id: str, headers: list[str], rows: list[list]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(v) for v in row) + "</tr>" for row in rows)
    return (f'<input placeholder="filter rows..." data-table="{table_id}">'
            f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')


def verdict_card(verdict: dict) -> str:
    colour = VERDICT_COLOURS.get(verdict["verdict"], "#57606a")
    statement = verdict.get("statement", {}).get("english") or verdict["claim"]
    warnings = "".join(f"<li>{html.escape(w)}</li>" for w in verdict.get("setup_parity_warnings", []))
    plot = forest_plot(verdict) or ""
    return (f'<div class="card" data-claim="{html.escape(verdict["claim"])}">'
            f'<span class="badge" style="background:{colour}">{html.escape(verdict["verdict"])}</span> '
            f'<b>{html.escape(verdict["claim"])}</b><p>&ldquo;{html.escape(statement)}&rdquo; '
            f'&mdash; {html.escape(verdict.get("said_by", ""))}, {html.escape(str(verdict.get("when", "")))}</p>'
            f'<p class="reason">{html.escape(verdict["reason"])}</p>{plot}'
            + (f'<details><summary class="warn">setup-parity warnings ({len(verdict["setup_parity_warnings"])})'
               f'</summary><ul>{warnings}</ul></details>' if warnings else "") + "</div>")


def html_page(data: ReportData) -> str:
    scores = score_rows(data)
    repro = reproduction_rows(data)
    charts = "".join(benchmark_bars(b, [s for s in scores if s["benchmark"] == b], repro)
                     for b in sorted({s["benchmark"] for s in scores}))
    score_table = html_table("scores", ["model", "benchmark", "score %", "95% CI", "n", "metric", "setting", "note"],
                             [[s["model"], s["benchmark"], s["score"], f"[{s['ci95_low']}, {s['ci95_high']}]",
                               s["n_items"], s["metric"], s["setting"], s["note"]] for s in scores])
    repro_table = html_table("reproduction", ["model", "benchmark", "measured", "95% CI", "published", "gap",
                                              "published setting", "status"],
                             [[r["model"], r["benchmark"], r["measured"] if r["measured"] is not None else "not run",
                               str(r["ci95"] or ""), r["published"], r["gap"] if r["gap"] is not None else "",
                               r["published_setting"], r["status"]] for r in repro])
    cards = "".join(verdict_card(v) for v in data.verdicts)
    skipped = "".join(f"<li>{html.escape(reason)}</li>" for _, reason in data.skipped)
    counts = {}
    for v in data.verdicts:
        counts[v["verdict"]] = counts.get(v["verdict"], 0) + 1
    summary = ", ".join(f"{n} {name}" for name, n in sorted(counts.items()))
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Benchmark-claim report</title>"
            f"<style>{PAGE_STYLE}</style></head><body><h1>Benchmark-claim report</h1>"
            f"<p>{len(scores)} measured cells, {len(data.verdicts)} claims: {html.escape(summary)}. "
            f"Scores in %, 95% confidence intervals; click a column to sort.</p>"
            f"<h2>Claims</h2><div class='cards'>{cards}</div>"
            f"<h2>Scores</h2>{score_table}<h2>Measured next to published</h2>{repro_table}"
            f"<h2>Per benchmark</h2>{charts}"
            + (f"<h2>Skipped files</h2><ul>{skipped}</ul>" if skipped else "")
            + f"<script>{PAGE_SCRIPT}</script></body></html>")


def write_report(results_dir: Path) -> dict:
    """Write REPORT.md, report.html and tables/*.csv under results_dir; return their paths."""
    data = collect(results_dir)
    outputs = {"markdown": results_dir / "REPORT.md", "html": results_dir / "report.html",
               "scores_csv": results_dir / "tables" / "scores.csv",
               "reproduction_csv": results_dir / "tables" / "measured_vs_published.csv",
               "claims_csv": results_dir / "tables" / "claims.csv"}
    atomic.write_bytes(outputs["markdown"], markdown(data).encode())
    atomic.write_bytes(outputs["html"], html_page(data).encode())
    write_csv(outputs["scores_csv"], score_rows(data))
    write_csv(outputs["reproduction_csv"], reproduction_rows(data))
    write_csv(outputs["claims_csv"], claim_rows(data))
    return {"outputs": outputs, "skipped": data.skipped, "cells": len(data.cells), "claims": len(data.verdicts)}


def _main(cfg) -> None:
    import sys

    summary = write_report(Path(cfg.results_dir))
    for path, reason in summary["skipped"]:
        print(f"[report] skipped: {reason}", file=sys.stderr)
    for path in summary["outputs"].values():
        print(f"wrote {path}")


def main() -> None:
    import hydra

    from harness import CONFIG_DIR
    hydra.main(config_path=str(CONFIG_DIR), config_name="report", version_base="1.3")(_main)()


if __name__ == "__main__":
    main()
