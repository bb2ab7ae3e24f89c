"""A run: every chosen model x every chosen benchmark -> one record per cell.

A cell's life, top to bottom: plan (harness.plan: everything resolved once) -> load the
model (harness.models, once for all its cells) -> evaluate (harness.evaluate, the lm-eval
adapter) -> record (harness.records, typed, written atomically). A model that fails to
load or a benchmark that fails is reported and skipped; records already written stay.
SIGTERM (Ctrl-C's batch cousin: scancel, preemption, `kill`) stops the run inside the
current cell at once; the cells finished before it keep their records.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tabulate import tabulate

from harness import evaluate, records
from harness.localdata import DataError
from harness.mirror import MirrorError
from harness.models import LoadedModel, ModelLoadError, load_model, release, source_fingerprint
from harness.plan import BenchmarkPlan, CellPlan, plan_benchmarks, plan_cell
from harness.provenance import hardware_facts, peak_memory, versions
from harness.schema import ConfigError, RunConfig

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    written: list[Path] = field(default_factory=list)  # record paths
    skipped: list[Path] = field(default_factory=list)  # record paths of cells already done
    failures: list[tuple[str, str | None, str]] = field(default_factory=list)  # (model, benchmark, message)
    model_loads: int = 0


def check_results_dir(results_dir: Path) -> None:
    try:
        results_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"results_dir '{results_dir}' cannot be created ({error.strerror})") from None
    if not os.access(results_dir, os.W_OK):
        raise ConfigError(f"results_dir '{results_dir}' is not writable; choose another with results_dir=...")


def cells_to_compute(cells: list[CellPlan], cfg: RunConfig) -> list[CellPlan]:
    return cells if cfg.force else [c for c in cells if not records.is_complete(c.record_path)]


def unfinished_cells(cfg: RunConfig) -> int:
    """How many cells a run of `cfg` would compute, found without loading any model (a
    launcher submits no job for a sweep point with none). A model whose weights cannot be
    found counts as unfinished, so its job runs and reports why."""
    try:
        benchmarks = plan_benchmarks(cfg)
    except (evaluate.BenchmarkError, DataError, MirrorError) as error:  # the launcher stops on a ConfigError
        raise ConfigError(str(error)) from None
    count = 0
    for model_name in cfg.model:
        try:
            fingerprint = source_fingerprint(model_name, cfg.model[model_name], cfg.cache_dir)
        except ModelLoadError:
            count += len(benchmarks)
            continue
        count += len(cells_to_compute([plan_cell(model_name, fingerprint, b, cfg) for b in benchmarks], cfg))
    return count


class StopRequested(BaseException):
    """SIGTERM arrived. A BaseException, like KeyboardInterrupt, so that no `except
    Exception` inside lm-eval or the harness turns it into a failed cell and carries on."""


@contextmanager
def stop_on_sigterm():
    """Turn SIGTERM into StopRequested for the run's duration. Slurm's scancel sends SIGTERM
    and SIGKILL only KillWait seconds later (submitit's own handler merely logs SIGTERM), so
    without this a cancelled job kept computing, and could still write a record, until killed."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def stop(signum, frame):
        raise StopRequested()

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_cell(loaded: LoadedModel, cell: CellPlan, cfg: RunConfig, run_info: dict) -> Path:
    log.info("%s x %s: evaluating (limit=%s)", cell.model_name, cell.benchmark.name, cell.benchmark.limit)
    result = evaluate.evaluate(loaded.lm, cell)
    record = records.build_record(
        cell, loaded, result, hardware_facts(cfg.hardware), peak_memory(), versions(), run_info
    )
    return records.write_record(cell, record, result.items)


def run_model(
    model_name: str, benchmarks: list[BenchmarkPlan], cfg: RunConfig, run_info: dict, summary: RunSummary
) -> None:
    """Load one model once, only if it has unfinished cells, and run them."""
    try:
        fingerprint = source_fingerprint(model_name, cfg.model[model_name], cfg.cache_dir)
    except ModelLoadError as error:
        log.error("error: %s", error)
        summary.failures.append((model_name, None, str(error)))
        return
    cells = [plan_cell(model_name, fingerprint, bench, cfg) for bench in benchmarks]
    todo = cells_to_compute(cells, cfg)
    summary.skipped += [c.record_path for c in cells if c not in todo]
    if len(todo) < len(cells):
        log.info(
            "%s: %d of %d cells already done, skipped (force=true recomputes)",
            model_name,
            len(cells) - len(todo),
            len(cells),
        )
    if not todo:
        return
    log.info("loading %s", model_name)
    try:
        loaded = load_model(model_name, cfg.model[model_name], cfg.hardware, cfg.cache_dir, fingerprint)
    except ModelLoadError as error:
        log.error("error: %s", error)
        summary.failures.append((model_name, None, str(error)))
        return
    summary.model_loads += 1
    log.info(
        "%s loaded in %.1fs (%s %s)",
        model_name,
        loaded.info["load_seconds"],
        fingerprint["kind"],
        fingerprint["value"][:16],
    )
    for cell in todo:
        try:
            path = run_cell(loaded, cell, cfg, run_info)
        except StopRequested:
            log.error(
                "stopped by SIGTERM during %s x %s; its record was not written, finished cells are kept "
                "(rerun the same command to compute the rest)",
                model_name,
                cell.benchmark.name,
            )
            raise
        except (evaluate.BenchmarkError, records.RecordError, DataError, MirrorError) as error:
            log.error("error: %s", error)
            summary.failures.append((model_name, cell.benchmark.name, str(error)))
            continue
        summary.written.append(path)
        log.info("wrote %s", path)
    release(loaded)


def run(cfg: RunConfig, run_info: dict) -> RunSummary:
    check_results_dir(Path(cfg.results_dir))
    benchmarks = plan_benchmarks(cfg)  # checks tasks and data: fails before any model loads
    summary = RunSummary()
    with stop_on_sigterm():
        for model_name in cfg.model:
            run_model(model_name, benchmarks, cfg, run_info, summary)
    return summary


def score_table(record_paths: list[Path]) -> str:
    """Models x benchmarks, primary metric in percent, +- one standard error."""
    cells, models, benches = {}, [], []
    for path in record_paths:
        record = records.load_record(path)
        model, bench = record.cell.model, record.cell.benchmark
        primary = record.scores.primary
        stderr = f" ± {100 * primary.stderr:.1f}" if primary.stderr is not None else ""
        cells[model, bench] = f"{100 * primary.value:.1f}{stderr} (n={primary.n}, {primary.metric})"
        models += [model] if model not in models else []
        benches += [bench] if bench not in benches else []
    rows = [[m, *(cells.get((m, b), "not run") for b in benches)] for m in models]
    return tabulate(rows, headers=["model", *benches], tablefmt="simple", disable_numparse=True)
