"""Typed configs for every Hydra group, and their validation.

Hydra composes plain YAML; `parse_run_config` turns the composed config into these
dataclasses. An unknown key or a wrong type fails with one line naming the key and
the allowed ones, before anything is loaded or written.
"""
from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Any, Optional, Union

from omegaconf import DictConfig, OmegaConf

SOURCE_KINDS = ("hub", "local", "gguf_package", "random_init")
BACKENDS = ("hf", "vllm")
SCORERS = ("prefix_shared", "hflm")
DTYPES = ("auto", "float32", "bfloat16", "float16")


class ConfigError(ValueError):
    """A config that cannot run; the message says what to fix."""


@dataclass
class ModelSource:
    kind: str = "hub"                     # one of SOURCE_KINDS
    hub_id: Optional[str] = None          # hub: "meta-llama/Llama-3.1-8B-Instruct"
    revision: Optional[str] = None        # hub: a commit sha pins the weights
    path: Optional[str] = None            # local: a directory with config + safetensors
    package: Optional[str] = None         # gguf_package: importable package holding the file
    file: Optional[str] = None            # gguf_package: GGUF file name inside it
    assembler: Optional[str] = None       # gguf_package: function in the package that writes the file
    extra: Optional[str] = None           # pip extra that installs the package
    upstream: Optional[str] = None        # the hub model the file was converted from
    random_config: dict = field(default_factory=dict)  # random_init: LlamaConfig kwargs
    seed: int = 0                         # random_init: torch seed for the weights


@dataclass
class ModelConfig:
    display_name: str = ""
    family: str = ""                      # llama, qwen, mistral, gemma, deepseek, smollm2
    generation: str = ""                  # "Llama 3.1", "Qwen2.5", ...
    variant: str = "base"                 # base | instruct
    params_b: Optional[float] = None      # billions of parameters
    source: ModelSource = field(default_factory=ModelSource)
    quantization: Optional[str] = None    # e.g. GGUF Q4_1; None = full precision
    dtype: str = "auto"
    backend: str = "hf"
    scorer: str = "prefix_shared"         # hf loglikelihoods: harness.scorer, or lm-eval's HFLM
    batch_size: Any = 1                   # int or "auto"
    max_batch_size: int = 64
    max_length: Optional[int] = None
    apply_chat_template: bool = False     # default when the benchmark does not decide
    trust_remote_code: bool = False
    allow_pickle: bool = False            # load .bin/.pt (pickle) weights; safetensors/GGUF only by default
    parallelize: bool = False             # accelerate sharding across the node's GPUs
    tensor_parallel_size: int = 1         # vllm
    pipeline_parallel_size: int = 1       # vllm
    gpu_memory_utilization: float = 0.9   # vllm
    vllm_executor: Optional[str] = None   # vllm: "ray" to span several nodes (pipeline parallel)


@dataclass
class BenchmarkConfig:
    display_name: str = ""
    tasks: list = field(default_factory=list)   # lm-eval task or group names
    num_fewshot: Optional[int] = None           # None = the task's own default
    apply_chat_template: Optional[bool] = None  # None = the model's default
    fewshot_as_multiturn: bool = False
    cot: bool = False                           # chain-of-thought prompt
    gen_kwargs: Optional[dict] = None
    primary_metric: str = "acc"                 # lm-eval metric name, e.g. acc, exact_match
    metric_filter: str = "none"                 # lm-eval filter, e.g. strict-match
    published_as: Optional[str] = None          # benchmark name in published tables
    limit: Optional[int] = None                 # items per task; None = all
    offline: bool = False                       # data ships with the project
    confirm_run_unsafe_code: bool = False      # run model-written code (in harness.sandbox)
    sandbox_accept_unisolated: bool = False    # ...even where it cannot be isolated from network/files
    local_data: Optional[dict] = None           # your own files: see harness/localdata.py
    dataset_dir: Optional[str] = None           # run the hub task on a local copy of its data
    task_overrides: dict = field(default_factory=dict)  # set on every lm-eval task config, e.g. {dataset_name: ...}
    notes: str = ""


@dataclass
class SlurmConfig:
    partition: Optional[str] = None
    nodes: int = 1
    gpus_per_node: int = 0
    cpus_per_task: int = 2
    mem_gb: int = 16
    timeout_min: int = 60


@dataclass
class HardwareConfig:
    name: str = "cpu"
    device: str = "cpu"                   # cpu | cuda
    num_gpus: int = 0
    gpu_type: Optional[str] = None
    gpu_memory_gb: Optional[float] = None
    torch_threads: Optional[int] = None   # None = torch's default
    scorer_memory_mb: int = 2048          # KV cache + logits the prefix-shared scorer holds at once
    slurm: SlurmConfig = field(default_factory=SlurmConfig)


@dataclass
class RunConfig:
    model: dict = field(default_factory=dict)       # name -> ModelConfig
    benchmark: dict = field(default_factory=dict)   # name -> BenchmarkConfig
    hardware: HardwareConfig = field(default_factory=HardwareConfig)
    suite: str = ""
    limit: Optional[int] = None           # overrides every benchmark's limit
    results_dir: str = "results"
    seed: int = 1234
    bootstrap_iters: int = 1000
    cache_dir: Optional[str] = None       # GGUF dequant cache; None = ~/.cache/claim-harness
    force: bool = False                   # recompute cells that already have a record
    dry_run: bool = False                 # print what each cell would run; load nothing
    request_cache: bool = False           # lm-eval request cache, one file per model fingerprint
    mirror_dir: Optional[str] = None      # hub-dataset mirror read before the shipped one (harness/mirror.py)


def _allowed(cls) -> str:
    return ", ".join(f.name for f in dataclasses.fields(cls))


def _check_type(value: Any, annotation: Any, where: str) -> None:
    """Reject a value whose type does not match a dataclass field annotation."""
    hint = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if hint is Union:
        if value is None and type(None) in args:
            return
        annotation = next(a for a in args if a is not type(None))
    if annotation is Any:
        return
    expected = {int: int, float: (int, float), str: str, bool: bool, list: list, dict: dict}.get(annotation)
    if expected is None:
        return
    if isinstance(value, bool) and annotation in (int, float):
        raise ConfigError(f"{where}: expected {annotation.__name__}, got {value!r}")
    if not isinstance(value, expected):
        raise ConfigError(f"{where}: expected {getattr(annotation, '__name__', annotation)}, got {value!r}")


def build(cls, data: Any, where: str):
    """Build dataclass `cls` from a plain dict, recursing into nested dataclasses."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping of {cls.__name__} fields, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key '{unknown[0]}' (allowed: {_allowed(cls)})")
    values = {}
    for key, value in data.items():
        annotation = hints[key]
        if dataclasses.is_dataclass(annotation):
            values[key] = build(annotation, value, f"{where}.{key}")
        else:
            _check_type(value, annotation, f"{where}.{key}")
            values[key] = value
    return cls(**values)


def _check_choice(value: str, allowed: tuple, where: str) -> None:
    if value not in allowed:
        raise ConfigError(f"{where}: '{value}' is not one of {', '.join(allowed)}")


def validate_model(name: str, model: ModelConfig) -> ModelConfig:
    where = f"model.{name}"
    _check_choice(model.source.kind, SOURCE_KINDS, f"{where}.source.kind")
    _check_choice(model.backend, BACKENDS, f"{where}.backend")
    _check_choice(model.scorer, SCORERS, f"{where}.scorer")
    _check_choice(model.dtype, DTYPES, f"{where}.dtype")
    needed = {"hub": "hub_id", "local": "path", "gguf_package": "package", "random_init": "random_config"}
    if not getattr(model.source, needed[model.source.kind]):
        raise ConfigError(f"{where}.source.{needed[model.source.kind]} is required for kind '{model.source.kind}'")
    if not (model.batch_size == "auto" or isinstance(model.batch_size, int) and model.batch_size > 0):
        raise ConfigError(f"{where}.batch_size: expected a positive int or 'auto', got {model.batch_size!r}")
    return model


def validate_benchmark(name: str, bench: BenchmarkConfig) -> BenchmarkConfig:
    where = f"benchmark.{name}"
    if bench.local_data is not None:
        from harness.localdata import LocalData
        bench.local_data = build(LocalData, bench.local_data, f"{where}.local_data")
        bench.tasks = bench.tasks or [name]
    if not bench.tasks:
        raise ConfigError(f"{where}.tasks: list at least one lm-eval task")
    if bench.limit is not None and bench.limit <= 0:
        raise ConfigError(f"{where}.limit: must be a positive number of items, got {bench.limit}")
    return bench


def parse_run_config(cfg: DictConfig | dict) -> RunConfig:
    data = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    data = {k: v for k, v in data.items() if k != "hydra"}
    run = build(RunConfig, data, "config")
    if not run.model:
        raise ConfigError("config.model: choose at least one model, e.g. model=[smollm2_135m_instruct]")
    if not run.benchmark:
        raise ConfigError("config.benchmark: choose a suite or benchmarks, e.g. suite=cpu_smoke")
    if run.limit is not None and run.limit <= 0:
        raise ConfigError(f"config.limit: must be a positive number of items, got {run.limit}")
    run.model = {n: validate_model(n, build(ModelConfig, m, f"model.{n}")) for n, m in run.model.items()}
    run.benchmark = {n: validate_benchmark(n, build(BenchmarkConfig, b, f"benchmark.{n}"))
                     for n, b in run.benchmark.items()}
    return run


def to_dict(config) -> dict:
    return dataclasses.asdict(config)
