"""Records from a real tiny run: contents, round trip, and rejection of bad files."""

import collections
import gzip
import json
import shutil

import pytest

from harness.records import (
    SCHEMA_FILE,
    RecordError,
    ScoreRecord,
    iter_records,
    json_schema,
    load_items,
    load_record,
    validate_record,
)
from tests.helpers import REPO


def copy_record(record_path, tmp_path):
    """Copy a record and its items into a results tree of its own."""
    target = tmp_path / "records" / "m" / "b"
    target.mkdir(parents=True)
    record = load_record(record_path)
    shutil.copy(record_path, target / record_path.name)
    shutil.copy(record_path.with_name(record.items.file), target / record.items.file)
    return target / record_path.name


@pytest.mark.slow
def test_record_carries_full_provenance(tiny_run):
    _, written = tiny_run
    record = load_record(written[0])
    assert (record.cell.model, record.cell.benchmark) == ("tiny_random_llama", "bbh_bigbench_mc")
    assert record.schema_version == "1.3" and record.model.fingerprint.kind == "random_init"
    assert len(record.model.weights_sha256) == 64
    assert record.model.dtype == "float32" and record.model.batch_size == 32
    assert record.benchmark.num_fewshot == 0 and record.benchmark.limit == 3
    assert record.seeds.fewshot_seed == 1234
    assert record.versions["lm_eval"] == "0.4.13" and record.versions["torch"]
    assert record.hardware.device == "cpu"
    assert record.timing.wall_seconds > 0
    # lm-eval's own output block is kept as lm-eval wrote it
    assert record.lm_eval["groups"]["bbh_bigbench_mc"]["acc,none"] == record.scores.primary.value
    snarks = record.datasets["bbh_bb_snarks"]
    assert snarks.n_items == 3 and "data/bbh_bb_snarks.test.jsonl.gz" in snarks.files
    assert record.n_samples["bbh_bb_snarks"].model_dump() == {"original": 178, "effective": 3}


@pytest.mark.slow
def test_primary_score_is_the_macro_mean_of_the_per_item_outcomes(tiny_run):
    _, written = tiny_run
    record = load_record(written[0])
    items = load_items(written[0])
    by_task = collections.defaultdict(list)
    for item in items:
        assert item.choice == max(range(len(item.loglikelihoods)), key=item.loglikelihoods.__getitem__)
        assert item.correct == (item.choice == item.target)
        by_task[item.task].append(item.score)
    macro = sum(sum(v) / len(v) for v in by_task.values()) / len(by_task)
    assert len(by_task) == 21 and len(items) == 63 == record.scores.primary.n
    assert macro == pytest.approx(record.scores.primary.value)


@pytest.mark.slow
def test_round_trip_of_a_copied_record(tiny_run, tmp_path):
    _, written = tiny_run
    copied = copy_record(written[0], tmp_path)
    assert load_record(copied) == load_record(written[0])
    assert load_items(copied) == load_items(written[0])


@pytest.mark.slow
def test_truncated_record_is_rejected_with_its_path(tiny_run, tmp_path):
    copied = copy_record(tiny_run[1][0], tmp_path)
    copied.write_text(copied.read_text()[:200])
    with pytest.raises(RecordError, match=f"{copied}: not valid JSON"):
        load_record(copied)


@pytest.mark.slow
@pytest.mark.parametrize(
    "edit,message",
    [
        (lambda r: r.pop("versions"), "x.json: versions: Field required"),
        (lambda r: r.update(schema_version="2.0"), "schema 2.0 is not readable"),
        (
            lambda r: r["scores"]["primary"].update(value="high"),
            "scores.primary.value: input should be a valid number, got 'high'",
        ),
        (lambda r: r["scores"]["primary"].update(n=0), "scores.primary.n: input should be greater than 0"),
        (lambda r: r.update(kind="something-else"), "kind: input should be 'claim-harness/score-record'"),
        (lambda r: r["model"].update(colour="red"), r"model: unknown key 'colour' \(allowed: display_name, "),
        (lambda r: r["datasets"]["bbh_bb_snarks"].update(n_items="3"), "datasets.bbh_bb_snarks.n_items: input should"),
    ],
)
def test_hand_edited_record_is_rejected_with_the_field_path(tiny_run, tmp_path, edit, message):
    record = json.loads(tiny_run[1][0].read_text())
    edit(record)
    with pytest.raises(RecordError, match=message):
        validate_record(record, tmp_path / "x.json")


def test_committed_default_run_records_still_read():
    """The records in results/ were written with schema 1.1; 1.x records all read."""
    paths = sorted((REPO / "results" / "records").glob("*/*/*.json"))
    assert paths
    for path in paths:
        record = load_record(path)
        assert record.schema_version.startswith("1.") and len(load_items(path)) == record.items.count


def test_exported_json_schema_is_current():
    """harness/schemas/record.schema.json is what the typed record says (regenerate with
    `python -m scripts.export_schemas`)."""
    assert json.loads(SCHEMA_FILE.read_text()) == json_schema()
    assert ScoreRecord.model_json_schema()["additionalProperties"] is False


@pytest.mark.slow
def test_changed_items_file_is_detected(tiny_run, tmp_path):
    copied = copy_record(tiny_run[1][0], tmp_path)
    items_path = copied.with_name(load_record(copied).items.file)
    rows = gzip.decompress(items_path.read_bytes()).decode().splitlines()
    items_path.write_bytes(gzip.compress("\n".join(rows[1:]).encode()))
    with pytest.raises(RecordError, match="sha256 does not match"):
        load_items(copied)


@pytest.mark.slow
def test_iter_records_reports_a_corrupt_file_and_goes_on(tiny_run, tmp_path):
    good = copy_record(tiny_run[1][0], tmp_path)
    bad = good.with_name("0000000000000000.json")
    bad.write_text("{")
    found = dict(iter_records(tmp_path))
    assert isinstance(found[bad], RecordError) and isinstance(found[good], ScoreRecord)


@pytest.mark.slow
def test_recomputing_a_cell_lands_on_the_same_file(tiny_run):
    from harness.config import compose_run
    from harness.run import run
    from harness.schema import parse_run_config

    results, written = tiny_run
    cfg = parse_run_config(
        compose_run(
            "model=[tiny_random_llama]",
            "benchmark=[bbh_bigbench_mc]",
            "limit=3",
            f"results_dir={results}",
            "force=true",
        )
    )
    again = run(cfg, {"id": "again"})
    assert again.written == written
    assert json.loads(written[0].read_text())["run"]["id"] == "again"
