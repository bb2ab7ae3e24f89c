"""How many items a published number rests on, keyed by (benchmark, subset), with sources
(benchmark_items.yaml beside this module). Unknown -> the row is shown but untestable."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import yaml
from pydantic import BaseModel, ConfigDict

ITEMS_FILE = Path(__file__).with_name("benchmark_items.yaml")


class ItemCount(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    benchmark: str
    aliases: list[str] = []
    subset: Optional[str] = None
    n: Optional[int] = None
    clusters: Optional[str] = None
    source: Optional[str] = None
    reason: Optional[str] = None


@dataclass(frozen=True)
class Lookup:
    n: Optional[int]
    why: str  # the source of n, or why there is none


@lru_cache(maxsize=1)
def item_counts() -> tuple[ItemCount, ...]:
    return tuple(ItemCount(**row) for row in yaml.safe_load(ITEMS_FILE.read_text()))


def items_for(benchmark: str, subset: str | None) -> Lookup:
    known = [c for c in item_counts() if benchmark == c.benchmark or benchmark in c.aliases]
    if not known:
        return Lookup(None, f"no item count known for {benchmark}")
    match = next((c for c in known if c.subset == subset), None)
    if match is None:
        options = ", ".join(f"{c.subset or 'standard test set'} {c.n}" for c in known)
        stated = f"subset '{subset}'" if subset else "no subset"
        return Lookup(None, f"{benchmark}: the cell names {stated}, and the counts differ by subset ({options})")
    if match.n is None:
        return Lookup(None, match.reason or "no item count")
    clusters = f"; items cluster ({match.clusters})" if match.clusters else ""
    return Lookup(match.n, f"{match.source}{clusters}")
