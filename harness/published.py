"""Published benchmark numbers with provenance, loaded from configs/published/*.yaml.

Each table file holds entries copied from a public source (scripts/import_published.py).
Every entry is one *cell* of a source table and carries that cell's own setup (shots, CoT,
prompt, subset, metric) and who produced the number (evaluator), because cells of one row
can differ: "GSM8K 8-shot CoT" with a rival cell run 0-shot. Loading validates every entry
(pydantic, unknown keys refused); lookups fail with a message that lists what exists.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Optional

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from harness import CONFIG_DIR
from harness.typed import one_line

PUBLISHED_DIR = CONFIG_DIR / "published"


class PublishedError(ValueError):
    """A published-score file that is malformed, or a lookup that matches nothing."""


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    document: Optional[str] = None
    url: Optional[str] = None
    repo: Optional[str] = None
    path: Optional[str] = None
    commit: Optional[str] = None
    commit_date: Optional[str] = None


class CellSetup(BaseModel):
    """How one cell's number was produced; None = the source does not say."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    shots: Optional[int] = None
    cot: Optional[bool] = None
    prompt: Optional[str] = None
    subset: Optional[str] = None
    metric: Optional[str] = None
    # The evaluation harness that produced the number ("lighteval", "lm-eval"). A difference is
    # a parity warning, not a mismatch: reproduction claims state a tolerance for exactly that.
    harness: Optional[str] = None

    def label(self) -> str:
        parts = [
            f"{self.shots}-shot" if self.shots is not None else "",
            {True: "CoT", False: "no CoT"}.get(self.cot, ""),
            self.prompt or "",
            f"{self.subset} subset" if self.subset else "",
        ]
        return ", ".join(p for p in parts if p) or "setting not stated"


class Published(BaseModel):
    """One cell of a published table."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    table: str
    model: str
    model_as_printed: Optional[str] = None
    benchmark: str
    setting: str  # the row's setting as printed
    value: float
    unit: Optional[str] = None
    category: Optional[str] = None
    setup: CellSetup = CellSetup()  # this cell's own setup
    cell_note: Optional[str] = None  # the cell's own annotation in the source, if any
    reported_by: Optional[str] = None  # who published the table
    evaluator: str = "unknown"  # who produced the number
    self_reported: Optional[bool] = None  # the model's own vendor produced it; None = cannot tell
    evaluator_basis: Optional[str] = None  # which importer rule decided the evaluator, and why
    source: Source
    quote_line: Optional[str] = None
    footnote: Optional[str] = None
    confidence: Optional[str] = None
    provenance_note: Optional[str] = None
    discrepancy: Optional[str] = None
    value_at_release: Optional[float] = None
    changed_since_release: Optional[str] = None
    label_changed_since_release: Optional[str] = None

    @field_validator("value", mode="before")
    @classmethod
    def _number(cls, value):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{value!r} is not a number")
        return value

    @field_validator("source")
    @classmethod
    def _citable(cls, source: Source) -> Source:
        if not (source.url or source.document):
            raise ValueError("needs a url or a document")
        return source

    @property
    def citation(self) -> str:
        where = self.source.url or self.source.document or ""
        if self.source.repo:
            where = f"{self.source.repo}@{(self.source.commit or '?')[:10]}:{self.source.path or ''}"
        return f"{self.table} ({where})"

    @property
    def label(self) -> str:
        """The benchmark with this cell's setting: "GSM8K (0-shot, CoT)"."""
        stated = self.setup.label()
        if stated == "setting not stated" and not re.search(r"\d|avg|average", self.setting):
            stated = (
                "shots not stated" if "not stated" in self.setting else self.setting.split(" (")[0] or stated
            )  # "long context", "tool use": what the row says
        return f"{self.benchmark} ({stated})"


def parse_setting(setting: str) -> dict:
    """Shots and CoT from a printed setting; a table footnote overrides what it names."""
    footnote = re.search(r"\[table footnote [^:]*:\s*([^\]]+)\]", setting)
    base = _shots_and_cot(setting.split(" [")[0])
    if footnote:
        override = _shots_and_cot(footnote.group(1))
        base = {key: override[key] if override[key] is not None else base[key] for key in base}
        base["text"] = footnote.group(1).strip()
    return base


def _shots_and_cot(text: str) -> dict:
    lowered = text.lower()
    match = re.search(r"(?<![\d-])(\d+)[- ]shot", lowered)  # "3-5 shot" is a range: no single count
    shots = int(match.group(1)) if match else (0 if re.search(r"\bzero[- ]shot\b", lowered) else None)
    cot = None
    if "cot" in lowered:
        cot = not ("no cot" in lowered or "without cot" in lowered)
    return {"shots": shots, "cot": cot, "text": text.strip()}


def _entry(table: dict, raw: dict, path: Path, index: int) -> Published:
    try:
        return Published(table=table["table"], **{"reported_by": table.get("reported_by"), **raw})
    except (ValidationError, TypeError) as error:
        if isinstance(error, TypeError):
            raise PublishedError(f"{path.name} entry {index}: {error}") from None
        raise PublishedError(f"{path.name} entry {index}: {one_line(error, Published)}") from None


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


def find(
    table: str,
    model: str,
    benchmark: str | None = None,
    setting: str | None = None,
    entries: tuple[Published, ...] | None = None,
) -> list[Published]:
    """Entries of one table for one model (optionally one benchmark / setting substring)."""
    entries = entries if entries is not None else load_all()
    in_table = [e for e in entries if e.table == table]
    if not in_table:
        tables = sorted({e.table for e in entries})
        raise PublishedError(f"no published table '{table}' (known: {'; '.join(tables)})")
    rows = [e for e in in_table if e.model == model]
    if not rows:
        raise PublishedError(
            f"table '{table}' has no model '{model}' (it has: {', '.join(sorted({e.model for e in in_table}))})"
        )
    if benchmark is not None:
        rows = [e for e in rows if e.benchmark == benchmark]
    if setting is not None:
        rows = [e for e in rows if setting in e.setting]
    if not rows:
        raise PublishedError(
            f"table '{table}' has no '{benchmark}'{f' ({setting})' if setting else ''} score for '{model}'"
        )
    return rows
