"""A run: every chosen model x every chosen benchmark -> one record per cell.

Each model is loaded once for all of its benchmarks. A model that fails to load or a
benchmark that fails is reported and skipped; records already written stay on disk.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from harness import evaluate, records
from harness.models import ModelLoadError, load_model, release
from harness.provenance import hardware_facts, versions
from harness.schema import BenchmarkConfig, ConfigError, RunConfig


@dataclass
class RunSummary:
    written: list = field(default_factory=list)    # record paths
    failures: list = field(default_factory=list)   # (model, benchmark or None, message)


def log(message: str) -> None:
    print(f"[harness] {message}", file=sys.stderr, flush=True)


def check_results_dir(results_dir: Path) -> None:
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"results_dir '{results_dir}' cannot be created ({error.strerror})") from None
    if not os.access(results_dir, os.W_OK):
        raise ConfigError(f"results_dir '{results_dir}' is not writable; choose another with results_dir=...")


def benchmark_files(bench: BenchmarkConfig) -> dict:
    """sha256 of the shipped data files behind a benchmark's tasks (empty for hub tasks)."""
    files = {}
    for task in bench.tasks:
        yaml_path = evaluate.task_yaml_path(task)
        source = yaml_path.parent / "SOURCE.json" if yaml_path else None
        if source and source.is_file():
            files.update({k: v["sha256"] for k, v in json.loads(source.read_text())["files"].items()})
    return files


def run_cell(loaded, bench_name: str, bench: BenchmarkConfig, cfg: RunConfig, run_info: dict) -> Path:
    limit = cfg.limit if cfg.limit is not None else bench.limit
    chat = evaluate.chat_template_for(loaded, bench)
    key = records.cell_key(loaded.fingerprint, loaded.config, bench, limit, cfg.seed, chat,
                           benchmark_files(bench), versions().get("lm_eval"))
    log(f"{loaded.name} x {bench_name}: evaluating (limit={limit})")
    cell = evaluate.run_benchmark(loaded, bench_name, bench, limit, cfg.seed, cfg.bootstrap_iters)
    datasets = {task: records.dataset_fingerprint(samples, records.shipped_task_files(
        evaluate.task_yaml_path(task), task)) for task, samples in cell.samples.items()}
    record = records.build_record(
        key=key, model_name=loaded.name, model=loaded.config, fingerprint=loaded.fingerprint,
        model_info=loaded.info, bench_name=bench_name, bench=bench, limit=limit, seed=cfg.seed,
        cell=cell, datasets=datasets, hardware=hardware_facts(cfg.hardware), versions=versions(),
        run=run_info)
    items = records.build_items(cell.samples, cell.lm_eval, bench.primary_metric)
    return records.write_record(Path(cfg.results_dir), record, items)


def run(cfg: RunConfig, run_info: dict) -> RunSummary:
    results_dir = Path(cfg.results_dir)
    check_results_dir(results_dir)
    for name, bench in cfg.benchmark.items():
        evaluate.check_tasks_exist(name, bench)   # fail before any model loads
    summary = RunSummary()
    for model_name, model_cfg in cfg.model.items():
        log(f"loading {model_name}")
        try:
            loaded = load_model(model_name, model_cfg, cfg.hardware, cfg.cache_dir)
        except ModelLoadError as error:
            log(f"error: {error}")
            summary.failures.append((model_name, None, str(error)))
            continue
        log(f"{model_name} loaded in {loaded.info['load_seconds']:.1f}s ({loaded.fingerprint['kind']} "
            f"{loaded.fingerprint['value'][:16]})")
        for bench_name, bench in cfg.benchmark.items():
            try:
                path = run_cell(loaded, bench_name, bench, cfg, run_info)
            except (evaluate.BenchmarkError, records.RecordError) as error:
                log(f"error: {error}")
                summary.failures.append((model_name, bench_name, str(error)))
                continue
            summary.written.append(path)
            log(f"wrote {path}")
        release(loaded)
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
