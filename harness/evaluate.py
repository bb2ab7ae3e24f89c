"""Evaluation: the only module that calls lm-eval's evaluator.

One loaded model, one benchmark setting -> lm-eval's own output (results, configs,
n-samples, per-item samples), untouched, plus wall-clock times. The caller loads each
model once and calls `run_benchmark` for every benchmark of the run.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from harness import localdata
from harness.models import LoadedModel
from harness.records import shipped_files
from harness.schema import BenchmarkConfig, ModelConfig

TASKS_DIR = Path(__file__).parent / "tasks"
ACCEPT_UNISOLATED = "HARNESS_SANDBOX_ACCEPT_UNISOLATED"


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
    throughput: dict         # items and tokens per second over the whole lm-eval call
    memory: dict             # peak process RSS and peak GPU memory, MB


@lru_cache(maxsize=1)
def task_manager():
    """lm-eval's task index plus the tasks this project ships (offline data)."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=str(TASKS_DIR))


def check_tasks_exist(name: str, bench: BenchmarkConfig) -> None:
    if bench.local_data is not None:
        return
    known = set(task_manager().all_tasks)
    missing = [task for task in bench.tasks if task not in known]
    if missing:
        raise BenchmarkError(f"benchmark '{name}': lm-eval has no task '{missing[0]}'; "
                             f"list them with `python -m harness.list tasks`")


def leaf_configs(name: str, seen: set | None = None):
    """Task configs (as indexed by lm-eval, includes resolved) under a task, group or tag,
    without building the tasks (building one downloads its dataset)."""
    from lm_eval.tasks._index import Kind

    seen = set() if seen is None else seen
    entry = task_manager().task_index.get(name)
    if entry is None or name in seen:
        return
    seen.add(name)
    if entry.kind == Kind.TAG:
        members = sorted(entry.tags)
    elif entry.kind == Kind.GROUP:
        members = entry.cfg.get("task", [])
    else:
        yield entry.cfg or {}
        return
    for member in members:
        yield from _member_configs(member, seen)


def _member_configs(member, seen: set):
    """A group's `task:` entry: a name, an inline group {group, task: [...]}, or a task
    with overrides {task: name, key: value}; as lm-eval's TaskFactory reads them."""
    if isinstance(member, str):
        yield from leaf_configs(member, seen)
    elif isinstance(member, dict) and "group" in member:
        for sub in member.get("task", []) if member["group"] not in task_manager().task_index else [member["group"]]:
            yield from _member_configs(sub, seen)
    elif isinstance(member, dict) and isinstance(member.get("task"), str):
        overrides = {k: v for k, v in member.items() if k != "task"}
        for config in leaf_configs(member["task"], seen):
            yield {**config, **overrides}


def check_unsafe_code(name: str, bench: BenchmarkConfig) -> None:
    """Tasks that execute model-written code run only when the config says so, and only
    in harness.sandbox (our shipped tasks) unless isolation is explicitly waived."""
    from harness.sandbox import isolation_available

    unsafe = [(task, c.get("task")) for task in bench.tasks for c in leaf_configs(task) if c.get("unsafe_code")]
    if not unsafe:
        return
    if not bench.confirm_run_unsafe_code:
        raise BenchmarkError(f"benchmark '{name}' executes model-written code; to allow it set "
                             f"benchmark.{name}.confirm_run_unsafe_code=true (programs run in harness.sandbox)")
    outside = [leaf for task, leaf in unsafe if not str(task_yaml_path(task) or "").startswith(str(TASKS_DIR))]
    if outside and not bench.sandbox_accept_unisolated:
        raise BenchmarkError(f"benchmark '{name}': lm-eval's task '{outside[0]}' runs code with lm-eval's own "
                             f"executor, outside harness.sandbox; use humaneval_offline, or set "
                             f"benchmark.{name}.sandbox_accept_unisolated=true")
    available, why = isolation_available()
    if not available and not bench.sandbox_accept_unisolated:
        raise BenchmarkError(f"benchmark '{name}': cannot isolate generated code here ({why}); run as root or set "
                             f"benchmark.{name}.sandbox_accept_unisolated=true to run it with network")


def task_yaml_path(task: str) -> Path | None:
    entry = task_manager().task_index.get(task)
    return Path(entry.yaml_path) if entry is not None and entry.yaml_path else None


def task_specs(name: str, bench: BenchmarkConfig) -> list:
    """What lm-eval is asked to run: task names, or task configs over local files."""
    where = f"benchmark '{name}'"
    if bench.local_data is not None:
        return [localdata.task_config(name, bench.local_data, localdata.validate(bench.local_data, where))]
    if bench.dataset_dir:
        return [localdata.redirected_config(task, task_yaml_path(task), bench.dataset_dir, where)
                for task in bench.tasks]
    return list(bench.tasks)


def data_files(name: str, bench: BenchmarkConfig) -> dict:
    """sha256 of the files a benchmark reads from disk: shipped task data (SOURCE.json),
    local_data files, or a redirected dataset_dir. Empty for hub datasets."""
    if bench.local_data is not None:
        return localdata.file_fingerprints(localdata.validate(bench.local_data, f"benchmark '{name}'"))
    if bench.dataset_dir:
        return localdata.file_fingerprints(localdata.files_by_split(Path(bench.dataset_dir).expanduser()))
    files = {}
    for task in bench.tasks:
        files.update(shipped_files(task_yaml_path(task)))
    return files


def chat_template_for(model: ModelConfig, bench: BenchmarkConfig) -> bool:
    """The benchmark's setting decides (published settings fix it); else the model's."""
    if bench.apply_chat_template is not None:
        return bench.apply_chat_template
    return model.apply_chat_template


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def count_tokens(lm, samples: dict) -> int:
    """Tokens the model read or wrote: every request's context and continuation (or
    generated text), encoded by the model's own tokenizer."""
    total = 0
    for task_samples in samples.values():
        for sample in task_samples:
            responses = sample.get("filtered_resps") or []
            for index, argument in enumerate(sample.get("arguments", [])):
                text = "".join(a for a in argument if isinstance(a, str)) if isinstance(argument, (list, tuple)) else ""
                if isinstance(responses, list) and index < len(responses) and isinstance(responses[index], str):
                    text += responses[index]
                total += len(lm.tok_encode(text)) if text else 0
    return total


def peak_memory() -> dict:
    import resource

    import torch

    gpu = torch.cuda.max_memory_allocated() / 2 ** 20 if torch.cuda.is_available() else None
    return {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
            "peak_gpu_allocated_mb": round(gpu, 1) if gpu is not None else None,
            "note": "RSS is the process peak so far (all cells of this job)"}


def run_benchmark(loaded: LoadedModel, name: str, bench: BenchmarkConfig, limit: int | None,
                  seed: int, bootstrap_iters: int, request_cache: str | None = None) -> CellOutput:
    """Run one benchmark setting on a loaded model. `request_cache` is a path prefix for
    lm-eval's request cache; the caller keys it by model fingerprint (lm-eval's own key
    ignores the model)."""
    from lm_eval import simple_evaluate

    check_tasks_exist(name, bench)
    check_unsafe_code(name, bench)
    chat = chat_template_for(loaded.config, bench)
    started, clock = now_utc(), time.time()
    os.environ[ACCEPT_UNISOLATED] = "1" if bench.sandbox_accept_unisolated else "0"  # read by the task's scorer
    output = simple_evaluate(
        model=loaded.lm, tasks=task_specs(name, bench), num_fewshot=bench.num_fewshot, limit=limit,
        task_manager=task_manager(), log_samples=True, apply_chat_template=chat,
        fewshot_as_multiturn=bench.fewshot_as_multiturn and chat, gen_kwargs=bench.gen_kwargs,
        random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed,
        bootstrap_iters=bootstrap_iters, confirm_run_unsafe_code=bench.confirm_run_unsafe_code,
        use_cache=request_cache)
    wall = time.time() - clock
    samples = output.pop("samples")
    items, tokens = sum(len(v) for v in samples.values()), count_tokens(loaded.lm, samples)
    throughput = {"items": items, "tokens": tokens, "items_per_second": round(items / wall, 3),
                  "tokens_per_second": round(tokens / wall, 1), "request_cache": request_cache is not None}
    return CellOutput(lm_eval=output, samples=samples, chat_template_applied=chat, started_at=started,
                      finished_at=now_utc(), wall_seconds=round(wall, 3), throughput=throughput,
                      memory=peak_memory())
