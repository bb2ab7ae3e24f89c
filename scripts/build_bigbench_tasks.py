"""Build the offline BIG-Bench Hard (BIG-bench source) tasks shipped in harness/tasks/.

BIG-Bench Hard (Suzgun et al., 2022) is 27 subtasks taken from 23 BIG-bench tasks.
The `bigbench==1.0.0` sdist on PyPI carries those tasks' task.json files; this script
reads only those files from the archive (installing bigbench pulls ~1.8 GB of deps),
turns every multiple-choice subtask into a JSONL.gz split pair plus an lm-eval task
YAML, and writes SOURCE.json with the sdist's and every output file's sha256.

The output is committed, so runs never need this script or the network:
    python scripts/build_bigbench_tasks.py            # pip-downloads the sdist
    python scripts/build_bigbench_tasks.py --sdist bigbench-1.0.0.tar.gz
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from harness.hashing import sha256_file

SDIST_SHA256 = "1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2"
OUT_DIR = Path(__file__).resolve().parents[1] / "harness" / "tasks" / "bigbench_bbh"
SEED = 1234
N_FEWSHOT_POOL = 3  # BBH keeps 3 exemplars per task out of the evaluation set
N_EVAL_MAX = 250  # BBH caps every subtask at 250 items

# BBH subtasks scored by multiple choice (target_scores in BIG-bench). Excluded, with
# the reason: dyck_languages (84 choices per item: a generation task in BBH),
# object_counting and word_sorting (exact string match, no choices), and
# boolean_expressions, multistep_arithmetic, web_of_lies (programmatic tasks:
# task.py, no task.json in the sdist).
MC_SUBTASKS = [
    "causal_judgment",
    "date_understanding",
    "disambiguation_qa",
    "formal_fallacies_syllogisms_negation",
    "geometric_shapes",
    "hyperbaton",
    "logical_deduction/three_objects",
    "logical_deduction/five_objects",
    "logical_deduction/seven_objects",
    "movie_recommendation",
    "navigate",
    "penguins_in_a_table",
    "reasoning_about_colored_objects",
    "ruin_names",
    "salient_translation_error_detection",
    "snarks",
    "sports_understanding",
    "temporal_sequences",
    "tracking_shuffled_objects/three_objects",
    "tracking_shuffled_objects/five_objects",
    "tracking_shuffled_objects/seven_objects",
]
GROUP = "bbh_bigbench_mc"


def task_name(subtask: str) -> str:
    return "bbh_bb_" + subtask.replace("/", "_")


def download_sdist(dest: Path) -> Path:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--no-binary",
            ":all:",
            "bigbench==1.0.0",
            "-d",
            str(dest),
        ],
        check=True,
    )
    return dest / "bigbench-1.0.0.tar.gz"


def read_task_json(archive: tarfile.TarFile, subtask: str) -> dict:
    member = f"bigbench-1.0.0/bigbench/benchmark_tasks/{subtask}/task.json"
    return json.load(archive.extractfile(member))


def split_prompt_and_choices(prompt: str, choices: list[str]) -> tuple[str, list[str]]:
    """Put one space before each choice rather than at the prompt's end (tokenizers merge
    ' word'); a prompt ending in a newline takes the choice right after it."""
    stripped = prompt.rstrip(" ")
    separator = "" if stripped.endswith("\n") else " "
    return stripped, [separator + choice for choice in choices]


def format_item(task: dict, example: dict, rng: random.Random) -> dict:
    """BIG-bench's JSON-task prompt format, with choices in a seeded random order."""
    choices = list(example["target_scores"])
    rng.shuffle(choices)
    body = example["input"]
    if task.get("append_choices_to_input", True):
        body += "".join(task.get("choice_prefix", "\n  choice: ") + c for c in choices)
    prompt = (
        task.get("task_prefix", "")
        + task.get("example_input_prefix", "\nQ: ")
        + body
        + task.get("example_output_prefix", "\nA: ")
    ).lstrip("\n")
    text, scored_choices = split_prompt_and_choices(prompt, choices)
    answer = max(choices, key=lambda c: example["target_scores"][c])
    return {"text": text, "choices": scored_choices, "label": choices.index(answer)}


def build_subtask(archive: tarfile.TarFile, subtask: str) -> dict[str, list[dict]]:
    task = read_task_json(archive, subtask)
    rng = random.Random(f"{SEED}/{subtask}")
    order = list(range(len(task["examples"])))
    rng.shuffle(order)
    items = []
    for source_index in order[: N_FEWSHOT_POOL + N_EVAL_MAX]:
        item = format_item(task, task["examples"][source_index], rng)
        items.append({"id": f"{subtask}/{source_index}", "source_index": source_index, **item})
    return {"train": items[:N_FEWSHOT_POOL], "test": items[N_FEWSHOT_POOL:]}


def write_jsonl_gz(path: Path, rows: list[dict]) -> None:
    # mtime=0 keeps the archive byte-identical across rebuilds.
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
        for row in rows:
            handle.write((json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n").encode())


def task_yaml(subtask: str) -> str:
    name = task_name(subtask)
    return (
        f"task: {name}\n"
        f"tag: bbh_bigbench_mc_subtasks\n"
        f"dataset_path: json\n"
        f"custom_dataset: !function utils.load_local_splits\n"
        f"dataset_kwargs:\n  task: {name}\n"
        f"test_split: test\n"
        f"fewshot_split: train\n"
        f"output_type: multiple_choice\n"
        f"doc_to_text: text\n"
        f"doc_to_choice: choices\n"
        f"doc_to_target: label\n"
        f'target_delimiter: ""\n'
        f'fewshot_delimiter: "\\n\\n"\n'
        f"metric_list:\n"
        f"  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n"
        f"  - metric: acc_norm\n    aggregation: mean\n    higher_is_better: true\n"
        f"metadata:\n  version: 1.0\n  source: bigbench==1.0.0 sdist, {subtask}/task.json\n"
    )


def group_yaml() -> str:
    tasks = "".join(f"  - {task_name(s)}\n" for s in MC_SUBTASKS)
    return (
        f"group: {GROUP}\n"
        f"task:\n{tasks}"
        f"aggregate_metric_list:\n"
        f"  - metric: acc\n    aggregation: mean\n    weight_by_size: false\n"
        f"  - metric: acc_norm\n    aggregation: mean\n    weight_by_size: false\n"
        f"metadata:\n  version: 1.0\n"
    )


def build(sdist: Path) -> None:
    actual = sha256_file(sdist)
    if actual != SDIST_SHA256:
        raise SystemExit(f"{sdist}: sha256 {actual} is not the bigbench 1.0.0 sdist ({SDIST_SHA256})")
    (OUT_DIR / "data").mkdir(parents=True, exist_ok=True)
    files = {}
    with tarfile.open(sdist) as archive:
        for subtask in MC_SUBTASKS:
            name = task_name(subtask)
            for split, rows in build_subtask(archive, subtask).items():
                path = OUT_DIR / "data" / f"{name}.{split}.jsonl.gz"
                write_jsonl_gz(path, rows)
                files[path.relative_to(OUT_DIR).as_posix()] = {"sha256": sha256_file(path), "rows": len(rows)}
            (OUT_DIR / f"{name}.yaml").write_text(task_yaml(subtask))
    (OUT_DIR / f"_{GROUP}.yaml").write_text(group_yaml())
    source = {
        "package": "bigbench==1.0.0",
        "sdist_sha256": SDIST_SHA256,
        "seed": SEED,
        "fewshot_pool": N_FEWSHOT_POOL,
        "eval_max": N_EVAL_MAX,
        "files": files,
    }
    (OUT_DIR / "SOURCE.json").write_text(json.dumps(source, indent=2, sort_keys=True) + "\n")
    print(f"wrote {len(MC_SUBTASKS)} tasks to {OUT_DIR}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdist", type=Path, help="bigbench-1.0.0.tar.gz (downloaded if absent)")
    args = parser.parse_args()
    if args.sdist:
        build(args.sdist)
        return
    with tempfile.TemporaryDirectory() as tmp:
        build(download_sdist(Path(tmp)))


if __name__ == "__main__":
    main()
