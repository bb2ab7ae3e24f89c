"""Shared fixtures: real runs whose records several tests read."""

from __future__ import annotations

import os

import pytest

from harness.config import compose_run
from tests.helpers import run_cli

# The hub is unreachable in CI: fail fast instead of retrying connections.
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """A real run: tiny random Llama x shipped BBH tasks (limit 3) through harness.run."""
    from harness.run import run
    from harness.schema import parse_run_config

    results = tmp_path_factory.mktemp("results")
    cfg = parse_run_config(
        compose_run("model=[tiny_random_llama]", "benchmark=[bbh_bigbench_mc]", "limit=3", f"results_dir={results}")
    )
    summary = run(cfg, {"id": "test"})
    assert not summary.failures, summary.failures
    return results, summary.written


@pytest.fixture(scope="session")
def packaged_run(tmp_path_factory):
    """Both packaged GGUF models on the shipped BBH substitute at limit=2, via the CLI."""
    results = tmp_path_factory.mktemp("packaged")
    result = run_cli("benchmark=[bbh_bigbench_mc]", "limit=2", f"results_dir={results}")
    assert result.returncode == 0, result.stderr[-3000:]
    return results, result
