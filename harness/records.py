"""Score records: one JSON file per (model, benchmark) cell, per-item outcomes beside it.

Layout: <results>/records/<model>/<benchmark>/<cell key[:16]>.json
        <results>/records/<model>/<benchmark>/<cell key[:16]>.items.jsonl.gz
Every record and item is a typed model (below); its JSON Schema is committed as
harness/schemas/record.schema.json (tests/test_records.py fails when it is stale).
A record is built from the cell's plan plus the lm-eval adapter's parsed output, written
atomically (items first), and validated on read.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Optional, Union

from packaging.version import Version
from pydantic import Field, ValidationError

from harness import atomic
from harness.schema import BenchmarkConfig, ModelConfig
from harness.typed import Strict, one_line

if TYPE_CHECKING:
    from harness.evaluate import EvalResult
    from harness.models import LoadedModel
    from harness.plan import CellPlan

# 1.3: primary.aggregation names how a group's score was pooled (lm-eval's MMLU weights its
# subjects by size; a list of tasks is their plain mean); 1.2 said "macro mean" for both.
# 1.2: the record is a typed model (JSON Schema in harness/schemas), unknown keys rejected.
# 1.1 added throughput and memory. Records of any 1.x read.
SCHEMA_VERSION = "1.3"
RECORD_KIND = "claim-harness/score-record"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "record.schema.json"


class RecordError(ValueError):
    """A record file that is missing, corrupt or of an unknown schema."""


# ---------------------------------------------------------------- the record's parts


class MetricValue(Strict):
    value: Optional[float]  # None where lm-eval reported N/A or NaN
    stderr: Optional[float]


class PrimaryScore(Strict):
    """The benchmark's headline number."""

    metric: str  # lm-eval metric name, e.g. acc
    filter: str  # lm-eval filter, e.g. none, strict-match
    value: float  # mean over the benchmark's tasks; a group's value is lm-eval's, pooled as `aggregation` says
    stderr: Optional[float]  # one standard error, from lm-eval's per-task stderrs
    n: int = Field(gt=0)  # items scored
    aggregation: Literal[
        "mean over items",  # one task
        "macro mean over tasks",  # the benchmark lists several tasks: their unweighted mean
        "item-weighted mean over subtasks",  # one lm-eval group with weight_by_size (e.g. mmlu)
        "macro mean over subtasks",  # one lm-eval group without it; also every group or list before 1.3
    ]


class ItemOutcome(Strict):
    """One scored item (a line of the .items.jsonl.gz file)."""

    task: str
    doc_id: int
    filter: Optional[str] = (
        None  # lm-eval's filter of this line: a task with 2 filters logs each item twice (since 1.3)
    )
    doc_hash: Optional[str]  # lm-eval's sha256 of the document
    prompt_hash: Optional[str]
    target: Any  # the gold answer as lm-eval holds it (choice index, text, list)
    metrics: dict[str, Any]  # lm-eval's per-item metrics
    score: Optional[float]  # the primary metric for this item
    correct: Optional[bool] = None  # score == 1 (only when score is known)
    loglikelihoods: Optional[list[float]] = None  # multiple choice: one per choice
    choice: Optional[int] = None  # multiple choice: the argmax
    response: Any = None  # generation: the filtered response


class Fingerprint(Strict):
    kind: Literal["gguf_sha256", "weights_sha256", "hub_revision", "random_init"]
    value: str


class RecordedModel(ModelConfig):
    """The model config as run, its fingerprint and facts from loading it."""

    name: str
    fingerprint: Fingerprint
    source_kind: str
    chat_template_applied: bool
    chat_template_sha256: Optional[str] = None
    bos_token: Optional[str] = None
    eos_token: Optional[str] = None
    vocab_size: Optional[int] = None
    num_parameters: Optional[int] = None
    load_seconds: Optional[float] = None
    resolved_revision: Optional[str] = None  # hub: the commit actually loaded
    gguf_file: Optional[str] = None
    dequantized_cache: Optional[str] = None
    weights_sha256: Optional[str] = None  # random_init: the weights built
    dtype_used: Optional[str] = None  # the dtype the weights ran in (`dtype: auto` resolved)
    dtype_reason: Optional[str] = None  # why that dtype


class RecordedBenchmark(BenchmarkConfig):
    """The benchmark config as run (`limit` is the effective one) and lm-eval's view of it."""

    name: str
    n_shot: dict[str, int]
    task_versions: dict[str, Any]
    dataset_dir: Optional[str] = None  # records written before the hub-dataset mirror replaced it (always null)


class Scores(Strict):
    primary: PrimaryScore
    metrics: dict[str, dict[str, MetricValue]]  # task or group -> "metric,filter" -> value


class DatasetFingerprint(Strict):
    items_sha256: str  # sha256 over the scored items' "doc_id:doc_hash" lines
    n_items: int
    files: Optional[dict[str, str]]  # data file -> sha256 (None: the hub's dataset)
    source: Optional[dict[str, Any]] = None  # hub-dataset mirror files: hub id, config, upstream, license, notes


class NSamples(Strict):
    original: int
    effective: int


class Seeds(Strict):
    random_seed: Optional[int]
    numpy_seed: Optional[int]
    torch_seed: Optional[int]
    fewshot_seed: Optional[int]


class HardwareFacts(Strict):
    config: str
    device: str
    cpu: str
    cpu_count: Optional[int]
    torch_threads: int
    gpus: list[str]
    hostname: str


class Timing(Strict):
    started_at: str
    finished_at: str
    wall_seconds: float
    model_load_seconds: Optional[float]


class Throughput(Strict):
    items: int
    tokens: int
    items_per_second: float
    tokens_per_second: float
    request_cache: bool


class Memory(Strict):
    peak_rss_mb: float
    peak_gpu_allocated_mb: Optional[float]
    note: str


class RunInfo(Strict):
    id: str
    argv: list[str] = Field(default_factory=list)
    overrides: list[str] = Field(default_factory=list)
    choices: dict[str, Any] = Field(default_factory=dict)  # Hydra's group choices
    hydra_output_dir: Optional[str] = None


class ItemsFile(Strict):
    file: str
    sha256: str
    count: int


class CellId(Strict):
    model: str
    benchmark: str
    key: str


class ScoreRecord(Strict):
    schema_version: str
    kind: Literal["claim-harness/score-record"]
    cell: CellId
    model: RecordedModel
    benchmark: RecordedBenchmark
    scores: Scores
    n_samples: dict[str, NSamples]
    datasets: dict[str, DatasetFingerprint]  # leaf task -> the items it scored
    task_config_sha256: dict[str, str]  # leaf task -> sha256 of lm-eval's resolved config
    seeds: Seeds
    hardware: HardwareFacts
    versions: dict[str, Union[str, bool, None]]  # harness, its git state, lm-eval, torch, ...
    timing: Timing
    throughput: Optional[Throughput] = None  # since 1.1
    memory: Optional[Memory] = None  # since 1.1
    run: RunInfo
    lm_eval: dict[str, Any]  # lm-eval's own output block, as lm-eval wrote it
    items: Optional[ItemsFile]  # None only before the items are written


def json_schema() -> dict:
    return ScoreRecord.model_json_schema()


# ---------------------------------------------------------------- build and write


def dataset_fingerprint(
    items: list[ItemOutcome], files: dict[str, str] | None, source: dict | None = None
) -> DatasetFingerprint:
    """Content of the items actually scored, and the data files they came from."""
    lines = sorted(f"{item.doc_id}:{item.doc_hash}" for item in items)
    return DatasetFingerprint(
        items_sha256=hashlib.sha256("\n".join(lines).encode()).hexdigest(),
        n_items=len(items),
        files=files,
        source=source,
    )


def build_record(
    cell: CellPlan, loaded: LoadedModel, result: EvalResult, hardware: dict, memory: dict, versions: dict, run: dict
) -> ScoreRecord:
    """The record of one evaluated cell: its plan, the loaded model's facts, lm-eval's parsed output."""
    try:
        return _build(cell, loaded, result, hardware, memory, versions, run)
    except ValidationError as error:  # a harness bug; the run goes on with the next cell
        raise RecordError(f"cell {cell.model_name} x {cell.benchmark.name}: {one_line(error, ScoreRecord)}") from None


def _build(cell, loaded, result, hardware, memory, versions, run) -> ScoreRecord:
    by_task: dict[str, list[ItemOutcome]] = {}
    for item in result.items:
        by_task.setdefault(item.task, []).append(item)
    bench = cell.benchmark
    return ScoreRecord(
        schema_version=SCHEMA_VERSION,
        kind=RECORD_KIND,
        cell=CellId(model=cell.model_name, benchmark=bench.name, key=cell.key),
        model=RecordedModel(
            name=cell.model_name,
            **cell.model.model_dump(),
            fingerprint=Fingerprint(**cell.fingerprint),
            **loaded.info,
            chat_template_applied=cell.chat_template,
        ),
        benchmark=RecordedBenchmark(
            **{**bench.config.model_dump(), "limit": bench.limit},
            name=bench.name,
            n_shot=result.n_shot,
            task_versions=result.task_versions,
        ),
        scores=Scores(primary=result.primary, metrics=result.metrics),
        n_samples=result.n_samples,
        datasets={
            task: dataset_fingerprint(items, bench.data.files_of(task), bench.data.source_of(task))
            for task, items in by_task.items()
        },
        task_config_sha256=result.task_config_sha256,
        seeds=Seeds(**result.seeds),
        hardware=HardwareFacts(**hardware),
        versions=versions,
        timing=Timing(
            started_at=result.started_at,
            finished_at=result.finished_at,
            wall_seconds=result.wall_seconds,
            model_load_seconds=loaded.info.get("load_seconds"),
        ),
        throughput=Throughput(**result.throughput),
        memory=Memory(**memory),
        run=RunInfo(**run),
        lm_eval=result.lm_eval,
        items=None,
    )


def record_paths(results_dir: Path, model: str, benchmark: str, key: str) -> tuple[Path, Path]:
    stem = Path(results_dir) / "records" / model / benchmark / key[:16]
    return stem.with_suffix(".json"), stem.with_name(stem.name + ".items.jsonl.gz")


def write_record(cell: CellPlan, record: ScoreRecord, items: list[ItemOutcome]) -> Path:
    """Items first, then the record that names their sha256: a record never points at
    items that are not fully on disk."""
    payload = atomic.jsonl_gz_bytes(item.model_dump(exclude_unset=True) for item in items)
    atomic.write_bytes(cell.items_path, payload)
    record.items = ItemsFile(file=cell.items_path.name, sha256=hashlib.sha256(payload).hexdigest(), count=len(items))
    atomic.write_json(cell.record_path, record.model_dump(exclude_unset=True))
    return cell.record_path


# ---------------------------------------------------------------- read and validate


def validate_record(data: Any, path: Path) -> ScoreRecord:
    if not isinstance(data, dict):
        raise RecordError(f"{path}: not a score record (top level is not an object)")
    version = data.get("schema_version")
    if isinstance(version, str) and Version(version).major != Version(SCHEMA_VERSION).major:
        raise RecordError(f"{path}: schema {version} is not readable by this harness (reads {SCHEMA_VERSION})")
    try:
        return ScoreRecord.model_validate(data)
    except ValidationError as error:
        raise RecordError(f"{path}: {one_line(error, ScoreRecord)}") from None


def load_record(path: Path) -> ScoreRecord:
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RecordError(f"{path}: no such record") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RecordError(f"{path}: not valid JSON ({error}); delete it and rerun the cell") from None
    return validate_record(data, path)


def load_items(record_path: Path, record: ScoreRecord | None = None) -> list[ItemOutcome]:
    """Per-item outcomes of a record, checked against the sha256 the record carries."""
    record_path = Path(record_path)
    record = record or load_record(record_path)
    if record.items is None:
        raise RecordError(f"{record_path}: names no per-item file")
    items_path = record_path.with_name(record.items.file)
    try:
        payload = items_path.read_bytes()
    except FileNotFoundError:
        raise RecordError(f"{items_path}: per-item file missing for {record_path.name}") from None
    if hashlib.sha256(payload).hexdigest() != record.items.sha256:
        raise RecordError(f"{items_path}: sha256 does not match its record; the file was changed")
    lines = gzip.decompress(payload).decode().splitlines()
    try:
        return [ItemOutcome.model_validate_json(line) for line in lines]
    except ValidationError as error:
        raise RecordError(f"{items_path}: {one_line(error, ItemOutcome)}") from None


def is_complete(record_path: Path) -> bool:
    """A cell is done when its record and per-item file read back intact."""
    try:
        load_items(record_path)
        return True
    except RecordError:
        return False


def iter_records(results_dir: Path) -> Iterator[tuple[Path, ScoreRecord | RecordError]]:
    """Every record under results_dir; a bad file yields its error instead of stopping."""
    for path in sorted((Path(results_dir) / "records").glob("*/*/*.json")):
        try:
            yield path, load_record(path)
        except RecordError as error:
            yield path, error
