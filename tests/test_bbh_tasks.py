"""The shipped BIG-Bench Hard tasks: data intact, indexed by lm-eval, well formed."""

import gzip
import hashlib
import json

import pytest

from harness.evaluate import TASKS_DIR, task_manager
from scripts import build_bigbench_tasks as builder

BBH_DIR = TASKS_DIR / "bigbench_bbh"
SOURCE = json.loads((BBH_DIR / "SOURCE.json").read_text())


def test_data_files_match_their_recorded_sha256():
    assert len(SOURCE["files"]) == 2 * len(builder.MC_SUBTASKS)
    for name, entry in SOURCE["files"].items():
        assert hashlib.sha256((BBH_DIR / name).read_bytes()).hexdigest() == entry["sha256"], name


def test_lm_eval_indexes_the_group_and_all_21_subtasks():
    index = task_manager().task_index
    assert "bbh_bigbench_mc" in index
    for subtask in builder.MC_SUBTASKS:
        assert builder.task_name(subtask) in index


@pytest.mark.parametrize("data_file", sorted(SOURCE["files"]))
def test_items_are_well_formed(data_file):
    with gzip.open(BBH_DIR / data_file, "rt") as handle:
        rows = [json.loads(line) for line in handle]
    assert rows and len({row["id"] for row in rows}) == len(rows)
    for row in rows:
        assert row["text"] and len(row["choices"]) >= 2
        assert 0 <= row["label"] < len(row["choices"])


def test_bbh_sizes_follow_the_published_recipe():
    # BBH keeps 3 exemplars out and caps subtasks at 250; causal_judgment has 190 -> 187.
    assert SOURCE["files"]["data/bbh_bb_causal_judgment.test.jsonl.gz"]["rows"] == 187
    assert SOURCE["files"]["data/bbh_bb_hyperbaton.test.jsonl.gz"]["rows"] == 250


@pytest.mark.parametrize(
    "prompt,choices,expected",
    [
        ("Q: x?\nA: ", ["yes", "no"], ("Q: x?\nA:", [" yes", " no"])),
        ("... is dancing with  ", ["Sam."], ("... is dancing with", [" Sam."])),
        ("Find a movie similar to X:\n", ["Heat"], ("Find a movie similar to X:\n", ["Heat"])),
    ],
)
def test_choices_carry_the_separating_space(prompt, choices, expected):
    assert builder.split_prompt_and_choices(prompt, choices) == expected
