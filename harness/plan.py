"""Planning: everything a cell needs, resolved once, before any model loads.

A benchmark is planned once per run (effective limit, task checks, the lm-eval task specs
and the data files with their sha256, one call into harness.localdata); a cell (model x
benchmark) adds the chat-template decision, the request cache, its content-addressed key
and its record paths. `dry_run=true` prints the plan (`describe`) and loads nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness import evaluate, localdata, records
from harness.hashing import sha256_json
from harness.mirror import Mirror
from harness.models import cache_root_for, lm_eval_model_args, with_resolved_dtype
from harness.provenance import versions
from harness.schema import BenchmarkConfig, HardwareConfig, ModelConfig, RunConfig

BYTES_PER_PARAM = {"float32": 4, "bfloat16": 2, "float16": 2, "auto": 2}
UNSCORED_FIELDS = ("display_name", "notes")  # change no score, so not in the cell key


@dataclass(frozen=True)
class BenchmarkPlan:
    name: str
    config: BenchmarkConfig
    limit: int | None  # effective items per task: the run's limit, else the benchmark's
    data: localdata.BenchmarkData  # lm-eval task specs and the data files' sha256


@dataclass(frozen=True)
class CellPlan:
    model_name: str
    model: ModelConfig
    fingerprint: dict  # which weights (harness.models.source_fingerprint)
    benchmark: BenchmarkPlan
    chat_template: bool
    seed: int
    bootstrap_iters: int
    request_cache: str | None  # lm-eval request cache path prefix, one per model fingerprint
    key: str
    record_path: Path
    items_path: Path


def check_unsafe_code(name: str, bench: BenchmarkConfig) -> None:
    """Tasks that execute model-written code run only when the config says so, and only
    in harness.sandbox (our shipped tasks) unless isolation is explicitly waived."""
    from harness.sandbox import isolation_available

    unsafe = [(task, leaf) for task in bench.tasks for leaf in evaluate.unsafe_leaves(task)]
    if not unsafe:
        return
    if not bench.confirm_run_unsafe_code:
        raise evaluate.BenchmarkError(
            f"benchmark '{name}' executes model-written code; to allow it set "
            f"benchmark.{name}.confirm_run_unsafe_code=true (programs run in harness.sandbox)"
        )
    outside = [leaf for task, leaf in unsafe if not evaluate.is_shipped(task)]
    if outside and not bench.sandbox_accept_unisolated:
        raise evaluate.BenchmarkError(
            f"benchmark '{name}': lm-eval's task '{outside[0]}' runs code with lm-eval's own "
            f"executor, outside harness.sandbox; use humaneval_offline, or set "
            f"benchmark.{name}.sandbox_accept_unisolated=true"
        )
    available, why = isolation_available()
    if not available and not bench.sandbox_accept_unisolated:
        raise evaluate.BenchmarkError(
            f"benchmark '{name}': cannot isolate generated code here ({why}); run as root or set "
            f"benchmark.{name}.sandbox_accept_unisolated=true to run it with network"
        )


def plan_benchmark(name: str, bench: BenchmarkConfig, cfg: RunConfig, require_data: bool = True) -> BenchmarkPlan:
    """Check a benchmark and resolve its data; fails before any model loads (a dry run,
    `require_data=False`, lists the hub datasets it would need instead)."""
    if bench.local_data is None:
        evaluate.check_tasks_exist(name, bench.tasks)
    check_unsafe_code(name, bench)
    limit = cfg.limit if cfg.limit is not None else bench.limit
    data = localdata.benchmark_data(name, bench, Mirror.for_run(cfg.mirror_dir), require=require_data)
    return BenchmarkPlan(name, bench, limit, data)


def plan_benchmarks(cfg: RunConfig, require_data: bool = True) -> list[BenchmarkPlan]:
    return [plan_benchmark(name, bench, cfg, require_data) for name, bench in cfg.benchmark.items()]


def chat_template_for(model: ModelConfig, bench: BenchmarkConfig) -> bool:
    """The benchmark's setting decides (published settings fix it); else the model's."""
    if bench.apply_chat_template is not None:
        return bench.apply_chat_template
    return model.apply_chat_template


def cell_key(fingerprint: dict, model: ModelConfig, bench: BenchmarkPlan, chat: bool, seed: int) -> str:
    """Everything that can change a cell's scores; the harness counts by its release
    version (bump it when scoring changes), not by git commit. `model` has its dtype
    resolved for the hardware (a bf16 run of `dtype: auto` is not a float32 one)."""
    scored_model = model.model_dump(exclude=set(UNSCORED_FIELDS))
    scored_bench = bench.config.model_dump(exclude={*UNSCORED_FIELDS, "limit"})
    return sha256_json(
        {
            "model": fingerprint,
            "model_settings": scored_model,
            "benchmark": scored_bench,
            "limit": bench.limit,
            "seed": seed,
            "chat": chat,
            "task_files": bench.data.files,
            "lm_eval": versions().get("lm_eval"),
            "harness": versions().get("harness"),
        }
    )


def plan_cell(model_name: str, fingerprint: dict, bench: BenchmarkPlan, cfg: RunConfig) -> CellPlan:
    model = cfg.model[model_name]
    chat = chat_template_for(model, bench.config)
    key = cell_key(fingerprint, with_resolved_dtype(model, cfg.hardware), bench, chat, cfg.seed)
    record_path, items_path = records.record_paths(Path(cfg.results_dir), model_name, bench.name, key)
    # One cache file per model: lm-eval's own request-cache key ignores the model.
    cache = cache_root_for(cfg.cache_dir) / "requests" / fingerprint["value"][:32] if cfg.request_cache else None
    return CellPlan(
        model_name=model_name,
        model=model,
        fingerprint=fingerprint,
        benchmark=bench,
        chat_template=chat,
        seed=cfg.seed,
        bootstrap_iters=cfg.bootstrap_iters,
        request_cache=str(cache) if cache else None,
        key=key,
        record_path=record_path,
        items_path=items_path,
    )


# ---------------------------------------------------------------- dry run


def weights_gb(model: ModelConfig) -> float | None:
    """Weights in memory, GB (1e9 bytes). FP8 releases hold 1 byte a parameter; GGUF files
    are dequantized to the configured dtype before they run."""
    if model.params_b is None:
        return None
    per_param = 1 if "FP8" in (model.quantization or "") else BYTES_PER_PARAM[model.dtype]
    return model.params_b * per_param


def devices_used(model: ModelConfig, hardware: HardwareConfig) -> int:
    if model.backend == "vllm":
        return model.tensor_parallel_size * model.pipeline_parallel_size
    return max(hardware.num_gpus, 1) if model.parallelize else 1


def parallelism(model: ModelConfig, hardware: HardwareConfig) -> str:
    if model.backend == "vllm":
        text = f"vLLM tensor parallel {model.tensor_parallel_size} x pipeline parallel {model.pipeline_parallel_size}"
        return text + (f" over {model.vllm_executor}" if model.vllm_executor else "")
    if model.parallelize:
        return f"accelerate sharding over {hardware.num_gpus} GPUs"
    return f"one {hardware.device} device"


def fit(model: ModelConfig, hardware: HardwareConfig) -> str:
    total = weights_gb(model)
    if total is None:
        return "weights: unknown size"
    used = devices_used(model, hardware)
    per_device = total / used
    quantization = f", {model.quantization}" if model.quantization else ""
    text = f"weights {total:.1f} GB ({model.dtype}{quantization}), {per_device:.1f} GB per device x {used}"
    if hardware.device == "cuda" and hardware.gpu_memory_gb:
        available = hardware.num_gpus * hardware.slurm.nodes
        if used > available:
            return text + f"; NEEDS {used} GPUs, hardware '{hardware.name}' has {available}"
        verdict = "fits" if per_device < 0.9 * hardware.gpu_memory_gb else "DOES NOT FIT"
        return text + f"; {verdict} in {hardware.gpu_memory_gb:.0f} GB GPUs (90% for weights, rest for KV cache)"
    return text


def lm_eval_command(model: ModelConfig, bench: BenchmarkPlan, hardware: HardwareConfig, seed: int) -> str:
    kind, args = lm_eval_model_args(model, hardware)
    if model.source.kind not in ("hub", "local"):
        kind, args = (
            "hf",
            {"pretrained": f"<{model.source.kind}: loaded by harness.models>", "batch_size": model.batch_size},
        )
    config = bench.config
    parts = [
        f"lm_eval --model {kind}",
        "--model_args " + ",".join(f"{k}={v}" for k, v in args.items()),
        f"--tasks {','.join(config.tasks)}",
    ]
    if config.num_fewshot is not None:
        parts.append(f"--num_fewshot {config.num_fewshot}")
    if chat_template_for(model, config):
        parts.append("--apply_chat_template" + (" --fewshot_as_multiturn" if config.fewshot_as_multiturn else ""))
    if bench.limit is not None:
        parts.append(f"--limit {bench.limit}")
    if config.confirm_run_unsafe_code:
        parts.append("--confirm_run_unsafe_code")
    note = (
        "  # harness: scorer=prefix_shared (same loglikelihoods, each context run once)"
        if kind == "hf" and model.scorer == "prefix_shared"
        else ""
    )
    return " ".join(parts + [f"--seed {seed}"]) + note


def describe(cfg: RunConfig) -> str:
    # A dry run plans GPU sweeps from machines that may lack their data (a login node):
    # it says which hub datasets a real run would need, instead of stopping.
    benchmarks = plan_benchmarks(cfg, require_data=False)
    lines = [
        f"{bench.name}: data not in the mirror, a real run needs the hub or a mirror with: "
        + ", ".join(sorted(set(bench.data.sources.hub.values())))
        for bench in benchmarks
        if bench.data.sources.hub
    ]
    for name, model in cfg.model.items():
        lines.append(f"{name}: backend={model.backend}, {parallelism(model, cfg.hardware)}; {fit(model, cfg.hardware)}")
        for bench in benchmarks:
            lines.append(f"  {bench.name}: {lm_eval_command(model, bench, cfg.hardware, cfg.seed)}")
    return "\n".join(lines)
