"""Score records: one JSON file per (model, benchmark) cell, per-item outcomes beside it.

Layout: <results>/records/<model>/<benchmark>/<cell key[:16]>.json
        <results>/records/<model>/<benchmark>/<cell key[:16]>.items.jsonl.gz
The cell key hashes everything that can change a score (model fingerprint and settings,
benchmark setting, limit, seed, task files, lm-eval version), so a rerun of the same cell
lands on the same file and a changed setting on a new one.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import math
from pathlib import Path
from typing import Iterator

from packaging.version import Version

from harness import atomic
from harness.hashing import sha256_json
from harness.schema import BenchmarkConfig, ModelConfig, to_dict

SCHEMA_VERSION = "1.1"   # 1.1 added throughput and memory
RECORD_KIND = "claim-harness/score-record"
REQUIRED = {"schema_version": str, "kind": str, "cell": dict, "model": dict, "benchmark": dict,
            "scores": dict, "n_samples": dict, "datasets": dict, "task_config_sha256": dict,
            "seeds": dict, "hardware": dict, "versions": dict, "timing": dict, "run": dict,
            "lm_eval": dict, "items": dict}


class RecordError(ValueError):
    """A record file that is missing, corrupt or of an unknown schema."""


def cell_key(model_fingerprint: dict, model: ModelConfig, bench: BenchmarkConfig, limit, seed: int,
             chat_template_applied: bool, task_files: dict, versions: dict) -> str:
    """Everything that can change a cell's scores; the harness counts by its release
    version (bump it when scoring changes), not by git commit."""
    scored_model = {k: v for k, v in to_dict(model).items() if k not in ("display_name", "notes")}
    scored_bench = {k: v for k, v in to_dict(bench).items() if k not in ("display_name", "notes", "limit")}
    return sha256_json({"model": model_fingerprint, "model_settings": scored_model, "benchmark": scored_bench,
                        "limit": limit, "seed": seed, "chat": chat_template_applied,
                        "task_files": task_files, "lm_eval": versions.get("lm_eval"),
                        "harness": versions.get("harness")})


def record_paths(results_dir: Path, model: str, benchmark: str, key: str) -> tuple[Path, Path]:
    stem = Path(results_dir) / "records" / model / benchmark / key[:16]
    return stem.with_suffix(".json"), stem.with_name(stem.name + ".items.jsonl.gz")


# ---------------------------------------------------------------- from lm-eval output

def _number(value):
    """lm-eval writes 'N/A' or NaN for a stderr it could not compute."""
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return float(value)
    return None


def metrics_table(lm_eval: dict) -> dict:
    """{task or group: {"acc,none": {"value": .., "stderr": ..}, ...}}"""
    table = {}
    for section in ("results", "groups"):
        for task, block in lm_eval.get(section, {}).items():
            metrics = {}
            for key, value in block.items():
                if "," not in key or "_stderr," in key:
                    continue
                metric, filt = key.split(",", 1)
                metrics[key] = {"value": _number(value), "stderr": _number(block.get(f"{metric}_stderr,{filt}"))}
            table[task] = metrics
    return table


def primary_score(bench: BenchmarkConfig, lm_eval: dict, leaf_tasks: list[str]) -> dict:
    key = f"{bench.primary_metric},{bench.metric_filter}"
    table = metrics_table(lm_eval)
    missing = [task for task in bench.tasks if key not in table.get(task, {})]
    if missing:
        available = ", ".join(sorted(table.get(missing[0], {}))) or "none"
        raise RecordError(f"metric '{key}' not reported for task '{missing[0]}' (reported: {available}); "
                          f"fix primary_metric/metric_filter in the benchmark config")
    values = [table[task][key]["value"] for task in bench.tasks]
    stderrs = [table[task][key]["stderr"] for task in bench.tasks]
    stderr = (math.sqrt(sum(s * s for s in stderrs)) / len(stderrs)) if None not in stderrs else None
    n = sum(lm_eval["n-samples"][task]["effective"] for task in leaf_tasks)
    return {"metric": bench.primary_metric, "filter": bench.metric_filter,
            "value": sum(values) / len(values), "stderr": stderr, "n": n,
            "aggregation": "macro mean over subtasks" if any(t in lm_eval.get("groups", {}) for t in bench.tasks)
            else "mean over items"}


def item_outcome(task: str, sample: dict, output_type: str, primary_metric: str) -> dict:
    item = {"task": task, "doc_id": sample["doc_id"], "doc_hash": sample.get("doc_hash"),
            "prompt_hash": sample.get("prompt_hash"), "target": sample.get("target"),
            "metrics": {m: sample[m] for m in sample.get("metrics", []) if m in sample}}
    score = item["metrics"].get(primary_metric)
    item["score"] = float(score) if isinstance(score, (int, float)) else None
    if output_type in ("multiple_choice", "loglikelihood"):
        loglikelihoods = [float(resp[0]) for resp in sample["filtered_resps"]]
        item["loglikelihoods"] = loglikelihoods
        item["choice"] = max(range(len(loglikelihoods)), key=loglikelihoods.__getitem__)
    else:
        response = sample.get("filtered_resps")
        item["response"] = response[0] if isinstance(response, list) and response else response
    if item["score"] is not None:
        item["correct"] = item["score"] == 1.0
    return item


def dataset_fingerprint(samples: list[dict], shipped_files: dict | None) -> dict:
    """Content of the items actually scored; for shipped data also the files' sha256."""
    lines = sorted(f"{s['doc_id']}:{s.get('doc_hash')}" for s in samples)
    return {"items_sha256": hashlib.sha256("\n".join(lines).encode()).hexdigest(),
            "n_items": len(samples), "files": shipped_files}


def shipped_files(yaml_path: Path | None) -> dict:
    """sha256 of every data file shipped beside a task YAML in harness/tasks (SOURCE.json)."""
    if yaml_path is None or not (yaml_path.parent / "SOURCE.json").is_file():
        return {}
    source = json.loads((yaml_path.parent / "SOURCE.json").read_text())
    return {name: entry["sha256"] for name, entry in source["files"].items()}


def shipped_task_files(yaml_path: Path | None, task: str) -> dict | None:
    """The shipped data files of one task (None for tasks that ship no data)."""
    files = {name: sha for name, sha in shipped_files(yaml_path).items() if Path(name).name.startswith(task + ".")}
    return files or None


def build_items(cell_samples: dict, lm_eval: dict, primary_metric: str) -> list[dict]:
    items = []
    for task, samples in cell_samples.items():
        output_type = lm_eval["configs"][task].get("output_type", "")
        items.extend(item_outcome(task, s, output_type, primary_metric) for s in samples)
    return items


def build_record(*, key: str, model_name: str, model: ModelConfig, fingerprint: dict, model_info: dict,
                 bench_name: str, bench: BenchmarkConfig, limit, seed: int, cell, datasets: dict,
                 hardware: dict, versions: dict, run: dict) -> dict:
    """Assemble a record; `cell` is an evaluate.CellOutput, `datasets` task -> fingerprint."""
    out = cell.lm_eval
    leaves = list(cell.samples)
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": RECORD_KIND,
        "cell": {"model": model_name, "benchmark": bench_name, "key": key},
        "model": {"name": model_name, **to_dict(model), "fingerprint": fingerprint, **model_info,
                  "chat_template_applied": cell.chat_template_applied},
        "benchmark": {"name": bench_name, **to_dict(bench), "limit": limit,
                      "n_shot": out.get("n-shot", {}), "task_versions": out.get("versions", {})},
        "scores": {"primary": primary_score(bench, out, leaves), "metrics": metrics_table(out)},
        "n_samples": out.get("n-samples", {}),
        "datasets": datasets,
        "task_config_sha256": {task: sha256_json(out["configs"][task]) for task in leaves},
        "seeds": {name: out["config"].get(name) for name in
                  ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")},
        "hardware": hardware,
        "versions": versions,
        "timing": {"started_at": cell.started_at, "finished_at": cell.finished_at,
                   "wall_seconds": cell.wall_seconds, "model_load_seconds": model_info.get("load_seconds")},
        "throughput": cell.throughput,
        "memory": cell.memory,
        "run": run,
        "lm_eval": out,
        "items": {},
    }


# ---------------------------------------------------------------- write, read, validate

def write_record(results_dir: Path, record: dict, items: list[dict]) -> Path:
    """Items first, then the record that names their sha256: a record never points at
    items that are not fully on disk."""
    cell = record["cell"]
    record_path, items_path = record_paths(results_dir, cell["model"], cell["benchmark"], cell["key"])
    payload = atomic.jsonl_gz_bytes(items)
    atomic.write_bytes(items_path, payload)
    record["items"] = {"file": items_path.name, "sha256": hashlib.sha256(payload).hexdigest(),
                       "count": len(items)}
    atomic.write_json(record_path, json.loads(json.dumps(record, default=_jsonable)))
    return record_path


def _jsonable(value):
    if hasattr(value, "item"):      # numpy scalars in lm-eval's output
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


def validate_record(record, path: Path) -> dict:
    if not isinstance(record, dict):
        raise RecordError(f"{path}: not a score record (top level is not an object)")
    for key, kind in REQUIRED.items():
        if not isinstance(record.get(key), kind):
            raise RecordError(f"{path}: field '{key}' is missing or not a {kind.__name__}")
    if record["kind"] != RECORD_KIND:
        raise RecordError(f"{path}: kind is '{record['kind']}', expected '{RECORD_KIND}'")
    if Version(record["schema_version"]).major != Version(SCHEMA_VERSION).major:
        raise RecordError(f"{path}: schema {record['schema_version']} is not readable by this harness "
                          f"(reads {SCHEMA_VERSION})")
    primary = record["scores"].get("primary", {})
    value = primary.get("value")
    if not isinstance(value, (int, float)) or not isinstance(primary.get("n"), int) or primary["n"] <= 0:
        raise RecordError(f"{path}: scores.primary needs a numeric value and a positive item count n")
    for field in ("model", "benchmark", "key"):
        if not isinstance(record["cell"].get(field), str):
            raise RecordError(f"{path}: cell.{field} is missing")
    return record


def load_record(path: Path) -> dict:
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except FileNotFoundError:
        raise RecordError(f"{path}: no such record") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RecordError(f"{path}: not valid JSON ({error}); delete it and rerun the cell") from None
    return validate_record(record, path)


def load_items(record_path: Path, record: dict | None = None) -> list[dict]:
    """Per-item outcomes of a record, checked against the sha256 the record carries."""
    record_path = Path(record_path)
    record = record or load_record(record_path)
    items_path = record_path.with_name(record["items"]["file"])
    try:
        payload = items_path.read_bytes()
    except FileNotFoundError:
        raise RecordError(f"{items_path}: per-item file missing for {record_path.name}") from None
    if hashlib.sha256(payload).hexdigest() != record["items"]["sha256"]:
        raise RecordError(f"{items_path}: sha256 does not match its record; the file was changed")
    return [json.loads(line) for line in gzip.decompress(payload).decode().splitlines()]


def iter_records(results_dir: Path) -> Iterator[tuple[Path, dict | RecordError]]:
    """Every record under results_dir; a bad file yields its error instead of stopping."""
    for path in sorted((Path(results_dir) / "records").glob("*/*/*.json")):
        try:
            yield path, load_record(path)
        except RecordError as error:
            yield path, error
