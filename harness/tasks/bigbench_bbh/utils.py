"""Loads the shipped JSONL.gz splits of a task; lm-eval calls this through `custom_dataset`."""

import gzip
import json
from pathlib import Path

import datasets

DATA_DIR = Path(__file__).parent / "data"


def read_split(task: str, split: str) -> list[dict]:
    with gzip.open(DATA_DIR / f"{task}.{split}.jsonl.gz", "rt", encoding="utf-8") as handle:
        return [json.loads(line) for line in handle]


def load_local_splits(task: str, **_task_metadata) -> datasets.DatasetDict:
    return datasets.DatasetDict(
        {split: datasets.Dataset.from_list(read_split(task, split)) for split in ("train", "test")}
    )
