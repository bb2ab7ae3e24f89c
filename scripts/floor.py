"""The least time a suite can take on this machine: its distinct token positions and head
reads (harness.workload), at 2 FLOPs per weight, over this machine's measured matmul peak.

Every cell's requests are built exactly as `python -m harness` builds them (the same
planning and lm-eval call), but nothing is scored. Generation cells count the tokens a
finished record of the same model and benchmark generated (none if there is no record).
A model's cells share one trie, as a run with `request_cache=true` shares requests.
Attention, norms and the scorer's own overhead are left out: no run can be faster.

    python scripts/floor.py suite=card_repro limit=null [--write results/benchmarks/floor.md]
"""

from __future__ import annotations

import argparse
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import torch  # noqa: E402
from tabulate import tabulate  # noqa: E402

from harness import records  # noqa: E402
from harness.config import compose_run  # noqa: E402
from harness.evaluate import BenchmarkError, evaluate  # noqa: E402
from harness.models import cpu_has_fast_bf16, load_model, source_fingerprint  # noqa: E402
from harness.plan import BenchmarkPlan, plan_benchmarks, plan_cell  # noqa: E402
from harness.provenance import cpu_model  # noqa: E402
from harness.schema import parse_run_config  # noqa: E402
from harness.workload import ModelCost, Tokenized, Workload, matmul_peak, requests_recorded, tokenized  # noqa: E402


@dataclass(frozen=True)
class CellFloor:
    benchmark: str
    work: Workload | None  # None: the cell cannot run (why: `skipped`)
    generated_from: str = ""  # the record whose outputs were counted
    skipped: str = ""


def generated_texts(results_dir: Path, model: str, benchmark: str) -> tuple[dict, str]:
    """(task, doc id) -> generated text, from the record of this model and benchmark with
    the most items."""
    found = [(path, record) for path, record in records.iter_records(results_dir) if not isinstance(record, Exception)]
    mine = [(p, r) for p, r in found if r.cell.model == model and r.cell.benchmark == benchmark]
    if not mine:
        return {}, ""
    path, record = max(mine, key=lambda pair: pair[1].scores.primary.n or 0)
    items = records.load_items(path, record)
    return {(item.task, item.doc_id): item.response for item in items if isinstance(item.response, str)}, str(path)


def cell_floor(lm, model_name: str, fingerprint: dict, bench: BenchmarkPlan, cfg) -> tuple[CellFloor, list]:
    """The cell's floor, and its tokenized requests for the model's total (none if it cannot run)."""
    cell = plan_cell(model_name, fingerprint, bench, cfg)
    try:
        with requests_recorded(lm) as requests:
            evaluate(lm, cell)
    except BenchmarkError as error:
        return CellFloor(bench.name, None, skipped=str(error)), []
    generates = any(request.request_type == "generate_until" for request in requests)
    texts, source = generated_texts(Path(cfg.results_dir), model_name, bench.name) if generates else ({}, "")
    ids = tokenized(lm, requests, texts)
    return CellFloor(bench.name, ids.workload(), source), [ids]


def model_floor(model_name: str, cfg, benchmarks: list[BenchmarkPlan]) -> tuple[list[CellFloor], Workload, ModelCost]:
    fingerprint = source_fingerprint(model_name, cfg.model[model_name], cfg.cache_dir)
    lm = load_model(model_name, cfg.model[model_name], cfg.hardware, cfg.cache_dir, fingerprint).lm
    cells, pooled = [], []
    for bench in benchmarks:
        started = time.perf_counter()
        floor, built = cell_floor(lm, model_name, fingerprint, bench, cfg)
        logging.info(
            "%s x %s: %s (%.0f s)", model_name, bench.name, floor.work or floor.skipped, time.perf_counter() - started
        )
        cells.append(floor)
        pooled += built
    return cells, Tokenized.pooled(pooled).workload(), ModelCost.of(lm.model)


def peaks() -> dict[str, float]:
    measured = {"float32": matmul_peak(torch.float32)}
    if cpu_has_fast_bf16():
        measured["bfloat16"] = matmul_peak(torch.bfloat16)
    return measured


def model_section(name: str, cells: list[CellFloor], total: Workload, cost: ModelCost, peak: dict) -> list[str]:
    rows = [
        [cell.benchmark, "cannot run (below)", "", "", "", ""]
        if cell.work is None
        else [
            cell.benchmark,
            f"{cell.work.requests:,}",
            f"{cell.work.positions:,}",
            f"{cell.work.head_reads:,}",
            f"{cell.work.generated:,}" + (" (from its record)" if cell.generated_from else ""),
            f"{cost.flops(cell.work) / 1e12:,.1f}",
        ]
        for cell in cells
    ]
    rows.append(
        [
            "**all cells, one trie**",
            f"{total.requests:,}",
            f"{total.positions:,}",
            f"{total.head_reads:,}",
            f"{total.generated:,}",
            f"{cost.flops(total) / 1e12:,.1f}",
        ]
    )
    minutes = ", ".join(f"{cost.flops(total) / rate / 60:,.1f} min in {dtype}" for dtype, rate in peak.items())
    return [
        f"## {name}",
        "",
        f"Layer matmul weights {cost.layer_weights:,}; head {cost.head_weights:,} (vocabulary x hidden). "
        f"At this machine's peak, on all its cores: **{minutes}**.",
        "",
        tabulate(
            rows,
            headers=["benchmark", "requests", "distinct positions", "head reads", "generated tokens", "TFLOP"],
            tablefmt="github",
            disable_numparse=True,
        ),
        "",
        *(f"- {cell.benchmark} cannot run: {cell.skipped}" for cell in cells if cell.work is None),
        "",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("overrides", nargs="*", help="as for python -m harness, e.g. suite=card_repro limit=null")
    parser.add_argument("--write", type=Path, help="write the Markdown report here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s", datefmt="%H:%M:%S")
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    cfg = parse_run_config(compose_run(*args.overrides, "request_cache=false"))
    started, peak = time.perf_counter(), peaks()
    benchmarks = plan_benchmarks(cfg)
    lines = [
        "# Compute floor: " + " ".join(args.overrides),
        "",
        f"`python scripts/floor.py {' '.join(args.overrides)}` on {cpu_model()}, {os.cpu_count()} cores, "
        f"torch threads {torch.get_num_threads()}; matmul peak (2048x2048, fastest of 5): "
        + ", ".join(f"{rate / 1e9:.0f} GFLOP/s {dtype}" for dtype, rate in peak.items())
        + ("" if "bfloat16" in peak else " (no native bf16 on this CPU)")
        + ". FLOPs: 2 per layer weight per distinct position plus 2 per head weight per head read; attention "
        "and everything else left out, so every time below is a lower bound.",
        "",
    ]
    floors = 0.0
    for name in cfg.model:
        cells, total, cost = model_floor(name, cfg, benchmarks)
        lines += model_section(name, cells, total, cost, peak)
        floors += cost.flops(total)
    lines.append(
        "**All models, one after another on this machine:** "
        + ", ".join(f"{floors / rate / 3600:.2f} h in {dtype}" for dtype, rate in peak.items())
        + f" at the least (this report took {(time.perf_counter() - started) / 60:.0f} min)."
    )
    report = "\n".join(lines) + "\n"
    print(report)
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text(report)


if __name__ == "__main__":
    main()
