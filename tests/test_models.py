"""Model loading: fingerprints, the GGUF cache, and clear errors."""

import time

import pytest

from harness.config import compose_run
from harness.models import ModelLoadError, byte_level_tokenizer, cpu_has_fast_bf16, load_model, with_resolved_dtype
from harness.schema import parse_run_config


def model_cfg(name, *overrides):
    cfg = parse_run_config(compose_run(f"model=[{name}]", *overrides))
    return cfg.model[name], cfg.hardware


def test_byte_level_tokenizer_round_trips_any_text():
    tokenizer = byte_level_tokenizer()
    text = "Héllo, wörld! 42\n\tend"
    assert tokenizer.decode(tokenizer(text)["input_ids"]) == text


@pytest.mark.slow
def test_tiny_random_llama_is_deterministic():
    cfg, hardware = model_cfg("tiny_random_llama")
    first = load_model("tiny_random_llama", cfg, hardware)
    second = load_model("tiny_random_llama", cfg, hardware)
    assert first.fingerprint == second.fingerprint
    assert first.info["num_parameters"] < 100_000


def test_missing_packaged_model_names_the_extra_to_install():
    cfg, hardware = model_cfg("smollm2_135m_instruct", "model.smollm2_135m_instruct.source.package=not_installed_pkg")
    with pytest.raises(ModelLoadError, match=r"needs the package 'not_installed_pkg': pip install -e '\.\[cpu\]'"):
        load_model("smollm2_135m_instruct", cfg, hardware)


def test_hub_model_offline_fails_with_the_repo_id_and_hf_hub_offline():
    cfg, hardware = model_cfg("llama31_8b_instruct", "hardware=cpu")
    with pytest.raises(ModelLoadError, match=r"meta-llama/Llama-3\.1-8B-Instruct@main .*HF_HUB_OFFLINE=1"):
        load_model("llama31_8b_instruct", cfg, hardware)


def test_local_directory_without_a_model_is_rejected(tmp_path):
    cfg, hardware = model_cfg(
        "tiny_random_llama",
        "model.tiny_random_llama.source.kind=local",
        f"+model.tiny_random_llama.source.path={tmp_path}",
    )
    with pytest.raises(ModelLoadError, match="has no config.json"):
        load_model("tiny_random_llama", cfg, hardware)


@pytest.mark.slow
def test_packaged_gguf_is_cached_and_reloads_fast(tmp_path):
    """SmolLM2's GGUF dequantizes once; the second load reads safetensors."""
    cfg, hardware = model_cfg("smollm2_135m_instruct")
    first = load_model("smollm2_135m_instruct", cfg, hardware, cache_dir=str(tmp_path))
    started = time.time()
    second = load_model("smollm2_135m_instruct", cfg, hardware, cache_dir=str(tmp_path))
    reload_seconds = time.time() - started
    assert first.fingerprint == second.fingerprint and first.fingerprint["kind"] == "gguf_sha256"
    dtype = with_resolved_dtype(cfg, hardware).dtype  # dtype auto: bfloat16 or float32, by CPU
    assert (tmp_path / "gguf" / first.fingerprint["value"] / dtype / "model.safetensors").is_file()
    assert second.info["dequantized_cache"] == first.info["dequantized_cache"]
    assert reload_seconds < first.info["load_seconds"]
    assert type(second.lm.model).__name__ == "LlamaForCausalLM"


@pytest.mark.slow
def test_dtype_auto_on_cpu_is_bf16_exactly_where_the_cpu_has_it():
    cfg, hardware = model_cfg("tiny_random_llama", "model.tiny_random_llama.dtype=auto")
    loaded = load_model("tiny_random_llama", cfg, hardware)
    expected = "bfloat16" if cpu_has_fast_bf16() else "float32"
    assert loaded.info["dtype_used"] == expected == str(loaded.lm.model.dtype).removeprefix("torch.")
    assert "dtype auto on a CPU" in loaded.info["dtype_reason"]
    assert with_resolved_dtype(cfg, hardware).dtype == expected and cfg.dtype == "auto"


@pytest.mark.slow
def test_float32_override_is_used_as_written():
    cfg, hardware = model_cfg("tiny_random_llama", "model.tiny_random_llama.dtype=float32")
    loaded = load_model("tiny_random_llama", cfg, hardware)
    assert loaded.info["dtype_used"] == "float32"
    assert loaded.info["dtype_reason"] == "set in the model config"


@pytest.mark.skipif(not cpu_has_fast_bf16(), reason="this CPU runs dtype auto in float32")
def test_cell_key_tells_auto_bf16_from_float32(tmp_path):
    from harness.plan import plan_benchmarks, plan_cell
    from harness.schema import parse_run_config

    keys = {}
    for dtype in ("auto", "bfloat16", "float32"):
        cfg = parse_run_config(
            compose_run(
                "model=[tiny_random_llama]", f"model.tiny_random_llama.dtype={dtype}", f"results_dir={tmp_path}"
            )
        )
        bench = plan_benchmarks(cfg)[0]
        keys[dtype] = plan_cell("tiny_random_llama", {"kind": "random_init", "value": "x"}, bench, cfg).key
    assert keys["auto"] == keys["bfloat16"] != keys["float32"]
