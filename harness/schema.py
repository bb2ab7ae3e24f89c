"""Typed configs for every Hydra group, and their validation.

Hydra composes plain YAML; `parse_run_config` validates the composed config against
these pydantic models. An unknown key or a wrong type fails with one line naming the
field's path (and for an unknown key the allowed ones), before anything is loaded or
written.
"""

from __future__ import annotations

from typing import Any, Literal, Optional, Union

from omegaconf import DictConfig, OmegaConf
from pydantic import (
    Field,
    PositiveInt,
    ValidationError,
    model_validator,
)

from harness.typed import Strict, one_line

SourceKind = Literal["hub", "local", "gguf_package", "random_init"]
NEEDED_FOR_KIND = {"hub": "hub_id", "local": "path", "gguf_package": "package", "random_init": "random_config"}


class ConfigError(ValueError):
    """A config that cannot run; the message says what to fix."""


class LocalData(Strict):
    """Your own benchmark files (harness/localdata.py checks and loads them)."""

    path: str = ""  # a file, or a directory with one file per split
    test_split: str = "test"  # split scored (a single file is this split)
    fewshot_split: Optional[str] = None  # split the few-shot examples come from
    output_type: Literal["multiple_choice", "generate_until"] = "multiple_choice"
    id_field: Optional[str] = None  # unique per row, checked when given
    question_field: str = "question"  # multiple_choice: the question
    context_field: Optional[str] = None  # optional passage shown before the question
    choices_field: Union[str, list[str]] = "choices"  # a list column, or a list of column names
    answer_field: str = "answer"  # index into the choices, or the choice text
    prompt_field: str = "prompt"  # generate_until: the prompt
    target_field: str = "target"  # generate_until: the expected answer
    prompt_template: Optional[str] = None  # Jinja over the fields; default "{context}\n{question}\nAnswer:"
    answer_regex: Optional[str] = None  # generate_until: extract the answer, e.g. "#### (-?[0-9.,]+)"
    target_delimiter: str = " "  # between prompt and choice/target (lm-eval's default)
    stop: list[str] = Field(default_factory=lambda: ["\n\n"])
    max_gen_toks: int = 64


class ModelSource(Strict):
    kind: SourceKind = "hub"
    hub_id: Optional[str] = None  # hub: "meta-llama/Llama-3.1-8B-Instruct"
    revision: Optional[str] = None  # hub: a commit sha pins the weights
    path: Optional[str] = None  # local: a directory with config + safetensors
    package: Optional[str] = None  # gguf_package: importable package holding the file
    file: Optional[str] = None  # gguf_package: GGUF file name inside it
    assembler: Optional[str] = None  # gguf_package: function in the package that writes the file
    extra: Optional[str] = None  # pip extra that installs the package
    upstream: Optional[str] = None  # the hub model the file was converted from
    random_config: dict[str, Any] = Field(default_factory=dict)  # random_init: LlamaConfig kwargs
    seed: int = 0  # random_init: torch seed for the weights

    @model_validator(mode="after")
    def _kind_has_its_field(self):
        needed = NEEDED_FOR_KIND[self.kind]
        if not getattr(self, needed):
            raise ValueError(f"{needed} is required for kind '{self.kind}'")
        return self


class ModelConfig(Strict):
    display_name: str = ""
    family: str = ""  # llama, qwen, mistral, gemma, deepseek, smollm2
    generation: str = ""  # "Llama 3.1", "Qwen2.5", ...
    variant: str = "base"  # base | instruct
    params_b: Optional[float] = None  # billions of parameters
    source: ModelSource
    quantization: Optional[str] = None  # e.g. GGUF Q4_1; None = full precision
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    backend: Literal["hf", "vllm"] = "hf"
    scorer: Literal["prefix_shared", "hflm"] = "prefix_shared"  # hf loglikelihoods: harness.scorer or HFLM
    batch_size: Union[PositiveInt, Literal["auto"]] = 1
    max_batch_size: int = 64
    max_length: Optional[int] = None
    apply_chat_template: bool = False  # default when the benchmark does not decide
    trust_remote_code: bool = False
    allow_pickle: bool = False  # load .bin/.pt (pickle) weights; safetensors/GGUF only by default
    parallelize: bool = False  # accelerate sharding across the node's GPUs
    tensor_parallel_size: int = 1  # vllm
    pipeline_parallel_size: int = 1  # vllm
    gpu_memory_utilization: float = 0.9  # vllm
    vllm_executor: Optional[str] = None  # vllm: "ray" to span several nodes (pipeline parallel)


class BenchmarkConfig(Strict):
    display_name: str = ""
    tasks: list[str] = Field(default_factory=list)  # lm-eval task or group names
    num_fewshot: Optional[int] = None  # None = the task's own default
    apply_chat_template: Optional[bool] = None  # None = the model's default
    fewshot_as_multiturn: bool = False
    cot: bool = False  # chain-of-thought prompt
    gen_kwargs: Optional[dict[str, Any]] = None
    primary_metric: str = "acc"  # lm-eval metric name, e.g. acc, exact_match
    metric_filter: str = "none"  # lm-eval filter, e.g. strict-match
    published_as: Optional[str] = None  # benchmark name in published tables
    limit: Optional[PositiveInt] = None  # items per task; None = all
    offline: bool = False  # data ships with the project
    confirm_run_unsafe_code: bool = False  # run model-written code (in harness.sandbox)
    sandbox_accept_unisolated: bool = False  # ...even where it cannot be isolated from network/files
    local_data: Optional[LocalData] = None  # your own files: see harness/localdata.py
    task_overrides: dict[str, Any] = Field(
        default_factory=dict
    )  # set on every lm-eval task config, e.g. {dataset_name: ...}
    notes: str = ""

    @model_validator(mode="after")
    def _has_tasks(self):
        if not self.tasks and self.local_data is None:  # a local benchmark is one task named after it
            raise ValueError("tasks: list at least one lm-eval task")
        return self


class SlurmConfig(Strict):
    partition: Optional[str] = None
    nodes: int = 1
    gpus_per_node: int = 0
    cpus_per_task: int = 2
    mem_gb: int = 16
    timeout_min: int = 60


class HardwareConfig(Strict):
    name: str = "cpu"
    device: Literal["cpu", "cuda"] = "cpu"
    num_gpus: int = 0
    gpu_type: Optional[str] = None
    gpu_memory_gb: Optional[float] = None
    torch_threads: Optional[int] = None  # None = torch's default
    scorer_memory_mb: int = 2048  # KV cache + logits the prefix-shared scorer holds at once
    slurm: SlurmConfig = Field(default_factory=SlurmConfig)


class RunConfig(Strict):
    model: dict[str, ModelConfig] = Field(default_factory=dict)
    benchmark: dict[str, BenchmarkConfig] = Field(default_factory=dict)
    hardware: HardwareConfig = Field(default_factory=HardwareConfig)
    suite: str = ""
    limit: Optional[PositiveInt] = None  # overrides every benchmark's limit
    results_dir: str = "results"
    seed: int = 1234
    bootstrap_iters: int = 1000
    cache_dir: Optional[str] = None  # GGUF dequant cache; None = ~/.cache/claim-harness
    force: bool = False  # recompute cells that already have a record
    dry_run: bool = False  # print what each cell would run; load nothing
    request_cache: bool = False  # lm-eval request cache, one file per model fingerprint
    mirror_dir: Optional[str] = None  # hub-dataset mirror read before the shipped one (harness/mirror.py)

    @model_validator(mode="after")
    def _something_to_run(self):
        if not self.model:
            raise ValueError("choose at least one model, e.g. model=[smollm2_135m_instruct]")
        if not self.benchmark:
            raise ValueError("choose a suite or benchmarks, e.g. suite=cpu_smoke")
        for name, bench in self.benchmark.items():
            bench.tasks = bench.tasks or [name]  # a local benchmark is one task named after it
        return self


def parse_run_config(cfg: DictConfig | dict) -> RunConfig:
    data = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else dict(cfg)
    data = {k: v for k, v in data.items() if k != "hydra"}
    try:
        return RunConfig.model_validate(data)
    except ValidationError as error:
        raise ConfigError(one_line(error, RunConfig, "config")) from None
