"""A run: every chosen model x every chosen benchmark -> one record per cell.

Each model is loaded once for all of its benchmarks. A model that fails to load or a
benchmark that fails is reported and skipped; records already written stay on disk.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness import evaluate, records
from harness.localdata import DataError
from harness.models import (ModelLoadError, cache_root_for, load_model, release, source_fingerprint,
                            with_resolved_dtype)
from harness.provenance import hardware_facts, versions
from harness.schema import BenchmarkConfig, ConfigError, RunConfig


@dataclass
class RunSummary:
    written: list = field(default_factory=list)    # record paths
    skipped: list = field(default_factory=list)    # record paths of cells already done
    failures: list = field(default_factory=list)   # (model, benchmark or None, message)
    model_loads: int = 0


@dataclass
class Cell:
    model: str
    benchmark: str
    bench: BenchmarkConfig
    limit: int | None
    key: str
    path: Path


def log(message: str) -> None:
    print(f"[harness] {message}", file=sys.stderr, flush=True)


def check_results_dir(results_dir: Path) -> None:
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"results_dir '{results_dir}' cannot be created ({error.strerror})") from None
    if not os.access(results_dir, os.W_OK):
        raise ConfigError(f"results_dir '{results_dir}' is not writable; choose another with results_dir=...")


def plan_cells(model_name: str, fingerprint: dict, cfg: RunConfig) -> list[Cell]:
    """Every cell of one model with its content-addressed key and record path."""
    model = cfg.model[model_name]
    cells = []
    for bench_name, bench in cfg.benchmark.items():
        limit = cfg.limit if cfg.limit is not None else bench.limit
        chat = evaluate.chat_template_for(model, bench)
        key = records.cell_key(fingerprint, with_resolved_dtype(model, cfg.hardware), bench, limit, cfg.seed, chat,
                               evaluate.data_files(bench_name, bench), versions())
        path, _ = records.record_paths(Path(cfg.results_dir), model_name, bench_name, key)
        cells.append(Cell(model_name, bench_name, bench, limit, key, path))
    return cells


def is_done(cell: Cell) -> bool:
    """A cell is done when its record and per-item file read back intact."""
    try:
        records.load_items(cell.path)
        return True
    except records.RecordError:
        return False


def cells_to_compute(cells: list[Cell], cfg: RunConfig) -> list[Cell]:
    return cells if cfg.force else [c for c in cells if not is_done(c)]


def unfinished_cells(cfg: RunConfig) -> int:
    """How many cells a run of `cfg` would compute, found without loading any model (a
    launcher submits no job for a sweep point with none). A model whose weights cannot be
    found counts as unfinished, so its job runs and reports why."""
    count = 0
    for model_name in cfg.model:
        try:
            fingerprint = source_fingerprint(model_name, cfg.model[model_name], cfg.cache_dir)
        except ModelLoadError:
            count += len(cfg.benchmark)
            continue
        count += len(cells_to_compute(plan_cells(model_name, fingerprint, cfg), cfg))
    return count


def run_cell(loaded, cell: Cell, cfg: RunConfig, run_info: dict) -> Path:
    log(f"{loaded.name} x {cell.benchmark}: evaluating (limit={cell.limit})")
    request_cache = None
    if cfg.request_cache:  # one cache file per model: lm-eval's own key ignores the model
        cache = cache_root_for(cfg.cache_dir) / "requests" / loaded.fingerprint["value"][:32]
        cache.parent.mkdir(parents=True, exist_ok=True)
        request_cache = str(cache)
    out = evaluate.run_benchmark(loaded, cell.benchmark, cell.bench, cell.limit, cfg.seed, cfg.bootstrap_iters,
                                 request_cache)
    local = cell.bench.local_data is not None or cell.bench.dataset_dir is not None
    datasets = {task: records.dataset_fingerprint(samples, evaluate.data_files(cell.benchmark, cell.bench) if local
                                                  else records.shipped_task_files(evaluate.task_yaml_path(task), task))
                for task, samples in out.samples.items()}
    record = records.build_record(
        key=cell.key, model_name=loaded.name, model=loaded.config, fingerprint=loaded.fingerprint,
        model_info=loaded.info, bench_name=cell.benchmark, bench=cell.bench, limit=cell.limit, seed=cfg.seed,
        cell=out, datasets=datasets, hardware=hardware_facts(cfg.hardware), versions=versions(),
        run=run_info)
    items = records.build_items(out.samples, out.lm_eval, cell.bench.primary_metric)
    return records.write_record(Path(cfg.results_dir), record, items)


def run_model(model_name: str, cfg: RunConfig, run_info: dict, summary: RunSummary) -> None:
    """Load one model once, only if it has unfinished cells, and run them."""
    model_cfg = cfg.model[model_name]
    try:
        fingerprint = source_fingerprint(model_name, model_cfg, cfg.cache_dir)
    except ModelLoadError as error:
        log(f"error: {error}")
        summary.failures.append((model_name, None, str(error)))
        return
    cells = plan_cells(model_name, fingerprint, cfg)
    todo = cells_to_compute(cells, cfg)
    summary.skipped += [c.path for c in cells if c not in todo]
    if len(todo) < len(cells):
        log(f"{model_name}: {len(cells) - len(todo)} of {len(cells)} cells already done, skipped (force=true recomputes)")
    if not todo:
        return
    log(f"loading {model_name}")
    try:
        loaded = load_model(model_name, model_cfg, cfg.hardware, cfg.cache_dir, fingerprint)
    except ModelLoadError as error:
        log(f"error: {error}")
        summary.failures.append((model_name, None, str(error)))
        return
    summary.model_loads += 1
    log(f"{model_name} loaded in {loaded.info['load_seconds']:.1f}s ({fingerprint['kind']} {fingerprint['value'][:16]})")
    for cell in todo:
        try:
            path = run_cell(loaded, cell, cfg, run_info)
        except (evaluate.BenchmarkError, records.RecordError, DataError) as error:
            log(f"error: {error}")
            summary.failures.append((model_name, cell.benchmark, str(error)))
            continue
        summary.written.append(path)
        log(f"wrote {path}")
    release(loaded)


def run(cfg: RunConfig, run_info: dict) -> RunSummary:
    results_dir = Path(cfg.results_dir)
    check_results_dir(results_dir)
    for name, bench in cfg.benchmark.items():  # fail before any model loads
        evaluate.check_tasks_exist(name, bench)
        evaluate.check_unsafe_code(name, bench)
        evaluate.data_files(name, bench)          # reads and checks local data
    summary = RunSummary()
    for model_name in cfg.model:
        run_model(model_name, cfg, run_info, summary)
    return summary


def score_table(record_paths: list[Path]) -> str:
    """Models x benchmarks, primary metric in percent, +- one standard error."""
    cells, models, benches = {}, [], []
    for path in record_paths:
        record = records.load_record(path)
        model, bench = record["cell"]["model"], record["cell"]["benchmark"]
        primary = record["scores"]["primary"]
        stderr = f" ± {100 * primary['stderr']:.1f}" if primary["stderr"] is not None else ""
        cells[model, bench] = f"{100 * primary['value']:.1f}{stderr} (n={primary['n']}, {primary['metric']})"
        models += [model] if model not in models else []
        benches += [bench] if bench not in benches else []
    rows = [["model", *benches]] + [[m, *(cells.get((m, b), "not run") for b in benches)] for m in models]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in rows]
    return "\n".join([lines[0], "  ".join("-" * w for w in widths), *lines[1:]])
