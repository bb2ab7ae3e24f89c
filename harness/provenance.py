"""What ran where: package versions, harness git state, and the hardware."""

from __future__ import annotations

import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from harness.schema import HardwareConfig

REPO_DIR = Path(__file__).resolve().parents[1]
CODE_PATHS = ("harness", "configs", "scripts", "pyproject.toml")
TRACKED_PACKAGES = (
    "lm_eval",
    "transformers",
    "torch",
    "accelerate",
    "datasets",
    "hydra-core",
    "tokenizers",
    "safetensors",
    "gguf",
    "vllm",
)


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _git(*args: str) -> str | None:
    if not (REPO_DIR / ".git").exists():  # an installed wheel: no checkout to describe
        return None
    try:
        return subprocess.run(
            ["git", "-C", str(REPO_DIR), *args], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


@lru_cache(maxsize=1)
def versions() -> dict:
    # Only the code and configs that make a score count; results/ changes are not "dirty".
    status = _git("status", "--porcelain", "--untracked-files=no", "--", *CODE_PATHS)
    return {
        "harness": package_version("claim-harness"),
        "harness_git_sha": _git("rev-parse", "HEAD"),
        "harness_git_dirty": bool(status) if status is not None else None,
        **{name: package_version(name) for name in TRACKED_PACKAGES},
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware_facts(hardware: HardwareConfig) -> dict:
    import os

    import torch

    gpus = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    return {
        "config": hardware.name,
        "device": hardware.device,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "gpus": gpus,
        "hostname": platform.node(),
    }


def peak_memory() -> dict:
    import resource

    import torch

    gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    return {
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_gpu_allocated_mb": round(gpu, 1) if gpu is not None else None,
        "note": "RSS is the process peak so far (all cells of this job)",
    }
