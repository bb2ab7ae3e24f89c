"""The wheel, as a cluster user installs it: built from the checkout, installed (not
editable) into a fresh venv, run from a directory outside the checkout."""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from tests.helpers import OFFLINE_ENV, REPO


def build_wheel(tmp: Path) -> Path:
    """From a copy of the sources, so no build/ or egg-info lands in (or leaks from) the checkout."""
    source = tmp / "source"
    shutil.copytree(
        REPO,
        source,
        symlinks=True,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "build", "*.egg-info", "__pycache__", "results", "outputs", "multirun", "test-artifacts"
        ),
    )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp / "dist"),
            str(source),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return next((tmp / "dist").glob("claim_harness-*.whl"))


def fresh_venv(root: Path) -> Path:
    """A venv without the harness whose dependencies come from this environment: its
    site-packages joins sys.path through a .pth line, which (unlike a site dir) does not
    run that environment's .pth files, so the editable install of the checkout stays out."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()] or [sysconfig.get_paths()["purelib"]]
    (Path(purelib) / "deps-from-the-test-environment.pth").write_text("\n".join(deps) + "\n")
    return python


@pytest.mark.slow
def test_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {
        "harness/_configs/run.yaml",
        "harness/_configs/model/tiny_random_llama.yaml",
        "harness/schemas/record.schema.json",
        "harness/tasks/bigbench_bbh/SOURCE.json",
    } <= names

    python = fresh_venv(tmp_path / "venv")
    # --no-index: every declared dependency must already be installed; nothing is downloaded
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def harness(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(python.parent / "harness"), *args],
            cwd=elsewhere,
            capture_output=True,
            text=True,
            env={**OFFLINE_ENV, "PYTHONPATH": ""},
            timeout=600,
        )

    where = subprocess.run(
        [str(python), "-c", "import harness; print(harness.__file__, harness.CONFIG_DIR)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(tmp_path / "venv") in where and str(REPO) not in where

    listed = harness("list", "models")
    assert listed.returncode == 0 and "tiny_random_llama" in listed.stdout, listed.stderr[-2000:]

    ran = harness("model=[tiny_random_llama]", "benchmark=[bbh_bigbench_mc]", "limit=1", "results_dir=results")
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert "tiny_random_llama" in ran.stdout and "(n=21, acc)" in ran.stdout
    [record_path] = (elsewhere / "results" / "records").glob("tiny_random_llama/bbh_bigbench_mc/*.json")
    record = json.loads(record_path.read_text())
    assert record["versions"]["harness"] == "0.1.0" and record["versions"]["harness_git_sha"] is None
    assert not list(elsewhere.glob("*.log"))
