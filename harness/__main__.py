"""`python -m harness [overrides]`: compose configs/run.yaml with Hydra and run it."""

from __future__ import annotations

import logging
import sys
import uuid
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import DictConfig, OmegaConf

from harness import CONFIG_DIR
from harness.evaluate import BenchmarkError
from harness.localdata import DataError
from harness.mirror import MirrorError
from harness.plan import describe
from harness.run import RunSummary, StopRequested, run, score_table
from harness.schema import ConfigError, parse_run_config

GROUPS = ("model", "benchmark", "suite", "hardware")
log = logging.getLogger("harness")


def run_info() -> dict:
    hydra_cfg = HydraConfig.get()
    choices = OmegaConf.to_container(hydra_cfg.runtime.choices)
    return {
        "id": uuid.uuid4().hex[:12],
        "argv": sys.argv[1:],
        "overrides": list(hydra_cfg.overrides.task),
        "choices": {k: v for k, v in choices.items() if not k.startswith("hydra")},
        "hydra_output_dir": hydra_cfg.runtime.output_dir,
    }


def report(summary: RunSummary) -> None:
    if summary.written or summary.skipped:
        print(score_table(summary.written + summary.skipped))
    log.info(
        "%d cells computed, %d already done, %d model loads",
        len(summary.written),
        len(summary.skipped),
        summary.model_loads,
    )
    for model, bench, message in summary.failures:
        log.error("FAILED %s%s: %s", model, " x " + bench if bench else "", message)


def _values(override) -> list[str]:
    """Every name an override chooses: `a`, `[a,b]`, or a sweep `a,b` (-m)."""
    values = list(override.sweep_iterator()) if override.is_discrete_sweep() else [override.value()]
    flat = [v for value in values for v in (value if isinstance(value, list) else [value])]
    return [str(v) for v in flat if v is not None]


def config_dirs(overrides: list) -> list[Path]:
    """configs/ plus directories added with hydra.searchpath=[file:///...] (your own
    model or benchmark files outside the checkout)."""
    extra = [o for o in overrides if o.key_or_group == "hydra.searchpath"]
    return [CONFIG_DIR] + [
        Path(v.removeprefix("file://")) for o in extra for v in _values(o) if v.startswith("file://")
    ]


def unknown_choice(args: list[str]) -> str | None:
    """Hydra reports an unknown option inside a list (model=[a,b]) without the valid
    names; check group choices first so every such error lists them."""
    try:
        overrides = OverridesParser.create().parse_overrides([a for a in args if "=" in a and not a.startswith("-")])
    except HydraException:
        return None  # Hydra itself reports the syntax error
    for override in overrides:
        if override.key_or_group not in GROUPS or override.is_delete():
            continue
        valid = sorted(
            {p.stem for root in config_dirs(overrides) for p in (root / override.key_or_group).glob("*.yaml")}
        )
        for name in _values(override):
            if name not in valid:
                return f"unknown {override.key_or_group} '{name}' (valid: {', '.join(valid)})"
    return None


@hydra.main(config_path=str(CONFIG_DIR), config_name="run", version_base="1.3")
def run_hydra(cfg: DictConfig) -> None:
    try:
        run_cfg = parse_run_config(cfg)
        if run_cfg.dry_run:
            print(describe(run_cfg))
            return
        summary = run(run_cfg, run_info())
    except (ConfigError, BenchmarkError, DataError, MirrorError) as error:
        sys.exit(f"error: {error}")
    except StopRequested:
        print(
            "error: stopped by SIGTERM; finished cells keep their records, rerun to compute the rest", file=sys.stderr
        )
        sys.exit(128 + 15)  # the shell's code for death by SIGTERM
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
