"""Sweeps: dry runs of the GPU configs, skip/resume/force, request cache, launchers."""

import pytest

from harness.config import compose_run
from harness.records import load_record
from harness.run import run
from harness.schema import parse_run_config
from tests.helpers import run_cli


@pytest.mark.slow
def test_dry_run_of_405b_configs_loads_nothing(tmp_path):
    result = run_cli(
        "model=[llama31_405b_instruct,llama31_405b_instruct_bf16]",
        "suite=llama31_flagship",
        "hardware=gpu8",
        "dry_run=true",
        f"results_dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert (
        "llama31_405b_instruct: backend=vllm, vLLM tensor parallel 8 x pipeline parallel 1; weights 405.0 GB" in out
        and "50.6 GB per device x 8; fits in 80 GB GPUs" in out
    )
    assert "llama31_405b_instruct_bf16: backend=vllm, vLLM tensor parallel 8 x pipeline parallel 2 over ray" in out
    assert "weights 810.0 GB (bfloat16), 50.6 GB per device x 16; NEEDS 16 GPUs, hardware 'gpu8' has 8" in out
    assert (
        "lm_eval --model vllm --model_args pretrained=meta-llama/Llama-3.1-405B-Instruct-FP8" in out
        and "--tasks gsm8k_cot_llama --num_fewshot 8 --apply_chat_template --fewshot_as_multiturn" in out
    )
    # Data this machine lacks is listed (a real run stops on it before loading), not fatal.
    assert "mmlu_0shot_cot: data not in the mirror, a real run needs the hub or a mirror with: " in out
    assert "hails/mmlu_no_train" in out
    assert not (tmp_path / "records").exists()


def test_dry_run_of_8b_and_70b():
    from harness.plan import describe

    one = describe(parse_run_config(compose_run("model=[llama31_8b_instruct]", "benchmark=[ifeval]", "hardware=gpu1")))
    assert "one cuda device; weights 16.0 GB (bfloat16), 16.0 GB per device x 1; fits in 80 GB GPUs" in one
    eight = describe(
        parse_run_config(compose_run("model=[llama31_70b_instruct]", "benchmark=[ifeval]", "hardware=gpu8"))
    )
    assert "accelerate sharding over 8 GPUs; weights 140.0 GB" in eight and "parallelize=True" in eight
    alone = describe(
        parse_run_config(compose_run("model=[llama31_70b_instruct]", "benchmark=[ifeval]", "hardware=gpu1"))
    )
    assert "140.0 GB per device x 1; DOES NOT FIT" in alone


def tiny_cfg(results, *extra):
    return parse_run_config(
        compose_run(
            "model=[tiny_random_llama]",
            "benchmark=[bbh_bigbench_mc,bbh_bigbench_mc_3shot]",
            "limit=2",
            f"results_dir={results}",
            *extra,
        )
    )


@pytest.mark.slow
def test_rerun_skips_finished_cells_without_loading_and_force_recomputes(tmp_path):
    first = run(tiny_cfg(tmp_path), {"id": "1"})
    assert len(first.written) == 2 and first.model_loads == 1
    again = run(tiny_cfg(tmp_path), {"id": "2"})
    assert again.written == [] and sorted(again.skipped) == sorted(first.written) and again.model_loads == 0
    forced = run(tiny_cfg(tmp_path, "force=true"), {"id": "3"})
    assert sorted(forced.written) == sorted(first.written) and forced.model_loads == 1


@pytest.mark.slow
def test_interrupted_sweep_resumes_only_the_missing_cell(tmp_path):
    first = run(tiny_cfg(tmp_path), {"id": "1"})
    lost = first.written[1]
    lost.unlink()  # as if the job died before this cell was written
    resumed = run(tiny_cfg(tmp_path), {"id": "2"})
    assert resumed.written == [lost] and resumed.skipped == [first.written[0]]


@pytest.mark.slow
def test_a_corrupt_record_is_recomputed(tmp_path):
    first = run(tiny_cfg(tmp_path), {"id": "1"})
    first.written[0].write_text("{")
    again = run(tiny_cfg(tmp_path), {"id": "2"})
    assert again.written == [first.written[0]] and load_record(first.written[0])


@pytest.mark.slow
def test_records_carry_throughput_and_memory(tmp_path):
    path = run(tiny_cfg(tmp_path), {"id": "1"}).written[0]
    record = load_record(path)
    assert record.schema_version == "1.3"
    assert record.throughput.items == 42 and record.throughput.tokens > 42 * 50
    assert record.throughput.items_per_second > 0 and record.memory.peak_rss_mb > 100


@pytest.mark.slow
def test_request_cache_is_one_file_per_model_fingerprint(tmp_path):
    cache = tmp_path / "cache"
    first = run(tiny_cfg(tmp_path / "a", "request_cache=true", f"cache_dir={cache}"), {"id": "1"})
    files = list((cache / "requests").iterdir())
    assert len(files) == 1 and files[0].name.endswith("_rank0.db")
    assert files[0].name.startswith(load_record(first.written[0]).model.fingerprint.value[:32])
    warm = run(tiny_cfg(tmp_path / "a", "request_cache=true", f"cache_dir={cache}", "force=true"), {"id": "2"})
    for cold_path, warm_path in zip(sorted(first.written), sorted(warm.written), strict=True):
        assert load_record(warm_path).scores == load_record(cold_path).scores
    other = run(
        tiny_cfg(tmp_path / "b", "request_cache=true", f"cache_dir={cache}", "model.tiny_random_llama.source.seed=7"),
        {"id": "3"},
    )
    assert other.written and len(list((cache / "requests").iterdir())) == 2


@pytest.mark.slow
def test_submitit_local_sweep_writes_the_same_records_as_the_basic_launcher(tmp_path):
    pytest.importorskip("hydra_plugins.hydra_submitit_launcher")
    common = ["limit=1", "benchmark=[bbh_bigbench_mc]"]
    basic = run_cli("model=[tiny_random_llama,smollm2_135m_instruct]", *common, f"results_dir={tmp_path}/basic")
    assert basic.returncode == 0, basic.stderr[-2000:]
    swept = run_cli(
        "-m",
        "hydra/launcher=local",
        "model=tiny_random_llama,smollm2_135m_instruct",
        *common,
        f"results_dir={tmp_path}/local",
        f"hydra.sweep.dir={tmp_path}/sweep",
    )
    assert swept.returncode == 0, swept.stderr[-2000:]

    def cells(root):
        return {
            (p.parent.parent.name, p.name): load_record(p).scores.primary.value
            for p in (root / "records").glob("*/*/*.json")
        }

    assert cells(tmp_path / "basic") == cells(tmp_path / "local") and len(cells(tmp_path / "basic")) == 2
