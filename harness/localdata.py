"""Where a benchmark's items come from: your own local files, or the hub-dataset mirror.

A benchmark config with `local_data:` names a JSONL, CSV or Parquet file (or a directory
of them, one file per split: test.jsonl, train.csv, ...) and which fields hold the
question, choices and answer (or prompt and target). The data is checked here, row by
row, so a bad file fails with its path, row and field; lm-eval then loads the same files
with its own local-file loading (`dataset_path: json|csv|parquet` + `data_files`).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from harness import evaluate, mirror
from harness.hashing import sha256_file
from harness.mirror import Mirror, Sources
from harness.schema import BenchmarkConfig, LocalData

FORMATS = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}


class DataError(ValueError):
    """Local benchmark data that cannot be used; names file, row and field."""


@dataclass(frozen=True)
class BenchmarkData:
    """Where a benchmark's items come from, resolved once when the run is planned."""

    tasks: list  # what lm-eval is asked to run: task names, or task configs over local files
    files: dict[str, str]  # data file -> sha256 of every file read from disk (empty for hub datasets)
    shipped: bool  # the files are shipped task data (SOURCE.json) or mirror files, fingerprinted per task
    mirror: Mirror = field(default_factory=Mirror)  # the hub-dataset mirror lm-eval's tasks read
    sources: Sources = field(default_factory=lambda: Sources({}, {}))  # leaf task -> its mirror files

    def files_of(self, task: str) -> dict[str, str] | None:
        """The data files behind one leaf task's items (None: the hub's dataset)."""
        if not self.shipped:
            return self.files
        if task in self.sources.routes:
            return self.sources.source_of(task)["files"]
        return {name: sha for name, sha in self.files.items() if Path(name).name.startswith(task + ".")} or None

    def source_of(self, task: str) -> dict | None:
        """Hub id, config, upstream, license and notes of a task's mirror files."""
        return self.sources.source_of(task)


def benchmark_data(
    name: str, bench: BenchmarkConfig, hub_mirror: Mirror | None = None, require: bool = True
) -> BenchmarkData:
    """Check a benchmark's own files (every row) and fingerprint every file it reads: local
    data, shipped task data, or the hub-dataset mirror's files (sha256-checked here).
    `require=False` (dry runs) leaves data that is neither mirrored nor reachable in
    `sources.hub` instead of failing."""
    where = f"benchmark '{name}'"
    if bench.local_data is not None:
        files = validate(bench.local_data, where)
        return BenchmarkData([task_config(name, bench.local_data, files)], file_fingerprints(files), shipped=False)
    hub_mirror = hub_mirror or Mirror()
    leaves = [config for task in bench.tasks for config in evaluate.leaf_configs(task)]
    sources = mirror.resolve(leaves, hub_mirror, bench.num_fewshot, bench.task_overrides)
    if require:
        mirror.require_data(name, sources, hub_mirror)
    files = sources.files()
    for task in bench.tasks:
        files.update(shipped_files(evaluate.task_yaml_path(task)))
    return BenchmarkData(list(bench.tasks), files, shipped=True, mirror=hub_mirror, sources=sources)


def shipped_files(yaml_path: Path | None) -> dict[str, str]:
    """sha256 of every data file shipped beside a task YAML in harness/tasks (SOURCE.json)."""
    if yaml_path is None or not (yaml_path.parent / "SOURCE.json").is_file():
        return {}
    source = json.loads((yaml_path.parent / "SOURCE.json").read_text())
    return {name: entry["sha256"] for name, entry in source["files"].items()}


def files_by_split(root: Path) -> dict[str, Path]:
    """<split>.jsonl|.csv|.parquet files of a directory, by split name."""
    return {p.stem: p for p in sorted(root.iterdir()) if p.suffix in FORMATS} if root.is_dir() else {}


def split_files(data: LocalData, where: str) -> dict[str, Path]:
    root = Path(data.path).expanduser()
    if root.is_file():
        return {data.test_split: root}
    if not root.is_dir():
        raise DataError(f"{where}: local_data.path {root} does not exist")
    files = files_by_split(root)
    if data.test_split not in files:
        raise DataError(
            f"{where}: {root} has no '{data.test_split}' file (found: {', '.join(files) or 'none'}; "
            f"name files <split>.jsonl|.csv|.parquet)"
        )
    wanted = [s for s in (data.test_split, data.fewshot_split) if s]
    missing = [s for s in wanted if s not in files]
    if missing:
        raise DataError(f"{where}: {root} has no '{missing[0]}' split for few-shot examples")
    return {s: files[s] for s in wanted}


def read_rows(path: Path) -> list[dict]:
    """Rows of a JSONL, CSV or Parquet file; an unreadable file names itself."""
    kind = FORMATS.get(path.suffix)
    try:
        if kind == "json":
            rows = []
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as error:
                        raise DataError(f"{path}: line {number}: not valid JSON ({error.msg})") from None
            return rows
        if kind == "csv":
            with open(path, newline="") as handle:
                return list(csv.DictReader(handle))
        if kind == "parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path).to_pylist()
    except (OSError, UnicodeDecodeError, ValueError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path}: cannot read ({error})") from None
    raise DataError(f"{path}: unsupported file type '{path.suffix}' (use .jsonl, .csv or .parquet)")


def choices_of(row: dict, data: LocalData):
    if isinstance(data.choices_field, list):
        return [row.get(column) for column in data.choices_field]
    value = row.get(data.choices_field)
    if isinstance(value, str) and value.startswith("["):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def check_row(row: dict, data: LocalData, where: str) -> None:
    if data.output_type == "generate_until":
        needed = [data.prompt_field, data.target_field]
    else:
        columns = data.choices_field if isinstance(data.choices_field, list) else [data.choices_field]
        needed = [data.question_field, data.answer_field, *columns]
    for name in needed + ([data.id_field] if data.id_field else []):
        if row.get(name) in (None, ""):
            raise DataError(f"{where}: field '{name}' is missing or empty")
    if data.output_type == "generate_until":
        return
    choices = choices_of(row, data)
    if not isinstance(choices, list) or not choices or any(c in (None, "") for c in choices):
        raise DataError(f"{where}: field '{data.choices_field}' must be a non-empty list of choices")
    answer = row[data.answer_field]
    if isinstance(answer, str) and answer.strip().lstrip("-").isdigit():
        answer = int(answer)
    if isinstance(answer, int) and not 0 <= answer < len(choices):
        raise DataError(f"{where}: field '{data.answer_field}' = {answer} is out of range for {len(choices)} choices")
    if isinstance(answer, str) and answer not in choices:
        raise DataError(f"{where}: field '{data.answer_field}' = '{answer}' is not one of the choices")


_CHECKED: set = set()  # (settings, files with size and mtime) already validated in this process


def _stamp(files: dict[str, Path]) -> tuple:
    return tuple((split, str(p), p.stat().st_size, p.stat().st_mtime_ns) for split, p in sorted(files.items()))


def validate(data: LocalData, where: str) -> dict[str, Path]:
    """Check every row of every split (once per unchanged file); return split -> file."""
    files = split_files(data, where)
    key = (data.model_dump_json(), _stamp(files))
    if key in _CHECKED:
        return files
    for path in files.values():
        rows = read_rows(path)
        if not rows:
            raise DataError(f"{path}: no rows")
        seen = {}
        for number, row in enumerate(rows, start=1):
            place = f"{path}: row {number}"
            check_row(row, data, place)
            if data.id_field:
                row_id = row[data.id_field]
                if row_id in seen:
                    raise DataError(f"{place}: duplicate id '{row_id}' (first at row {seen[row_id]})")
                seen[row_id] = number
    _CHECKED.add(key)
    return files


def default_template(data: LocalData) -> str:
    if data.output_type == "generate_until":
        return "{{" + data.prompt_field + "}}"
    context = "{{" + data.context_field + "}}\n" if data.context_field else ""
    return context + "{{" + data.question_field + "}}\nAnswer:"


def task_config(name: str, data: LocalData, files: dict[str, Path]) -> dict:
    """An lm-eval task config (as its YAML would say) over the local files."""
    fmt = FORMATS[next(iter(files.values())).suffix]
    config = {
        "task": name,
        "dataset_path": fmt,
        "dataset_kwargs": {"data_files": {split: str(path.resolve()) for split, path in files.items()}},
        "test_split": data.test_split,
        "output_type": data.output_type,
        "target_delimiter": data.target_delimiter,
        "doc_to_text": data.prompt_template or default_template(data),
        "metadata": {"version": 1.0, "source": "local_data"},
    }
    if data.fewshot_split:
        config["fewshot_split"] = data.fewshot_split
    if data.output_type == "multiple_choice":
        columns = data.choices_field
        config["doc_to_choice"] = (
            ("{{[" + ", ".join(columns) + "]}}") if isinstance(columns, list) else ("{{" + columns + "}}")
        )
        config["doc_to_target"] = data.answer_field  # the raw value: an index, or a choice's text
        config["metric_list"] = [
            {"metric": "acc", "aggregation": "mean", "higher_is_better": True},
            {"metric": "acc_norm", "aggregation": "mean", "higher_is_better": True},
        ]
        return config
    config["doc_to_target"] = data.target_field
    config["generation_kwargs"] = {"until": data.stop, "do_sample": False, "max_gen_toks": data.max_gen_toks}
    config["metric_list"] = [
        {
            "metric": "exact_match",
            "aggregation": "mean",
            "higher_is_better": True,
            "ignore_case": True,
            "ignore_punctuation": False,
        }
    ]
    if data.answer_regex:
        config["filter_list"] = [
            {
                "name": "regex",
                "filter": [{"function": "regex", "regex_pattern": data.answer_regex}, {"function": "take_first"}],
            }
        ]
    return config


def file_fingerprints(files: dict[str, Path]) -> dict:
    return {
        str(path.resolve()): _sha256_unchanged(str(path.resolve()), path.stat().st_size, path.stat().st_mtime_ns)
        for path in files.values()
    }


@lru_cache(maxsize=256)
def _sha256_unchanged(path: str, size: int, mtime_ns: int) -> str:
    """sha256 of a file, hashed once per (size, mtime) in this process."""
    return sha256_file(Path(path))
