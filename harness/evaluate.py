"""The lm-eval adapter: the one module that calls lm-eval's evaluator and task index.

It answers questions about tasks (exists? unsafe? where is its YAML?), runs one planned
cell on a loaded model, and parses lm-eval's output (its "metric,filter" keys, n-samples,
per-item samples) into typed results. lm-eval's private APIs (the task index's `Kind`,
its YAML loader) are wrapped here and used nowhere else. Model classes (HFLM and the
harness's scorer) belong to harness.models.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from harness import mirror
from harness.hashing import sha256_json
from harness.mirror import Mirror
from harness.records import ItemOutcome, MetricValue, PrimaryScore

if TYPE_CHECKING:
    from harness.plan import CellPlan

TASKS_DIR = Path(__file__).parent / "tasks"
NLTK_DIR = Path(__file__).parent / "nltk_data"  # punkt_tab for lm-eval's IFEval (NLTK's downloader needs internet)
ACCEPT_UNISOLATED = "HARNESS_SANDBOX_ACCEPT_UNISOLATED"  # read by the shipped HumanEval scorer
LOGLIKELIHOOD_TYPES = ("multiple_choice", "loglikelihood")


class BenchmarkError(ValueError):
    """A benchmark that lm-eval cannot run as configured."""


@dataclass
class EvalResult:
    """One cell's lm-eval output, parsed; `lm_eval` keeps lm-eval's own block unchanged."""

    lm_eval: dict  # simple_evaluate's output without "samples"
    primary: PrimaryScore
    metrics: dict[str, dict[str, MetricValue]]  # task or group -> "metric,filter" -> value
    items: list[ItemOutcome]  # one per scored item, in lm-eval's order
    task_config_sha256: dict[str, str]  # leaf task -> sha256 of its resolved config
    n_samples: dict  # task -> {"original": .., "effective": ..}
    n_shot: dict
    task_versions: dict
    seeds: dict
    started_at: str
    finished_at: str
    wall_seconds: float
    throughput: dict  # items and tokens per second over the whole lm-eval call


# ---------------------------------------------------------------- the task index


@lru_cache(maxsize=1)
def task_manager():
    """lm-eval's task index plus the tasks this project ships (offline data)."""
    import nltk
    from lm_eval.tasks import TaskManager

    if str(NLTK_DIR) not in nltk.data.path:
        nltk.data.path.insert(0, str(NLTK_DIR))
    return TaskManager(include_path=str(TASKS_DIR))


def mirrored_task_manager(hub_mirror: Mirror, num_fewshot: int | None, overrides: dict):
    """lm-eval's task manager, with every task config it builds (standalone, group member,
    tag member) reading its dataset from the mirror when the mirror holds it. lm-eval
    0.4.13 loads each of them through TaskFactory._load_full_config; prompts, samplers,
    filters and metrics stay the task's own (plus the benchmark's task_overrides)."""
    from lm_eval.tasks._factory import TaskFactory

    class MirrorFactory(TaskFactory):
        def _load_full_config(self, entry, overrides_=None):
            cfg = super()._load_full_config(entry, overrides_)
            if not isinstance(cfg.get("task"), str):  # a group's own config
                return cfg
            cfg = {**cfg, **overrides}
            route = mirror.plan(cfg, hub_mirror, num_fewshot)
            return mirror.redirect(cfg, route) if route else cfg

    manager = task_manager()
    manager._factory = MirrorFactory(meta=manager.metadata)
    return manager


def built_tasks(names: list[str], shots: int, limit: int | None, leaves: int | None = None, seed: int = 1234) -> dict:
    """lm-eval tasks on the shipped mirror's data (the first `leaves` leaf tasks of each
    group), with their requests built for `limit` items each: what the benchmarks and the
    tests score without a run."""
    from lm_eval.tasks import get_task_dict

    shipped, configs = Mirror(), []
    for name in names:
        for cfg in list(leaf_configs(name))[:leaves]:
            route = mirror.plan(cfg, shipped, shots)
            configs.append(mirror.redirect(cfg, route) if route else cfg)
    tasks = get_task_dict(configs, task_manager())
    for task in tasks.values():
        task.set_config(key="num_fewshot", value=shots)
        task.set_fewshot_seed(seed=seed)
        task.build_all_requests(limit=limit, rank=0, world_size=1)
    return tasks


def check_tasks_exist(name: str, tasks: list[str]) -> None:
    known = set(task_manager().all_tasks)
    missing = [task for task in tasks if task not in known]
    if missing:
        raise BenchmarkError(
            f"benchmark '{name}': lm-eval has no task '{missing[0]}'; list them with `python -m harness.list tasks`"
        )


def task_yaml_path(task: str) -> Path | None:
    entry = task_manager().task_index.get(task)
    return Path(entry.yaml_path) if entry is not None and entry.yaml_path else None


def is_shipped(task: str) -> bool:
    """A task whose YAML is in harness/tasks (offline data, scored by our own code)."""
    return str(task_yaml_path(task) or "").startswith(str(TASKS_DIR))


def task_catalog() -> list[tuple[str, bool]]:
    """Every task, group and tag lm-eval knows, and whether the project ships it."""
    return [(name, is_shipped(name)) for name in task_manager().all_tasks]


def leaf_configs(name: str, seen: set | None = None) -> Iterator[dict]:
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


def unsafe_leaves(task: str) -> list[str]:
    """Leaf tasks under `task` that execute model-written code."""
    return [config.get("task") for config in leaf_configs(task) if config.get("unsafe_code")]


@contextmanager
def compiled_prompt_templates(max_templates: int = 4096):
    """Inside: lm-eval compiles each distinct prompt template once. Its `apply_template`
    compiles the task's Jinja template again for every document and every few-shot example
    (`env.from_string` keeps no cache; upstream issue EleutherAI/lm-evaluation-harness#1286),
    which was 35% of a full MMLU 5-shot run's first 8 minutes here; rendering a compiled
    template gives the same text."""
    from lm_eval.utils import env

    enclosing = vars(env).get("from_string")  # the wrapper of an enclosing `with`, if any
    compile_template = env.from_string
    compiled = lru_cache(maxsize=max_templates)(compile_template)

    def from_string(source, *args, **kwargs):
        if args or kwargs or not isinstance(source, str):  # globals or a template class: not cacheable
            return compile_template(source, *args, **kwargs)
        return compiled(source)

    env.from_string = from_string
    try:
        yield
    finally:
        if enclosing is None:
            del env.from_string  # the instance attribute: the class's method is back
        else:
            env.from_string = enclosing


def now_utc() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def evaluate(lm, cell: CellPlan) -> EvalResult:
    """Run one planned cell on a loaded lm-eval LM and parse what lm-eval returns."""
    from lm_eval import simple_evaluate

    bench, seed = cell.benchmark.config, cell.seed
    if cell.chat_template and not getattr(getattr(lm, "tokenizer", None), "chat_template", None):
        raise BenchmarkError(
            f"benchmark '{cell.benchmark.name}' applies a chat template, but model "
            f"'{cell.model_name}' has none (a base model?); skip it, or score raw prompts with "
            f"benchmark.{cell.benchmark.name}.apply_chat_template=false"
        )
    if cell.request_cache:
        Path(cell.request_cache).parent.mkdir(parents=True, exist_ok=True)
    started, clock = now_utc(), time.time()
    os.environ[ACCEPT_UNISOLATED] = "1" if bench.sandbox_accept_unisolated else "0"
    with compiled_prompt_templates():
        output = simple_evaluate(
            model=lm,
            tasks=cell.benchmark.data.tasks,
            num_fewshot=bench.num_fewshot,
            limit=cell.benchmark.limit,
            task_manager=mirrored_task_manager(cell.benchmark.data.mirror, bench.num_fewshot, bench.task_overrides),
            log_samples=True,
            apply_chat_template=cell.chat_template,
            fewshot_as_multiturn=bench.fewshot_as_multiturn and cell.chat_template,
            gen_kwargs=bench.gen_kwargs,
            random_seed=seed,
            numpy_random_seed=seed,
            torch_random_seed=seed,
            fewshot_random_seed=seed,
            bootstrap_iters=cell.bootstrap_iters,
            confirm_run_unsafe_code=bench.confirm_run_unsafe_code,
            use_cache=cell.request_cache,
        )
    wall = time.time() - clock
    samples = output.pop("samples")
    try:
        return parse_output(lm, cell, plain(output), samples, started, wall)
    except ValidationError as error:  # lm-eval's output not as this adapter expects
        raise BenchmarkError(f"benchmark '{cell.benchmark.name}': unexpected lm-eval output: {error}") from None


def parse_output(lm, cell: CellPlan, output: dict, samples: dict, started: str, wall: float) -> EvalResult:
    bench = cell.benchmark.config
    items = [
        item_outcome(task, sample, output["configs"][task].get("output_type", ""), bench.primary_metric)
        for task, task_samples in samples.items()
        for sample in task_samples
    ]
    tokens = count_tokens(lm, samples)
    throughput = {
        "items": len(items),
        "tokens": tokens,
        "items_per_second": round(len(items) / wall, 3),
        "tokens_per_second": round(tokens / wall, 1),
        "request_cache": cell.request_cache is not None,
    }
    return EvalResult(
        lm_eval=output,
        primary=primary_score(bench.tasks, bench.primary_metric, bench.metric_filter, output, list(samples)),
        metrics=metrics_table(output),
        items=items,
        task_config_sha256={task: sha256_json(output["configs"][task]) for task in samples},
        n_samples=output.get("n-samples", {}),
        n_shot=output.get("n-shot", {}),
        task_versions=output.get("versions", {}),
        seeds={
            name: output["config"].get(name) for name in ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")
        },
        started_at=started,
        finished_at=now_utc(),
        wall_seconds=round(wall, 3),
        throughput=throughput,
    )


# ---------------------------------------------------------------- lm-eval's output format


def plain(data):
    """lm-eval's output as plain JSON data (it holds numpy scalars and arrays)."""

    def convert(value):
        if hasattr(value, "item"):  # numpy scalar
            return value.item()
        if hasattr(value, "tolist"):
            return value.tolist()
        return str(value)

    return json.loads(json.dumps(data, default=convert))


def _number(value) -> float | None:
    """lm-eval writes 'N/A' or NaN for a stderr it could not compute."""
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return float(value)
    return None


def metrics_table(output: dict) -> dict[str, dict[str, MetricValue]]:
    """{task or group: {"acc,none": MetricValue(value, stderr), ...}}"""
    table = {}
    for section in ("results", "groups"):
        for task, block in output.get(section, {}).items():
            metrics = {}
            for key, value in block.items():
                if "," not in key or "_stderr," in key:
                    continue
                metric, filt = key.split(",", 1)
                metrics[key] = MetricValue(value=_number(value), stderr=_number(block.get(f"{metric}_stderr,{filt}")))
            table[task] = metrics
    return table


def primary_score(tasks: list[str], metric: str, filt: str, output: dict, leaf_tasks: list[str]) -> PrimaryScore:
    """The benchmark's metric: the mean over its tasks (a group's value is lm-eval's own)."""
    key = f"{metric},{filt}"
    table = metrics_table(output)
    missing = [task for task in tasks if key not in table.get(task, {})]
    if missing:
        available = ", ".join(sorted(table.get(missing[0], {}))) or "none"
        raise BenchmarkError(
            f"metric '{key}' not reported for task '{missing[0]}' (reported: {available}); "
            f"fix primary_metric/metric_filter in the benchmark config"
        )
    values = [table[task][key].value for task in tasks]
    stderrs = [table[task][key].stderr for task in tasks]
    stderr = (math.sqrt(sum(s * s for s in stderrs)) / len(stderrs)) if None not in stderrs else None
    return PrimaryScore(
        metric=metric,
        filter=filt,
        value=sum(values) / len(values),
        stderr=stderr,
        n=sum(output["n-samples"][task]["effective"] for task in leaf_tasks),
        aggregation=pooling(tasks, metric, output),
    )


def pooling(tasks: list[str], metric: str, output: dict) -> str:
    """How the primary value pools items, for the record: a reviewer setting it beside a
    card must know whether MMLU's 57 subjects were weighted by size (lm-eval's default)."""
    if len(tasks) > 1:
        return "macro mean over tasks"
    if tasks[0] not in output.get("groups", {}):
        return "mean over items"
    group = task_manager().task_index[tasks[0]].cfg or {}
    weighted = any(
        entry.get("metric") == metric and entry.get("weight_by_size", False)
        for entry in group.get("aggregate_metric_list", [])
    )
    return "item-weighted mean over subtasks" if weighted else "macro mean over subtasks"


def item_outcome(task: str, sample: dict, output_type: str, primary_metric: str) -> ItemOutcome:
    metrics = plain({m: sample[m] for m in sample.get("metrics", []) if m in sample})
    score = metrics.get(primary_metric)
    fields: dict[str, Any] = {
        "task": task,
        "doc_id": sample["doc_id"],
        "filter": sample.get("filter"),
        "doc_hash": sample.get("doc_hash"),
        "prompt_hash": sample.get("prompt_hash"),
        "target": plain(sample.get("target")),
        "metrics": metrics,
        "score": float(score) if isinstance(score, (int, float)) else None,
    }
    if output_type in LOGLIKELIHOOD_TYPES:
        loglikelihoods = [float(resp[0]) for resp in sample["filtered_resps"]]
        fields["loglikelihoods"] = loglikelihoods
        fields["choice"] = max(range(len(loglikelihoods)), key=loglikelihoods.__getitem__)
    else:
        response = sample.get("filtered_resps")
        fields["response"] = plain(response[0] if isinstance(response, list) and response else response)
    if fields["score"] is not None:
        fields["correct"] = fields["score"] == 1.0
    return ItemOutcome(**fields)


def count_tokens(lm, samples: dict) -> int:
    """Tokens the model read or wrote: every request's context and continuation (or
    generated text), encoded by the model's own tokenizer. The shared-prefix scorer
    counts them in batched tokenizer calls (`token_lengths`); other LMs one at a time."""
    texts = [text for task_samples in samples.values() for sample in task_samples for text in request_texts(sample)]
    batched = getattr(lm, "token_lengths", None)
    return sum(batched(texts) if batched else (len(lm.tok_encode(text)) for text in texts))


def request_texts(sample: dict) -> Iterator[str]:
    """Each request's context plus continuation, or plus its generated text."""
    responses = sample.get("filtered_resps") or []
    for index, argument in enumerate(sample.get("arguments", [])):
        text = "".join(a for a in argument if isinstance(a, str)) if isinstance(argument, (list, tuple)) else ""
        if isinstance(responses, list) and index < len(responses) and isinstance(responses[index], str):
            text += responses[index]
        if text:
            yield text
