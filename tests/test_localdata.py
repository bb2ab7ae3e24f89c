"""Bring-your-own benchmark data, hub tasks on local copies, prefetch, and bad data."""

import csv
import gzip
import json
from pathlib import Path

import pytest

from harness.localdata import DataError, LocalData, validate
from harness.records import load_items, load_record
from tests.helpers import run_cli

ROWS = [
    {"id": "q1", "question": "What is the capital of France?", "choices": ["Paris", "Rome", "Madrid"], "answer": 0},
    {"id": "q2", "question": "Which is a fruit?", "choices": ["Carrot", "Apple", "Potato"], "answer": 1},
    {"id": "q3", "question": "2 + 2 =", "choices": ["3", "5", "4"], "answer": 2},
    {"id": "q4", "question": "The sky on a clear day is", "choices": ["green", "blue", "red"], "answer": 1},
]


def write_rows(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    elif path.suffix == ".csv":
        with open(path, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=["id", "question", "A", "B", "C", "answer"])
            writer.writeheader()
            for r in rows:
                writer.writerow(
                    {
                        "id": r["id"],
                        "question": r["question"],
                        "A": r["choices"][0],
                        "B": r["choices"][1],
                        "C": r["choices"][2],
                        "answer": r["answer"],
                    }
                )
    else:
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def benchmark_dir(tmp_path: Path, name: str, local_data: dict) -> Path:
    """A config directory with benchmark/<name>.yaml, added through hydra.searchpath."""
    import yaml

    root = tmp_path / "my_configs"
    (root / "benchmark").mkdir(parents=True, exist_ok=True)
    (root / "benchmark" / f"{name}.yaml").write_text(
        yaml.safe_dump({name: {"display_name": f"my {name}", "primary_metric": "acc", "local_data": local_data}})
    )
    return root


def run_local(tmp_path, name, local_data, *extra):
    root = benchmark_dir(tmp_path, name, local_data)
    return run_cli(
        f"hydra.searchpath=[file://{root}]",
        f"benchmark=[{name}]",
        "model=[smollm2_135m_instruct]",
        f"results_dir={tmp_path / 'results'}",
        *extra,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    "suffix,fields",
    [
        (".jsonl", {}),
        (".csv", {"choices_field": ["A", "B", "C"]}),
        (".parquet", {}),
    ],
)
def test_every_format_runs_through_the_cli_with_a_packaged_model(tmp_path, suffix, fields):
    data = write_rows(tmp_path / "data" / f"test{suffix}", ROWS)
    result = run_local(tmp_path, "my_quiz", {"path": str(data), "id_field": "id", **fields})
    assert result.returncode == 0, result.stderr[-2000:]
    [path] = (tmp_path / "results").glob("records/smollm2_135m_instruct/my_quiz/*.json")
    record = load_record(path)
    assert record.scores.primary.n == 4
    assert record.datasets["my_quiz"].files == {
        str(data.resolve()): __import__("hashlib").sha256(data.read_bytes()).hexdigest()
    }
    assert [item.target for item in load_items(path)] == [0, 1, 2, 1]


@pytest.mark.slow
def test_local_file_and_shipped_task_give_identical_scores(tmp_path):
    """The same items as the shipped bbh_bb_snarks task, from a local JSONL file."""
    with gzip.open(
        Path(__file__).resolve().parents[1] / "harness/tasks/bigbench_bbh/data/bbh_bb_snarks.test.jsonl.gz", "rt"
    ) as handle:
        rows = [json.loads(line) for line in handle][:6]
    data = write_rows(tmp_path / "snarks" / "test.jsonl", rows)
    local = run_local(
        tmp_path,
        "my_snarks",
        {
            "path": str(data.parent),
            "question_field": "text",
            "answer_field": "label",
            "prompt_template": "{{text}}",
            "target_delimiter": "",
            "id_field": "id",
        },
    )
    assert local.returncode == 0, local.stderr[-2000:]
    shipped = run_cli(
        "benchmark=[bbh_bigbench_mc]",
        "benchmark.bbh_bigbench_mc.tasks=[bbh_bb_snarks]",
        "limit=6",
        "model=[smollm2_135m_instruct]",
        f"results_dir={tmp_path / 'results'}",
    )
    assert shipped.returncode == 0, shipped.stderr[-2000:]
    [mine] = (tmp_path / "results").glob("records/*/my_snarks/*.json")
    [theirs] = (tmp_path / "results").glob("records/*/bbh_bigbench_mc/*.json")
    assert load_record(mine).scores.primary.value == load_record(theirs).scores.primary.value
    for a, b in zip(load_items(mine), load_items(theirs), strict=True):
        assert a.loglikelihoods == pytest.approx(b.loglikelihoods, abs=1e-6)


@pytest.mark.slow
def test_hub_task_runs_unchanged_on_a_local_copy_of_its_data(tmp_path):
    """gsm8k_cot_llama (Meta's 8-shot CoT prompt, shots inline) with its test split added to
    a mirror of one's own from a local file (`python -m harness.mirror add`), run with mirror_dir."""
    rows = [
        {"question": "Tom has 3 apples and buys 2 more. How many apples does he have?", "answer": "3 + 2 = 5\n#### 5"},
        {"question": "A box holds 4 pens. How many pens are in 2 boxes?", "answer": "4 * 2 = 8\n#### 8"},
    ]
    data = write_rows(tmp_path / "gsm8k" / "test.jsonl", rows)
    added = run_cli(
        "add",
        str(tmp_path / "mirror"),
        "openai/gsm8k",
        "--config",
        "main",
        "--split",
        f"test={data}",
        "--upstream",
        "test rows",
        "--license",
        "MIT",
        module="harness.mirror",
    )
    assert added.returncode == 0 and "added openai/gsm8k (main): test 2 rows" in added.stdout, added.stderr
    result = run_cli(
        "benchmark=[gsm8k_8shot_cot]",
        f"mirror_dir={tmp_path / 'mirror'}",
        "+benchmark.gsm8k_8shot_cot.gen_kwargs={max_gen_toks:8}",
        "limit=1",
        "model=[smollm2_135m_instruct]",
        f"results_dir={tmp_path / 'results'}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    [path] = (tmp_path / "results").glob("records/*/gsm8k_8shot_cot/*.json")
    record = load_record(path)
    assert record.benchmark.n_shot["gsm8k_cot_llama"] == 8
    assert record.lm_eval["configs"]["gsm8k_cot_llama"]["dataset_path"] == "json"
    dataset = record.datasets["gsm8k_cot_llama"]
    assert list(dataset.files) == ["openai/gsm8k/main/test.jsonl.gz"] and dataset.source["upstream"] == "test rows"
    assert isinstance(load_items(path)[0].response, str)


def bad(tmp_path, rows=None, text=None, name="test.jsonl", **fields):
    path = tmp_path / name
    if text is not None:
        path.write_text(text)
    else:
        write_rows(path, rows)
    return validate(LocalData(path=str(path), **fields), "benchmark 'x'")


@pytest.mark.parametrize(
    "case,message",
    [
        (
            lambda t: bad(t, [{**ROWS[0]}, {"id": "q2", "choices": ["a", "b"], "answer": 0}]),
            r"test.jsonl: row 2: field 'question' is missing or empty",
        ),
        (
            lambda t: bad(t, [{**ROWS[0], "answer": 3}]),
            r"test.jsonl: row 1: field 'answer' = 3 is out of range for 3 choices",
        ),
        (
            lambda t: bad(t, [{**ROWS[0], "choices": []}]),
            r"test.jsonl: row 1: field 'choices' must be a non-empty list of choices",
        ),
        (
            lambda t: bad(t, text='{"question": "x", "choices": ["a"], "answer": 0}\n{not json\n'),
            r"test.jsonl: line 2: not valid JSON",
        ),
        (
            lambda t: bad(t, [ROWS[0], ROWS[1], {**ROWS[2], "id": "q1"}], id_field="id"),
            r"test.jsonl: row 3: duplicate id 'q1' \(first at row 1\)",
        ),
        (lambda t: bad(t, text="\x00\x01", name="test.parquet"), r"test.parquet: cannot read"),
        (
            lambda t: validate(LocalData(path=str(t / "missing.jsonl")), "benchmark 'x'"),
            r"benchmark 'x': local_data.path .*missing.jsonl does not exist",
        ),
        (
            lambda t: bad(t, [{**ROWS[0], "answer": "Berlin"}]),
            r"row 1: field 'answer' = 'Berlin' is not one of the choices",
        ),
    ],
)
def test_bad_data_names_file_row_and_field(tmp_path, case, message):
    with pytest.raises(DataError, match=message):
        case(tmp_path)


@pytest.mark.slow
def test_bad_data_through_the_cli_is_one_line_before_any_model_loads(tmp_path):
    data = write_rows(tmp_path / "data" / "test.jsonl", [ROWS[0], {**ROWS[1], "answer": 7}])
    result = run_local(tmp_path, "broken", {"path": str(data)})
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and "test.jsonl: row 2: field 'answer' = 7 is out of range" in last
    assert "loading smollm2" not in result.stderr


@pytest.mark.slow
def test_prefetch_without_the_hub_fails_clearly_and_keeps_nothing(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "bundle"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness.prefetch",
            "model=[llama31_8b_instruct]",
            "suite=llama31_flagship",
            f"+out_dir={out}",
        ],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1].startswith("error: HF_HUB_OFFLINE is set: prefetch needs the")
    assert not out.exists() and not out.with_name("bundle.partial").exists()


def test_prefetch_lists_the_hub_models_and_datasets_of_a_suite():
    from harness.config import compose_run
    from harness.prefetch import wanted
    from harness.schema import parse_run_config

    models, datasets = wanted(
        parse_run_config(compose_run("model=[llama31_8b_instruct,smollm2_135m_instruct]", "suite=llama31_flagship"))
    )
    assert models == [("meta-llama/Llama-3.1-8B-Instruct", "main")]
    hub_ids = {hub_id for hub_id, _ in datasets}
    assert {"openai/gsm8k", "hails/mmlu_no_train", "TIGER-Lab/MMLU-Pro", "Idavidrein/gpqa"} == hub_ids
    assert ("openai/gsm8k", "main") in datasets
    # ARC-Challenge and IFEval are in the shipped mirror: nothing to fetch
    assert "allenai/ai2_arc" not in hub_ids and "google/IFEval" not in hub_ids
