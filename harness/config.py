"""Compose configs/run.yaml with overrides outside the command line (tests, scripts)."""

from __future__ import annotations

from hydra import compose, initialize_config_dir

from harness import CONFIG_DIR


def compose_run(*overrides: str):
    """The DictConfig `python -m harness <overrides>` would run (before validation)."""
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
        return compose("run", overrides=list(overrides))
