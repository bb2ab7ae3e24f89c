"""`dry_run=true`: what every cell would run, on what, and whether it fits; loads nothing."""
from __future__ import annotations

from harness.evaluate import chat_template_for
from harness.models import lm_eval_model_args
from harness.schema import BenchmarkConfig, HardwareConfig, ModelConfig, RunConfig

BYTES_PER_PARAM = {"float32": 4, "bfloat16": 2, "float16": 2, "auto": 2}


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
    text = f"weights {total:.1f} GB ({model.dtype}{', ' + model.quantization if model.quantization else ''}), {per_device:.1f} GB per device x {used}"
    if hardware.device == "cuda" and hardware.gpu_memory_gb:
        available = hardware.num_gpus * hardware.slurm.nodes
        if used > available:
            return text + f"; NEEDS {used} GPUs, hardware '{hardware.name}' has {available}"
        verdict = "fits" if per_device < 0.9 * hardware.gpu_memory_gb else "DOES NOT FIT"
        return text + f"; {verdict} in {hardware.gpu_memory_gb:.0f} GB GPUs (90% for weights, rest for KV cache)"
    return text


def lm_eval_command(model: ModelConfig, bench: BenchmarkConfig, hardware: HardwareConfig, limit, seed: int) -> str:
    kind, args = lm_eval_model_args(model, hardware)
    if model.source.kind not in ("hub", "local"):
        kind, args = "hf", {"pretrained": f"<{model.source.kind}: loaded by harness.models>",
                            "batch_size": model.batch_size}
    parts = [f"lm_eval --model {kind}", "--model_args " + ",".join(f"{k}={v}" for k, v in args.items()),
             f"--tasks {','.join(bench.tasks)}"]
    if bench.num_fewshot is not None:
        parts.append(f"--num_fewshot {bench.num_fewshot}")
    if chat_template_for(model, bench):
        parts.append("--apply_chat_template" + (" --fewshot_as_multiturn" if bench.fewshot_as_multiturn else ""))
    if limit is not None:
        parts.append(f"--limit {limit}")
    if bench.confirm_run_unsafe_code:
        parts.append("--confirm_run_unsafe_code")
    note = "  # harness: scorer=prefix_shared (same loglikelihoods, each context run once)" \
        if kind == "hf" and model.scorer == "prefix_shared" else ""
    return " ".join(parts + [f"--seed {seed}"]) + note


def describe(cfg: RunConfig) -> str:
    lines = []
    for name, model in cfg.model.items():
        lines.append(f"{name}: backend={model.backend}, {parallelism(model, cfg.hardware)}; {fit(model, cfg.hardware)}")
        for bench_name, bench in cfg.benchmark.items():
            limit = cfg.limit if cfg.limit is not None else bench.limit
            lines.append(f"  {bench_name}: {lm_eval_command(model, bench, cfg.hardware, limit, cfg.seed)}")
    return "\n".join(lines)
