"""Helpers the tests share (fixtures stay in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OFFLINE_ENV = {**os.environ, "HF_HUB_OFFLINE": "1"}  # the hub is unreachable in CI: fail fast
# The text fields every claim file must have, as placeholders for claims built in tests.
CLAIM_TEXT = {"statement": {"original": "x"}, "said_by": "x", "where": "x", "when": "x", "semantics": "x"}


def run_cli(*args: str, timeout: int = 900, module: str = "harness") -> subprocess.CompletedProcess:
    """`python -m harness ...` in a fresh process, as a user types it."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=OFFLINE_ENV,
    )
