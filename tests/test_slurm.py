"""Sweeps through a real Slurm cluster (slurmctld, slurmd, slurmdbd, munged on localhost,
started once per session by tests/slurm_cluster.py): one job per model, records written,
reruns that submit nothing, a cancelled job resumed, a failed job reported, and the
hardware config's resources as Slurm sees them."""

from __future__ import annotations

import functools
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.slurm_cluster import GPUS, PARTITION, SlurmCluster, require_slurm

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    require_slurm()
    cluster = SlurmCluster(tmp_path_factory.mktemp("slurm"))
    try:
        yield cluster.start()
    finally:
        cluster.stop()


def sweep(cluster: SlurmCluster, tmp_path: Path, *overrides: str, wait: bool = True):
    """`python -m harness -m hydra/launcher=slurm ...` as a user types it, on this cluster."""
    command = [
        sys.executable,
        "-m",
        "harness",
        "-m",
        "hydra/launcher=slurm",
        f"results_dir={tmp_path / 'results'}",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
        *overrides,
    ]
    if not wait:
        return subprocess.Popen(
            command, cwd=REPO, env=cluster.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    return subprocess.run(command, check=False, cwd=REPO, env=cluster.env, capture_output=True, text=True, timeout=900)


def records(tmp_path: Path) -> dict[tuple[str, str], float]:
    """(model, benchmark) -> the record file's mtime."""
    return {
        (p.parent.parent.name, p.parent.name): p.stat().st_mtime_ns
        for p in (tmp_path / "results" / "records").glob("*/*/*.json")
    }


def job_log(tmp_path: Path, job_id: str) -> Path:
    """The job's stderr, where the harness logs (submitit's folder layout under the sweep dir)."""
    return tmp_path / "sweep" / ".submitit" / job_id / f"{job_id}_0_log.err"


def new_jobs(cluster: SlurmCluster, before: dict[str, str]) -> dict[str, str]:
    """Jobs submitted since `before` -> how they ended. The launcher returns once a job's
    result file exists, so Slurm may still show the job RUNNING for a moment: wait for it."""
    for _ in range(120):
        jobs = {job: state for job, state in cluster.sacct().items() if job not in before}
        if not {"PENDING", "RUNNING", "COMPLETING"} & set(jobs.values()):
            return jobs
        time.sleep(0.5)
    raise AssertionError(f"jobs still running a minute after the launcher returned: {jobs}")


def write_config(root: Path, group: str, name: str, text: str) -> str:
    (root / group).mkdir(parents=True, exist_ok=True)
    (root / group / f"{name}.yaml").write_text(text)
    return f"hydra.searchpath=[file://{root}]"


def bbh_subtask(configs: Path) -> str:
    """One shipped BBH subtask (hyperbaton: two short choices) as a benchmark: a cell of a
    few seconds for a packaged model, not BBH's 21 subtasks."""
    return write_config(
        configs,
        "benchmark",
        "bbh_hyperbaton",
        "bbh_hyperbaton:\n  tasks: [bbh_bb_hyperbaton]\n  num_fewshot: 0\n  primary_metric: acc\n  limit: 200\n",
    )


def corrupt_model(configs: Path, tmp_path: Path) -> Path:
    """A model config whose weights directory cannot load: its job fails at load time."""
    weights = tmp_path / "corrupt"
    weights.mkdir()
    (weights / "config.json").write_text('{"model_type": "llama"}')
    (weights / "model.safetensors").write_bytes(b"\0not safetensors" * 64)
    write_config(
        configs, "model", "corrupt_weights", f"corrupt_weights:\n  source:\n    kind: local\n    path: {weights}\n"
    )
    return weights


def two_item_quiz(configs: Path, tmp_path: Path) -> None:
    """A benchmark of our own data (JSONL) that costs a model one second: a cheap first cell."""
    data = tmp_path / "quiz.jsonl"
    data.write_text(
        '{"question": "2 + 2 =", "choices": ["3", "4"], "answer": 1}\n'
        '{"question": "The sky on a clear day is", "choices": ["blue", "green"], "answer": 0}\n'
    )
    write_config(configs, "benchmark", "quiz", f"quiz:\n  primary_metric: acc\n  local_data:\n    path: {data}\n")


def piqa_slice(configs: Path) -> str:
    """lm-eval's PIQA from the shipped mirror, first 100 items: seconds for SmolLM2 (task
    build + 200 requests), long enough that a scancel sent when the cell starts lands inside it."""
    return write_config(
        configs,
        "benchmark",
        "piqa_slice",
        "piqa_slice:\n  tasks: [piqa]\n  num_fewshot: 0\n  primary_metric: acc_norm\n  limit: 100\n",
    )


def wait_for_log(cluster: SlurmCluster, path: Path, line: str) -> None:
    cluster.wait_for(lambda: path.is_file() and line in path.read_text(), f"'{line}' in {path}", timeout=600, every=0.1)


@pytest.mark.slow
def test_sweep_submits_one_job_per_model_and_a_rerun_submits_nothing(slurm, tmp_path):
    models = ["smollm2_135m_instruct", "gemma3_270m"]
    cells = [bbh_subtask(tmp_path / "configs"), "model=" + ",".join(models), "benchmark=[bbh_hyperbaton]", "limit=2"]
    before = slurm.sacct()
    first = sweep(slurm, tmp_path, *cells)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]

    jobs = new_jobs(slurm, before)
    assert sorted(jobs.values()) == ["COMPLETED", "COMPLETED"], jobs
    written = records(tmp_path)
    assert sorted(written) == [(model, "bbh_hyperbaton") for model in sorted(models)]
    for job in jobs:  # each job loaded its one model once and computed its one cell
        log = job_log(tmp_path, job).read_text()
        assert log.count(" harness.run] loading ") == 1 and "1 cells computed, 0 already done, 1 model loads" in log

    again = sweep(slurm, tmp_path, *cells)
    assert again.returncode == 0, again.stderr[-3000:]
    assert (again.stdout + again.stderr).count("every cell has a record, no job submitted") == 2
    assert new_jobs(slurm, before) == jobs and records(tmp_path) == written


@pytest.mark.slow
def test_failed_and_cancelled_jobs_are_reported_and_the_rerun_computes_only_the_missing_cells(slurm, tmp_path):
    # Each job asks for the node's 2 CPUs, so the array's tasks run one after the other:
    # the corrupt model's job fails, the tiny model's completes, then SmolLM2's is cancelled
    # after its quiz cell, as its PIQA cell starts. The harness turns scancel's SIGTERM into
    # an immediate stop (submitit alone would let it compute until SIGKILL), so that cell
    # has no record and the rerun computes exactly it.
    configs = tmp_path / "configs"
    weights = corrupt_model(configs, tmp_path)
    two_item_quiz(configs, tmp_path)
    searchpath = piqa_slice(configs)
    cells = ["benchmark=[quiz,piqa_slice]"]
    before = slurm.sacct()
    running = sweep(
        slurm, tmp_path, searchpath, "model=corrupt_weights,tiny_random_llama,smollm2_135m_instruct", *cells, wait=False
    )
    log = functools.partial(job_log, tmp_path)
    try:
        slurm.wait_for(
            lambda: any(j.endswith("_2") for j in set(slurm.sacct()) - set(before)), "SmolLM2's job", timeout=600
        )
        cancelled = next(job for job in slurm.sacct() if job not in before and job.endswith("_2"))
        wait_for_log(slurm, log(cancelled), "smollm2_135m_instruct x piqa_slice: evaluating")
        slurm.run("scancel", cancelled)
        output = running.communicate(timeout=600)[0]
    finally:
        running.kill()
    failed, completed = cancelled.replace("_2", "_0"), cancelled.replace("_2", "_1")
    jobs = new_jobs(slurm, before)
    assert jobs == {failed: "FAILED", completed: "COMPLETED", cancelled: "CANCELLED"}, output[-3000:]
    assert running.returncode != 0 and "error: 2 of 3 jobs did not complete" in output
    assert (
        (
            f"job {failed} (model=corrupt_weights) ended FAILED: corrupt_weights: model 'corrupt_weights': "
            f"cannot load {weights}"
        )
        in output
        and f"log: {log(failed)}" in output
        and log(failed).is_file()
    )
    assert (
        f"job {cancelled} (model=smollm2_135m_instruct) ended CANCELLED" in output
        and f"log: {log(cancelled)}" in output
    )
    wait_for_log(slurm, log(cancelled), "stopped by SIGTERM during smollm2_135m_instruct x piqa_slice")
    kept = records(tmp_path)
    assert sorted(kept) == [
        ("smollm2_135m_instruct", "quiz"),
        ("tiny_random_llama", "piqa_slice"),
        ("tiny_random_llama", "quiz"),
    ]

    resumed = sweep(slurm, tmp_path, searchpath, "model=tiny_random_llama,smollm2_135m_instruct", *cells)
    assert resumed.returncode == 0, resumed.stdout[-2000:] + resumed.stderr[-3000:]
    assert "model=tiny_random_llama: every cell has a record, no job submitted" in resumed.stdout + resumed.stderr
    (rerun,) = set(new_jobs(slurm, before)) - set(jobs)
    assert slurm.sacct()[rerun] == "COMPLETED"
    assert "1 cells computed, 1 already done, 1 model loads" in job_log(tmp_path, rerun).read_text()
    after = records(tmp_path)
    assert {cell: after[cell] for cell in kept} == kept  # finished cells untouched
    assert ("smollm2_135m_instruct", "piqa_slice") in after


@pytest.mark.slow
def test_hardware_config_sets_the_jobs_slurm_resources(slurm, tmp_path):
    searchpath = write_config(
        tmp_path / "configs",
        "hardware",
        "slurm_probe",
        "\n".join(
            [
                "name: slurm_probe",
                "device: cpu",
                "slurm:",
                f"  partition: {PARTITION}",
                "  nodes: 1",
                f"  gpus_per_node: {GPUS}",
                "  cpus_per_task: 1",
                "  mem_gb: 3",
                "  timeout_min: 7",
                "",
            ]
        ),
    )
    before = slurm.sacct()
    result = sweep(
        slurm,
        tmp_path,
        searchpath,
        "hardware=slurm_probe",
        "model=tiny_random_llama",
        "benchmark=[bbh_bigbench_mc]",
        "limit=1",
        "dry_run=true",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    (job,) = new_jobs(slurm, before)
    shown = slurm.show_job(job)
    assert shown["JobState"] == "COMPLETED" and shown["Partition"] == PARTITION
    assert shown["NumNodes"] == "1" and shown["CPUs/Task"] == "1" and shown["MinMemoryNode"] == "3G"
    assert shown["TimeLimit"] == "00:07:00" and shown["TresPerNode"] == f"gres:gpu:{GPUS}"
