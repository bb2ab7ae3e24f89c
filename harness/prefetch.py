"""`python -m harness.prefetch [model=...] [suite=...] out_dir=DIR`: on a machine with
internet, download the hub models and hub datasets a run needs into one directory (a
Hugging Face cache) to copy to air-gapped GPU nodes; there, set HF_HUB_CACHE=DIR/hub and
HF_HUB_OFFLINE=1. Downloads go to DIR.partial, renamed to DIR only when all succeeded,
so a failure leaves nothing partial behind.
"""
from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from harness import evaluate
from harness.schema import ConfigError, RunConfig


class PrefetchError(RuntimeError):
    """The hub could not be reached or a download failed; nothing was kept."""


def wanted(cfg: RunConfig) -> tuple[list, list]:
    """(repo id, revision) of hub models, and hub dataset repos of the chosen benchmarks."""
    models = [(m.source.hub_id, m.source.revision or "main") for m in cfg.model.values() if m.source.kind == "hub"]
    datasets = set()
    for bench in cfg.benchmark.values():
        if bench.local_data is not None or bench.dataset_dir:
            continue
        for task in bench.tasks:
            for config in evaluate.leaf_configs(task):
                path = str(config.get("dataset_path") or "")
                if "/" in path and not Path(path).exists():
                    datasets.add(path)
    return models, sorted(datasets)


def prefetch(cfg: RunConfig, out_dir: Path) -> dict:
    if out_dir.exists():
        raise ConfigError(f"out_dir '{out_dir}' exists; choose a new directory")
    models, datasets = wanted(cfg)
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise PrefetchError("HF_HUB_OFFLINE is set: prefetch needs the Hugging Face Hub; run it where the hub "
                            "is reachable (unset HF_HUB_OFFLINE)")
    from huggingface_hub import snapshot_download

    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for repo, revision in models:
            snapshot_download(repo, revision=revision, cache_dir=staging / "hub",
                              allow_patterns=["*.json", "*.safetensors", "tokenizer*", "*.model", "*.tiktoken"])
        for repo in datasets:
            snapshot_download(repo, repo_type="dataset", cache_dir=staging / "hub")
    except Exception as error:  # network, auth (gated repos) and disk errors all end the same way
        shutil.rmtree(staging, ignore_errors=True)
        raise PrefetchError(f"cannot download from the Hugging Face Hub ({type(error).__name__}: "
                            f"{str(error).splitlines()[0][:200]}); nothing was kept. Run prefetch where the hub is "
                            f"reachable and you are logged in for gated repos (huggingface-cli login)") from None
    manifest = {"models": [f"{r}@{v}" for r, v in models], "datasets": datasets}
    (staging / "MANIFEST.json").write_text(json.dumps(manifest, indent=2))
    os.replace(staging, out_dir)
    return manifest


def main() -> None:
    import hydra
    from omegaconf import DictConfig, open_dict

    from harness import CONFIG_DIR
    from harness.schema import parse_run_config

    @hydra.main(config_path=str(CONFIG_DIR), config_name="run", version_base="1.3")
    def _main(cfg: DictConfig) -> None:
        with open_dict(cfg):
            out_dir = Path(cfg.pop("out_dir", None) or "prefetch")
        try:
            manifest = prefetch(parse_run_config(cfg), out_dir)
        except (ConfigError, PrefetchError) as error:
            sys.exit(f"error: {error}")
        print(f"wrote {out_dir}: {len(manifest['models'])} models, {len(manifest['datasets'])} datasets")

    _main()


if __name__ == "__main__":
    main()
