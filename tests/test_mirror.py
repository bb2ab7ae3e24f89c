"""The hub-dataset mirror: the shipped files match their manifest, a changed file is
refused with its path, task configs are routed to the local files (or fail clearly), and
the writer is deterministic."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil

import pytest

from harness import mirror

SHIPPED = mirror.Mirror()


def test_every_shipped_file_matches_its_manifest_entry():
    datasets = SHIPPED.datasets()
    assert len(datasets) == 93  # ARC x2, WinoGrande x2, 57 MMLU subjects, 27 BBH, PIQA, BoolQ, IFEval, TruthfulQA x2
    for dataset in datasets.values():
        assert dataset.upstream and dataset.license, dataset
        assert (dataset.root / dataset.provenance).is_file(), dataset.provenance
        for split, entry in dataset.splits.items():
            path = mirror.verify(dataset, split)
            content = gzip.decompress(path.read_bytes())
            assert hashlib.sha256(content).hexdigest() == entry.content_sha256
            assert sum(1 for line in content.splitlines() if line.strip()) == entry.rows


@pytest.mark.parametrize(
    "hub_id,config,split,rows",
    [
        ("allenai/ai2_arc", "ARC-Easy", "test", 2376),
        ("allenai/ai2_arc", "ARC-Challenge", "test", 1172),
        ("baber/piqa", "default", "validation", 1838),
        ("aps/super_glue", "boolq", "validation", 3270),
        ("allenai/winogrande", "winogrande_xl", "validation", 1267),
        ("allenai/winogrande", "winogrande_l", "train", 10234),
        ("google/IFEval", "default", "train", 541),
        ("truthfulqa/truthful_qa", "multiple_choice", "validation", 817),
    ],
)
def test_official_sizes(hub_id, config, split, rows):
    assert SHIPPED.lookup(hub_id, None if config == "default" else config).splits[split].rows == rows


def test_mmlu_and_bbh_totals_are_the_official_ones():
    datasets = SHIPPED.datasets().values()
    assert sum(d.splits["test"].rows for d in datasets if d.hub_id == "cais/mmlu") == 14042
    assert sum(d.splits["test"].rows for d in datasets if d.hub_id == "SaylorTwift/bbh") == 6511


def copy_of_shipped(tmp_path):
    root = tmp_path / "mirror"
    shutil.copytree(mirror.SHIPPED, root)
    return root


def test_a_changed_file_fails_with_its_path(tmp_path):
    root = copy_of_shipped(tmp_path)
    dataset = mirror.Mirror((root,)).lookup("allenai/ai2_arc", "ARC-Easy")
    path = dataset.path("test")
    path.write_bytes(mirror.gzip_bytes(b'{"id": "x"}\n'))
    with pytest.raises(mirror.MirrorError, match=f"{path}: sha256 .* differs from the manifest"):
        mirror.verify(dataset, "test")


def test_a_missing_file_fails_with_its_path(tmp_path):
    root = copy_of_shipped(tmp_path)
    dataset = mirror.Mirror((root,)).lookup("baber/piqa", None)
    dataset.path("validation").unlink()
    with pytest.raises(mirror.MirrorError, match="validation.jsonl.gz: listed in .* but missing"):
        mirror.verify(dataset, "validation")


def test_a_directory_without_manifest_is_not_a_mirror(tmp_path):
    with pytest.raises(mirror.MirrorError, match=f"{tmp_path} is not a hub-dataset mirror"):
        mirror.Mirror.for_run(str(tmp_path))


ARC_EASY = {
    "task": "arc_easy",
    "dataset_path": "allenai/ai2_arc",
    "dataset_name": "ARC-Easy",
    "training_split": "train",
    "validation_split": "validation",
    "test_split": "test",
    "doc_to_text": "Question: {{question}}\nAnswer:",
}
BOOLQ = {
    "task": "boolq",
    "dataset_path": "aps/super_glue",
    "dataset_name": "boolq",
    "training_split": "train",
    "validation_split": "validation",
    "doc_to_text": "{{passage}}\nQuestion: {{question}}?\nAnswer:",
}


def test_redirect_keeps_the_task_and_swaps_only_the_data_source():
    route = mirror.plan(ARC_EASY, SHIPPED, 25)
    config = mirror.redirect(ARC_EASY, route)
    assert config["dataset_path"] == "json" and config["dataset_name"] is None
    assert set(config["dataset_kwargs"]["data_files"]) == {"train", "validation", "test"}
    assert {k: v for k, v in config.items() if not k.startswith("dataset_")} == {
        k: v for k, v in ARC_EASY.items() if not k.startswith("dataset_")
    }
    fingerprint = route.fingerprint()
    assert fingerprint["upstream"].startswith("https://github.com/nju-websoft/GenMC@")
    assert (
        fingerprint["files"]["allenai/ai2_arc/ARC-Easy/test.jsonl.gz"]
        == SHIPPED.lookup("allenai/ai2_arc", "ARC-Easy").splits["test"].sha256
    )


def test_a_split_the_mirror_lacks_is_unset_at_0_shot_and_refused_for_shots():
    route = mirror.plan(BOOLQ, SHIPPED, 0)
    config = mirror.redirect(BOOLQ, route)
    assert route.dropped == ("train",) and config["training_split"] is None
    assert list(config["dataset_kwargs"]["data_files"]) == ["validation"]
    with pytest.raises(
        mirror.MirrorError,
        match="task 'boolq' draws its 5-shot examples from split 'train' of aps/super_glue \\(boolq\\)",
    ):
        mirror.plan(BOOLQ, SHIPPED, 5)


def test_a_missing_scored_split_or_dataset():
    with pytest.raises(mirror.MirrorError, match="scores split 'test' of aps/super_glue"):
        mirror.plan({**BOOLQ, "test_split": "test"}, SHIPPED, 0)
    assert mirror.plan({**BOOLQ, "dataset_name": "cb"}, SHIPPED, 0) is None
    assert mirror.plan({"task": "x", "dataset_path": "json"}, SHIPPED, 0) is None  # local files, not the hub


def test_a_run_mirror_comes_before_the_shipped_one(tmp_path):
    root = tmp_path / "mine"
    manifest = mirror.existing_manifest(root)
    files = {
        "validation": mirror.write_split(
            root,
            "aps/super_glue",
            "boolq",
            "validation",
            mirror.jsonl_bytes([{"question": "q", "passage": "p", "idx": 0, "label": 1}]),
        )
    }
    mirror.add_dataset(manifest, "aps/super_glue", "boolq", files, "test", "CC0")
    mirror.write_manifest(root, manifest)
    both = mirror.Mirror.for_run(str(root))
    assert both.lookup("aps/super_glue", "boolq").splits["validation"].rows == 1
    assert both.lookup("allenai/ai2_arc", "ARC-Easy").root == mirror.SHIPPED  # the rest: shipped


def test_the_writer_is_deterministic(tmp_path):
    rows = [{"b": 1, "a": "é"}, {"b": 2, "a": "x"}]
    first = mirror.write_split(tmp_path / "one", "org/set", "default", "test", mirror.jsonl_bytes(rows))
    second = mirror.write_split(tmp_path / "two", "org/set", "default", "test", mirror.jsonl_bytes(rows))
    assert first == second
    assert (tmp_path / "one" / first.relpath).read_bytes() == (tmp_path / "two" / second.relpath).read_bytes()
    assert [
        json.loads(line) for line in gzip.decompress((tmp_path / "one" / first.relpath).read_bytes()).splitlines()
    ] == rows


def test_add_copies_local_jsonl_into_a_mirror_that_a_task_then_reads(tmp_path):
    source = tmp_path / "gsm8k_test.jsonl"
    source.write_text('{"question": "1+1?", "answer": "#### 2"}\n{"question": "2+2?", "answer": "#### 4"}\n')
    root = tmp_path / "mine"
    added = mirror.add_files(root, "openai/gsm8k", "main", {"test": source}, "my copy", "MIT")
    assert added.splits["test"].rows == 2
    cfg = {
        "task": "gsm8k",
        "dataset_path": "openai/gsm8k",
        "dataset_name": "main",
        "test_split": "test",
        "fewshot_split": "train",
    }
    route = mirror.plan(cfg, mirror.Mirror.for_run(str(root)), 0)
    assert route.used == ("test",) and route.dropped == ("train",)
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": 1}\n{oops\n')
    with pytest.raises(mirror.MirrorError, match=f"{bad}: line 2: not valid JSON"):
        mirror.add_files(root, "openai/gsm8k", "main", {"test": bad}, "x", "MIT")


def test_prefetch_writes_the_mirror_layout_from_a_loaded_dataset(tmp_path):
    """The download itself needs the hub (unreachable here); what it writes is tested on a
    DatasetDict loaded by `datasets` from local files."""
    import datasets

    from harness.prefetch import export_dataset

    source = tmp_path / "hs.jsonl"
    source.write_text('{"ctx": "a", "endings": ["b", "c"], "label": "0"}\n')
    loaded = datasets.load_dataset("json", data_files={"validation": str(source)})
    manifest: dict = {}
    export_dataset(
        tmp_path / "out",
        manifest,
        "Rowan/hellaswag",
        None,
        {s: loaded[s] for s in loaded},
        "https://huggingface.co/datasets/Rowan/hellaswag@abc",
        "MIT",
    )
    mirror.write_manifest(tmp_path / "out", manifest)
    dataset = mirror.Mirror.for_run(str(tmp_path / "out")).lookup("Rowan/hellaswag", None)
    path = mirror.verify(dataset, "validation")
    assert path == tmp_path / "out" / "Rowan/hellaswag/default/validation.jsonl.gz"
    assert json.loads(gzip.decompress(path.read_bytes())) == {"ctx": "a", "endings": ["b", "c"], "label": "0"}
