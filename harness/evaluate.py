"""Evaluation: the only module that calls lm-eval's evaluator.

One loaded model, one benchmark setting -> lm-eval's own output (results, configs,
n-samples, per-item samples), untouched, plus wall-clock times. The caller loads each
model once and calls `run_benchmark` for every benchmark of the run.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from harness.models import LoadedModel
from harness.schema import BenchmarkConfig

TASKS_DIR = Path(__file__).parent / "tasks"


class BenchmarkError(ValueError):
    """A benchmark that lm-eval cannot run as configured."""


@dataclass
class CellOutput:
    lm_eval: dict            # simple_evaluate's output without "samples"
    samples: dict            # task -> list of lm-eval sample dicts
    chat_template_applied: bool
    started_at: str
    finished_at: str
    wall_seconds: float


@lru_cache(maxsize=1)
def task_manager():
    """lm-eval's task index plus the tasks this project ships (offline data)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASKS_DIR))


def check_tasks_exist(name: str, bench: BenchmarkConfig) -> None:
    known = set(task_manager().all_tasks)
    missing = [task for task in bench.tasks if task not in known]
    if missing:
        raise BenchmarkError(f"benchmark '{name}': lm-eval has no task '{missing[0]}'; "
                             f"list them with `python -m harness.list tasks`")


def task_yaml_path(task: str) -> Path | None:
    entry = task_manager().task_index.get(task)
    return Path(entry.yaml_path) if entry is not None and entry.yaml_path else None


def chat_template_for(loaded: LoadedModel, bench: BenchmarkConfig) -> bool:
    """The benchmark's setting decides (published settings fix it); else the model's."""
    if bench.apply_chat_template is not None:
        return bench.apply_chat_template
    return loaded.config.apply_chat_template


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def run_benchmark(loaded: LoadedModel, name: str, bench: BenchmarkConfig, limit: int | None,
                  seed: int, bootstrap_iters: int) -> CellOutput:
    from lm_eval import simple_evaluate

    check_tasks_exist(name, bench)
    chat = chat_template_for(loaded, bench)
    started, clock = now_utc(), time.time()
    output = simple_evaluate(
        model=loaded.lm, tasks=list(bench.tasks), num_fewshot=bench.num_fewshot, limit=limit,
        task_manager=task_manager(), log_samples=True, apply_chat_template=chat,
        fewshot_as_multiturn=bench.fewshot_as_multiturn and chat, gen_kwargs=bench.gen_kwargs,
        random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed,
        bootstrap_iters=bootstrap_iters, confirm_run_unsafe_code=bench.confirm_run_unsafe_code)
    samples = output.pop("samples")
    return CellOutput(lm_eval=output, samples=samples, chat_template_applied=chat, started_at=started,
                      finished_at=now_utc(), wall_seconds=round(time.time() - clock, 3))
