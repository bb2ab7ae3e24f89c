"""Claims as data: configs/claim/<id>.yaml -> a validated Claim."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from harness import CONFIG_DIR
from harness.claims.model import Claim
from harness.schema import ConfigError
from harness.typed import one_line

CLAIM_DIR = CONFIG_DIR / "claim"


def load_claim(path: Path) -> Claim:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"{path}: not valid YAML ({error})") from None
    try:
        return Claim(id=path.stem, **(data or {}))
    except ValidationError as error:
        raise ConfigError(f"claim {path.stem}: {one_line(error, Claim)}") from None


def claim_names() -> list[str]:
    return sorted(path.stem for path in CLAIM_DIR.glob("*.yaml"))


def load_claims(names: list[str] | None = None) -> list[Claim]:
    known = claim_names()
    for name in names or []:
        if name not in known:
            raise ConfigError(f"unknown claim '{name}' (valid: {', '.join(known)})")
    return [load_claim(CLAIM_DIR / f"{name}.yaml") for name in (names or known)]
