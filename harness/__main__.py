"""`python -m harness [overrides]`: compose configs/run.yaml with Hydra and run it."""
from __future__ import annotations

import logging
import sys
import uuid
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from harness import CONFIG_DIR
from harness.evaluate import BenchmarkError
from harness.localdata import DataError
from harness.plan import describe
from harness.run import RunSummary, run, score_table
from harness.schema import ConfigError, parse_run_config


def run_info() -> dict:
    hydra_cfg = HydraConfig.get()
    return {"id": uuid.uuid4().hex[:12], "argv": sys.argv[1:],
            "overrides": list(hydra_cfg.overrides.task),
            "choices": {k: v for k, v in OmegaConf.to_container(hydra_cfg.runtime.choices).items()
                        if not k.startswith("hydra")},
            "hydra_output_dir": hydra_cfg.runtime.output_dir}


def report(summary: RunSummary) -> None:
    if summary.written or summary.skipped:
        print(score_table(summary.written + summary.skipped))
    print(f"{len(summary.written)} cells computed, {len(summary.skipped)} already done, "
          f"{summary.model_loads} model loads", file=sys.stderr)
    for model, bench, message in summary.failures:
        print(f"FAILED {model}{' x ' + bench if bench else ''}: {message}", file=sys.stderr)


GROUPS = ("model", "benchmark", "suite", "hardware")


def config_dirs(overrides: list[str]) -> list[Path]:
    """configs/ plus directories added with hydra.searchpath=[file:///...] (your own
    model or benchmark files outside the checkout)."""
    dirs = [CONFIG_DIR]
    for override in overrides:
        key, _, value = override.partition("=")
        if key == "hydra.searchpath":
            dirs += [Path(item.strip().removeprefix("file://")) for item in value.strip("[]").split(",")
                     if item.strip().startswith("file://")]
    return dirs


def unknown_choice(overrides: list[str]) -> str | None:
    """Hydra reports an unknown option inside a list (model=[a,b]) without the valid
    names; check group choices first so every such error lists them."""
    for override in overrides:
        group, _, value = override.lstrip("+~").partition("=")
        if group not in GROUPS or not value:
            continue
        valid = sorted({path.stem for root in config_dirs(overrides) for path in (root / group).glob("*.yaml")})
        for name in value.strip("[]").split(","):
            if name.strip() and name.strip() not in valid:
                return f"unknown {group} '{name.strip()}' (valid: {', '.join(valid)})"
    return None


@hydra.main(config_path=str(CONFIG_DIR), config_name="run", version_base="1.3")
def run_hydra(cfg: DictConfig) -> None:
    # lm-eval logs every task build at INFO; its progress bars stay.
    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    try:
        run_cfg = parse_run_config(cfg)
        if run_cfg.dry_run:
            print(describe(run_cfg))
            return
        summary = run(run_cfg, run_info())
    except (ConfigError, BenchmarkError, DataError) as error:
        sys.exit(f"error: {error}")
    report(summary)
    if summary.failures:
        sys.exit(1)


def main() -> None:
    problem = unknown_choice(sys.argv[1:])
    if problem:
        sys.exit(f"error: {problem}")
    run_hydra()


if __name__ == "__main__":
    main()
