"""`python -m harness.verify [claims=...]`: judge claims, write results/verdicts/<claim>.json."""

from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf
from tabulate import tabulate

from harness import CONFIG_DIR, atomic
from harness.claims import judge, load_claims
from harness.provenance import versions
from harness.published import PublishedError, load_all
from harness.records import RecordError, iter_records, load_items
from harness.schema import ConfigError

VERDICT_SCHEMA = "2.1"  # 2.0: typed verdict (rival, why, sensitivity, proxy, power per row); 2.1: card
# reproduction rows judged by a stated tolerance (quantifier `reproduces`), superseded fallback rows


def readable_records(results_dir: Path) -> list[tuple[Path, dict]]:
    """Valid records; each unreadable one is named on stderr and skipped."""
    good = []
    for path, record in iter_records(results_dir):
        if isinstance(record, RecordError):
            print(f"[verify] skipped: {record}", file=sys.stderr)
        else:
            good.append((path, record))
    return good


def verify(names: list[str] | None, results_dir: Path, iterations: int) -> list[dict]:
    claims = load_claims(names)
    entries = load_all()
    records = readable_records(results_dir)
    verdicts = []
    for claim in claims:
        verdict = judge(claim, records, entries, load_items, iterations).model_copy(
            update={
                "schema_version": VERDICT_SCHEMA,
                "kind": "claim-harness/verdict",
                "judged_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "versions": versions(),
            }
        )
        atomic.write_json(results_dir / "verdicts" / f"{claim.id}.json", verdict.dump())
        verdicts.append(verdict.dump())
    return verdicts


def claim_list(value) -> list[str] | None:
    if value in (None, "all"):
        return None
    return [value] if isinstance(value, str) else list(value)


@hydra.main(config_path=str(CONFIG_DIR), config_name="verify", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        names = claim_list(OmegaConf.to_object(cfg.claims) if OmegaConf.is_config(cfg.claims) else cfg.claims)
        verdicts = verify(names, Path(cfg.results_dir), int(cfg.bootstrap_iters))
    except (ConfigError, PublishedError, RecordError) as error:
        sys.exit(f"error: {error}")
    rows = [[v.get("label", ""), v["claim"], v["verdict"].upper(), v["why"][:140]] for v in verdicts]
    print(tabulate(rows, headers=["", "claim", "verdict", "why"], tablefmt="simple"))


if __name__ == "__main__":
    main()
