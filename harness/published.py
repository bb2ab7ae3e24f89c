"""Published benchmark numbers with provenance, loaded from configs/published/*.yaml.

Each table file holds entries copied from a public source (scripts/import_published.py).
Loading validates every entry; lookups fail with a message that lists what exists.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from harness import CONFIG_DIR

PUBLISHED_DIR = CONFIG_DIR / "published"


class PublishedError(ValueError):
    """A published-score file that is malformed, or a lookup that matches nothing."""


@dataclass(frozen=True)
class Published:
    table: str
    model: str
    benchmark: str
    setting: str
    value: float
    reported_by: str | None
    evaluator: str
    self_reported: bool | None
    source: dict
    quote_line: str | None
    footnote: str | None

    @property
    def citation(self) -> str:
        source = self.source
        where = source.get("url") or source.get("document", "")
        if source.get("repo"):
            where = f"{source['repo']}@{source.get('commit', '?')[:10]}:{source.get('path', '')}"
        return f"{self.table} ({where})"

    def parsed_setting(self) -> dict:
        return parse_setting(self.setting)


def parse_setting(setting: str) -> dict:
    """Shots and CoT from a printed setting; a table footnote overrides the column's setting."""
    footnote = re.search(r"\[table footnote [^:]*:\s*([^\]]+)\]", setting)
    text = footnote.group(1) if footnote else setting
    shots = re.search(r"(\d+)-shot", text)
    lowered = text.lower()
    cot = None
    if "cot" in lowered:
        cot = not ("no cot" in lowered or "without cot" in lowered)
    elif footnote and "without" in lowered:
        cot = False
    return {"shots": int(shots.group(1)) if shots else None, "cot": cot, "text": text.strip()}


def _entry(table: dict, raw: dict, path: Path, index: int) -> Published:
    where = f"{path.name} entry {index}"
    for key in ("model", "benchmark", "setting", "value", "source"):
        if key not in raw:
            raise PublishedError(f"{where}: missing '{key}'")
    if not isinstance(raw["value"], (int, float)) or isinstance(raw["value"], bool):
        raise PublishedError(f"{where}: value {raw['value']!r} is not a number")
    if not (raw["source"].get("url") or raw["source"].get("document")):
        raise PublishedError(f"{where}: source needs a url or a document")
    return Published(table=table["table"], model=raw["model"], benchmark=raw["benchmark"],
                     setting=raw["setting"], value=float(raw["value"]), reported_by=table.get("reported_by"),
                     evaluator=raw.get("evaluator") or "unknown", self_reported=raw.get("self_reported"),
                     source=raw["source"], quote_line=raw.get("quote_line"), footnote=raw.get("footnote"))


@lru_cache(maxsize=4)
def load_all(directory: Path = PUBLISHED_DIR) -> tuple[Published, ...]:
    entries = []
    for path in sorted(Path(directory).glob("*.yaml")):
        try:
            table = yaml.safe_load(path.read_text())
        except yaml.YAMLError as error:
            raise PublishedError(f"{path}: not valid YAML ({error})") from None
        if not isinstance(table, dict) or "table" not in table or not isinstance(table.get("entries"), list):
            raise PublishedError(f"{path}: expected a mapping with 'table' and a list of 'entries'")
        entries += [_entry(table, raw, path, i) for i, raw in enumerate(table["entries"])]
    return tuple(entries)


def find(table: str, model: str, benchmark: str | None = None, setting: str | None = None,
         entries: tuple[Published, ...] | None = None) -> list[Published]:
    """Entries of one table for one model (optionally one benchmark / setting substring)."""
    entries = entries if entries is not None else load_all()
    in_table = [e for e in entries if e.table == table]
    if not in_table:
        tables = sorted({e.table for e in entries})
        raise PublishedError(f"no published table '{table}' (known: {'; '.join(tables)})")
    rows = [e for e in in_table if e.model == model]
    if not rows:
        raise PublishedError(f"table '{table}' has no model '{model}' "
                             f"(it has: {', '.join(sorted({e.model for e in in_table}))})")
    if benchmark is not None:
        rows = [e for e in rows if e.benchmark == benchmark]
    if setting is not None:
        rows = [e for e in rows if setting in e.setting]
    if not rows:
        raise PublishedError(f"table '{table}' has no '{benchmark}'{f' ({setting})' if setting else ''} "
                             f"score for '{model}'")
    return rows
