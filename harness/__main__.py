"""`python -m harness [overrides]`: compose configs/run.yaml with Hydra and run it."""
from __future__ import annotations

import logging
import sys
import uuid

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, OmegaConf

from harness import CONFIG_DIR
from harness.evaluate import BenchmarkError
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
    if summary.written:
        print(score_table(summary.written))
    for model, bench, message in summary.failures:
        print(f"FAILED {model}{' x ' + bench if bench else ''}: {message}", file=sys.stderr)


@hydra.main(config_path=str(CONFIG_DIR), config_name="run", version_base="1.3")
def main(cfg: DictConfig) -> None:
    # lm-eval logs every task build at INFO; its progress bars stay.
    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    try:
        summary = run(parse_run_config(cfg), run_info())
    except (ConfigError, BenchmarkError) as error:
        sys.exit(f"error: {error}")
    report(summary)
    if summary.failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
