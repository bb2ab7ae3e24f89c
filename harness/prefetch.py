"""`python -m harness.prefetch [model=...] [suite=...|benchmark=[...]] +out_dir=DIR`: on a
machine with internet, download what a run needs from the Hugging Face Hub, for air-gapped
nodes:

    DIR/hub/      the hub models (a Hugging Face cache)
    DIR/mirror/   the hub datasets of the chosen benchmarks that the shipped mirror lacks,
                  in the mirror layout (harness/mirror.py) with their sha256 and source

On the cluster: `HF_HUB_CACHE=DIR/hub HF_HUB_OFFLINE=1 python -m harness ... mirror_dir=DIR/mirror`.
Downloads go to DIR.partial, renamed to DIR only when all succeeded, so a failure leaves
nothing partial behind.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from harness import evaluate, mirror
from harness.schema import ConfigError, RunConfig


class PrefetchError(RuntimeError):
    """The hub could not be reached or a download failed; nothing was kept."""


def wanted(cfg: RunConfig) -> tuple[list, list]:
    """(repo id, revision) of hub models, and (hub dataset, config) pairs of the chosen
    benchmarks' tasks that the shipped mirror does not hold."""
    models = [(m.source.hub_id, m.source.revision or "main") for m in cfg.model.values() if m.source.kind == "hub"]
    shipped = mirror.Mirror()
    datasets = set()
    for bench in cfg.benchmark.values():
        if bench.local_data is not None:
            continue
        for task in bench.tasks:
            for config in evaluate.leaf_configs(task):
                config = {**config, **bench.task_overrides}
                if (
                    mirror.is_hub_dataset(config)
                    and shipped.lookup(config["dataset_path"], config.get("dataset_name")) is None
                ):
                    datasets.add((str(config["dataset_path"]), config.get("dataset_name")))
    return models, sorted(datasets, key=str)


def export_dataset(root: Path, manifest: dict, hub_id: str, dataset_name, splits, upstream: str, license: str) -> None:
    """Write a loaded `datasets.DatasetDict` (split -> rows) into the mirror layout."""
    config = mirror.config_name(dataset_name)
    files = {
        split: mirror.write_split(root, hub_id, config, split, mirror.jsonl_bytes(rows))
        for split, rows in splits.items()
    }
    mirror.add_dataset(
        manifest,
        hub_id,
        config,
        files,
        upstream,
        license,
        notes="fetched with datasets.load_dataset by harness.prefetch",
    )


def fetch_dataset(root: Path, manifest: dict, hub_id: str, dataset_name) -> None:
    import datasets
    from huggingface_hub import HfApi

    info = HfApi().dataset_info(hub_id)
    loaded = datasets.load_dataset(hub_id, dataset_name, revision=info.sha)
    license = (info.card_data or {}).get("license") if info.card_data else None
    export_dataset(
        root,
        manifest,
        hub_id,
        dataset_name,
        {split: loaded[split] for split in loaded},
        f"https://huggingface.co/datasets/{hub_id}@{info.sha}",
        str(license or "see the dataset card"),
    )


def prefetch(cfg: RunConfig, out_dir: Path) -> dict:
    if out_dir.exists():
        raise ConfigError(f"out_dir '{out_dir}' exists; choose a new directory")
    models, datasets = wanted(cfg)
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise PrefetchError(
            "HF_HUB_OFFLINE is set: prefetch needs the Hugging Face Hub; run it where the hub "
            "is reachable (unset HF_HUB_OFFLINE)"
        )
    from huggingface_hub import snapshot_download

    staging = out_dir.with_name(out_dir.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    manifest: dict = {}
    try:
        for repo, revision in models:
            snapshot_download(
                repo,
                revision=revision,
                cache_dir=staging / "hub",
                allow_patterns=["*.json", "*.safetensors", "tokenizer*", "*.model", "*.tiktoken"],
            )
        for hub_id, dataset_name in datasets:
            fetch_dataset(staging / "mirror", manifest, hub_id, dataset_name)
    except Exception as error:  # network, auth (gated repos) and disk errors all end the same way
        shutil.rmtree(staging, ignore_errors=True)
        raise PrefetchError(
            f"cannot download from the Hugging Face Hub ({type(error).__name__}: "
            f"{str(error).splitlines()[0][:200] if str(error) else ''}); nothing was kept. Run "
            f"prefetch where the hub is reachable and you are logged in for gated repos "
            f"(huggingface-cli login)"
        ) from None
    mirror.write_manifest(staging / "mirror", manifest)
    os.replace(staging, out_dir)
    return {"models": [f"{r}@{v}" for r, v in models], "datasets": [f"{p} ({n or 'default'})" for p, n in datasets]}


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
            fetched = prefetch(parse_run_config(cfg), out_dir)
        except (ConfigError, PrefetchError) as error:
            sys.exit(f"error: {error}")
        print(
            f"wrote {out_dir}: {len(fetched['models'])} models in {out_dir}/hub, {len(fetched['datasets'])} "
            f"datasets in {out_dir}/mirror; on the offline node: HF_HUB_CACHE={out_dir}/hub HF_HUB_OFFLINE=1 "
            f"python -m harness ... mirror_dir={out_dir}/mirror"
        )

    _main()


if __name__ == "__main__":
    main()
