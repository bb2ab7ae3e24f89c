"""Card-reproduction and head-to-head claims: the tolerance rule (JSON cases) and the
claims judged on real committed records (results/records; no model loads) or on records
of a small real run (slow)."""

import json
import shutil
from pathlib import Path

import pytest
import yaml

from harness import CONFIG_DIR, claims
from harness.claims.decide import decide_reproduction
from harness.claims.evidence import plain
from harness.claims.model import ReproductionRow
from harness.published import load_all
from harness.records import iter_records, load_items
from harness.verify import verify
from tests.helpers import CLAIM_TEXT, run_cli

CASES = json.loads((Path(__file__).parent / "cases" / "reproduction.json").read_text())
RECORDS = Path(__file__).parent / "data" / "records"  # frozen copies (README there)
SMOLLM_PIQA_FULL = "smollm2_135m_instruct/piqa_0shot/128dc9690012934d"  # n=1,838, acc_norm 64.31
SMOLLM_PIQA_50 = "smollm2_135m_instruct/piqa_0shot/b3202ff5e6a8399b"  # the default run's first 50 items
SMOKE = [  # both models, the default run (limit 50) and the shipped BBH substitute (40 per subtask)
    "smollm2_135m_instruct/arc_easy_0shot/2d73da8a5928266c",
    "gemma3_270m/arc_easy_0shot/6348daf7e7f01a9c",
    "smollm2_135m_instruct/boolq_0shot/aa717565c893348c",
    "gemma3_270m/boolq_0shot/00f9ece41d59f4c0",
    "gemma3_270m/piqa_0shot/0b8cdb23983d78ca",
    "smollm2_135m_instruct/bbh_bigbench_mc/ededbbbc63d1b5c6",
    "gemma3_270m/bbh_bigbench_mc/6a5373cec8901995",
]
REPRODUCTION_CLAIMS = [
    "smollm2_135m_instruct_reproduces_card",
    "gemma3_270m_reproduces_pt_card",
    "gemma3_270m_reproduces_it_card",
]
HEAD_TO_HEAD = "smollm2_vs_gemma3_270m_head_to_head"
C8 = "smollm2_135m_beats_gemma3_270m_bbh"


def results_with(tmp_path: Path, *stems: str) -> Path:
    """A results directory holding copies of the named committed records (record + items)."""
    for stem in stems:
        for suffix in (".json", ".items.jsonl.gz"):
            target = tmp_path / "records" / f"{stem}{suffix}"
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(RECORDS / f"{stem}{suffix}", target)
    return tmp_path


def case_row(row: dict) -> ReproductionRow:
    measured = row.get("gap") is not None
    return ReproductionRow(
        model="m",
        benchmark=row["label"],
        label=row["label"],
        status=row.get("status", "published value inside our 95% CI"),
        published=50.0,
        measured=50.0 + row["gap"] if measured else None,
        gap=row.get("gap"),
        stderr=row.get("stderr"),
        n_items=100,
        limit=row.get("limit"),
    )


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_reproduction_tolerance_rule(case):
    claim = claims.Claim(
        id="case",
        quantifier="reproduces",
        margin=case["tolerance"],
        margin_reason="x",
        **CLAIM_TEXT,
        reproduction=[
            {"model": "m", "benchmark": "b", "table": "t", "published_model": "m", "published_benchmark": "b"}
        ],
    )
    rows = [case_row(r) for r in case["rows"]]
    decision = decide_reproduction(claim, rows)
    assert [r.outcome for r in rows] == case["outcomes"], decision.reason
    assert decision.verdict == case["expected"], decision.reason
    assert sorted(decision.deciding) == sorted(case["named"]), decision.reason
    assert case.get("reason_contains", "") in decision.reason
    assert all(case.get("note_contains", "") in (r.power_note or "") for r in rows if r.outcome == "unclear")


def reproduction_claim(tolerance: float, rows: list[dict]) -> claims.Claim:
    return claims.Claim(
        id="repro", quantifier="reproduces", margin=tolerance, margin_reason="x", reproduction=rows, **CLAIM_TEXT
    )


SMOLLM_CARD_PIQA = {
    "model": "smollm2_135m_instruct",
    "benchmark": "piqa_0shot",
    "table": "SmolLM2-135M-Instruct card — Instruction model",
    "published_model": "SmolLM2-135M-Instruct",
    "published_benchmark": "PIQA",
}


@pytest.mark.parametrize(
    ("tolerance", "card", "verdict", "outcome"),
    [
        (3.0, {}, "inconclusive", "unclear"),  # 64.31 vs 66.3: 90% CI of the gap [-3.8, -0.2]
        (4.0, {}, "supported", "reproduced"),
        # the rule, not the card: the same record against the Gemma PT card's 67.7
        (
            1.0,
            {"table": "Gemma 3 model card — Gemma 3 PT 270M", "published_model": "Gemma 3 270M PT (pretrained)"},
            "refuted",
            "not reproduced",
        ),
    ],
)
def test_the_rule_on_a_real_full_size_record(tmp_path, tolerance, card, verdict, outcome):
    results = results_with(tmp_path, SMOLLM_PIQA_FULL, SMOLLM_PIQA_50)
    claim = reproduction_claim(tolerance, [{**SMOLLM_CARD_PIQA, **card}])
    result = claims.judge(claim, list(iter_records(results)), load_all(), load_items)
    row = result.reproduction[0]
    assert (result.verdict, row.outcome) == (verdict, outcome), result.reason
    assert row.n_items == 1838 and row.measured == 64.31 and row.metric == "acc_norm"  # the full record, not the 50
    assert row.ci95 == [round(64.309 - 1.96 * 1.1178, 2), round(64.309 + 1.96 * 1.1178, 2)]
    assert "harness differs: lm-eval 0.4.13 vs lighteval" in row.parity_warnings or card
    assert any(w.startswith("ours: GGUF Q4_1 weights (dequantized), run in float32") for w in row.parity_warnings)


def test_the_ifeval_card_metric_is_the_mean_of_prompt_and_instruction_level_accuracy(tmp_path):
    """A real IFEval record (3 prompts): the card's 'Average prompt/inst' from the record's
    metrics; lm-eval gives no stderr for instruction-level scores: binomial over the prompts."""
    results = results_with(tmp_path, "smollm2_135m_instruct/ifeval/89f9c3614ed6f4bf")
    claim = claims.load_claims(["smollm2_135m_instruct_reproduces_card"])[0]
    row = claims.judge(claim, list(iter_records(results)), load_all(), load_items).reproduction[0]
    assert row.metric == "mean of prompt_level_strict_acc, inst_level_strict_acc"
    assert row.measured == round(100 * (2 / 3 + 0.8) / 2, 2) and row.published == 29.9
    assert row.stderr == pytest.approx((100 / 3 + 100 * (0.8 * 0.2 / 3) ** 0.5) / 2, abs=1e-3)
    assert row.outcome == "limited run" and row.label == "ifeval (0-shot, chat template)"


def test_a_card_metric_is_the_mean_of_named_record_metrics(tmp_path):
    results = results_with(tmp_path, SMOLLM_PIQA_FULL)
    rows = [{**SMOLLM_CARD_PIQA, "metric": ["acc", "acc_norm"]}, {**SMOLLM_CARD_PIQA, "metric": ["exact_match"]}]
    result = claims.judge(reproduction_claim(3.0, rows), list(iter_records(results)), load_all(), load_items)
    mean, missing = result.reproduction
    assert mean.metric == "mean of acc, acc_norm" and mean.measured == 64.31
    assert missing.status.startswith("metric missing: the record has no exact_match (it has: acc, acc_norm)")
    assert result.verdict == "inconclusive"  # the row that cannot be read stays pending, named


@pytest.mark.parametrize("name", REPRODUCTION_CLAIMS)
def test_every_card_row_of_a_reproduction_claim_finds_its_published_number(name, tmp_path):
    verdict = verify([name], tmp_path, 50)[0]
    assert verdict["verdict"] == "not yet measured"  # no records in an empty results directory
    assert all(r.get("published") is not None for r in verdict["reproduction"]), verdict["reproduction"]
    measurable = [r for r in verdict["reproduction"] if not r["status"].startswith("not measurable")]
    assert measurable and all(r["status"] == "not yet measured" for r in measurable)


def test_reproduction_claims_cover_every_card_row_card_repro_runs():
    """Each (packaged model, card row) that a card_repro benchmark config covers has a row."""
    suite = yaml.safe_load((CONFIG_DIR / "suite" / "card_repro.yaml").read_text())["defaults"][0]["/benchmark"]
    covered = {
        (r.model, r.published_benchmark, r.table)
        for c in claims.load_claims(REPRODUCTION_CLAIMS)
        for r in c.reproduction
        if not r.not_measurable
    }
    cards = {e.table: e for e in load_all() if e.table.startswith(("SmolLM2-135M-Instruct card", "Gemma 3 model card"))}
    assert len(covered) == 14  # SmolLM2 5, Gemma PT 5, Gemma IT 4 (IFEval: no chat template)
    assert {
        b for c in claims.load_claims(REPRODUCTION_CLAIMS) for r in c.reproduction for b in [r.benchmark] if b in suite
    } >= set(suite) - {"truthfulqa_mc2", "mmlu_5shot"}  # no card prints these two
    assert {t for _, _, t in covered} == set(cards)


def test_head_to_head_names_every_card_repro_benchmark():
    suite = yaml.safe_load((CONFIG_DIR / "suite" / "card_repro.yaml").read_text())["defaults"][0]["/benchmark"]
    assert set(suite) <= set(claims.load_claims([HEAD_TO_HEAD])[0].measured.benchmarks)


def test_every_card_and_head_to_head_claim_gets_a_verdict_from_committed_records(tmp_path):
    results = results_with(tmp_path, SMOLLM_PIQA_FULL, *SMOKE)
    verdicts = {v["claim"]: v for v in verify([*REPRODUCTION_CLAIMS, HEAD_TO_HEAD, C8], results, 200)}
    assert all(v["verdict"] in claims.VERDICTS for v in verdicts.values())
    smollm = {r["benchmark"]: r for r in verdicts["smollm2_135m_instruct_reproduces_card"]["reproduction"]}
    assert smollm["piqa_0shot"]["outcome"] == "unclear" and smollm["bbh_3shot"]["status"] == "not yet measured"
    assert verdicts["smollm2_135m_instruct_reproduces_card"]["verdict"] == "inconclusive"
    it_card = verdicts["gemma3_270m_reproduces_it_card"]
    assert it_card["why"].startswith("about a proxy") and "pretrained" in it_card["proxy"][0]
    pt_rows = {r["benchmark"]: r for r in verdicts["gemma3_270m_reproduces_pt_card"]["reproduction"]}
    assert pt_rows["boolq_0shot"]["outcome"] == "limited run"  # the first 50 items are no sample of the set
    assert any("only the first 50 items" in w for w in pt_rows["boolq_0shot"]["parity_warnings"])
    # head to head: paired on the same items, Holm across rows, power stated; the rest pending
    rows = {r["benchmark"]: r for r in verdicts[HEAD_TO_HEAD]["comparisons"][0]["rows"]}
    tested = [b for b, r in rows.items() if r["status"] == "compared"]
    assert sorted(tested) == ["arc_easy_0shot", "bbh_bigbench_mc", "boolq_0shot", "piqa_0shot"]
    assert rows["piqa_0shot"]["n_items"] == 50  # the full SmolLM2 record paired on Gemma's 50 items
    piqa = rows["piqa_0shot"]  # both scores shown on those 50 items, so they match the difference
    assert piqa["subject"] - piqa["rival"] == pytest.approx(piqa["difference"], abs=0.02) and piqa["subject"] != 64.31
    assert "scores shown on the 50 items both records scored (the records hold 1838 and 50)" in piqa["parity_warnings"]
    assert all(rows[b]["p_holm"] >= rows[b]["p_value"] and rows[b]["mde"] > 0 for b in tested)
    assert rows["boolq_0shot"]["outcome"] == "loss"  # SmolLM2 24% vs Gemma 72% on the same 50 items
    assert verdicts[HEAD_TO_HEAD]["verdict"] == "refuted"
    assert rows["mmlu_5shot"]["status"] == "not yet measured"
    assert rows["ifeval"]["status"].startswith("not measurable here: IFEval needs a chat template")


def test_c8_is_judged_on_the_substitute_until_lm_evals_bbh_has_records(tmp_path):
    results = results_with(tmp_path, *SMOKE)
    verdict = verify([C8], results, 200)[0]
    rows = {r["benchmark"]: r for r in verdict["comparisons"][0]["rows"]}
    assert rows["bbh_3shot"]["status"] == "not yet measured" and rows["bbh_bigbench_mc"]["status"] == "compared"
    assert verdict["deciding_rows"] == ["bbh_bigbench_mc (0-shot)"]
    assert "on the substitute bbh_bigbench_mc (0-shot) until bbh_3shot or bbh_3shot_cot has records" in verdict["why"]
    assert "power (MDE at 80%, alpha 0.05): bbh_bigbench_mc (0-shot) 4.8 points" in verdict["reason"]


def test_a_fallback_setting_is_superseded_once_the_primary_has_records(tmp_path):
    results = results_with(tmp_path, *SMOKE)
    measured = {
        "subject": "smollm2_135m_instruct",
        "rivals": [{"name": "gemma3_270m", "why": "test"}],
        "benchmarks": ["boolq_0shot"],
        "fallback_benchmarks": ["arc_easy_0shot"],
    }
    claim = claims.Claim(id="fb", quantifier="beats", margin_reason="x", measured=measured, **CLAIM_TEXT)
    verdict = claims.judge(claim, list(iter_records(results)), load_all(), load_items, 100)
    rows = {r.benchmark: r for r in verdict.comparisons[0].rows}
    assert rows["arc_easy_0shot"].status == "superseded" and rows["arc_easy_0shot"].difference is None
    assert rows["arc_easy_0shot"].subject == 44.0  # its scores stay visible
    assert verdict.deciding_rows == ["boolq_0shot (0-shot)"] and verdict.verdict == "refuted"
    measured["benchmarks"] = ["mmlu_5shot"]  # no records: the fallback decides
    claim = claims.Claim(id="fb", quantifier="beats", margin_reason="x", measured=measured, **CLAIM_TEXT)
    verdict = claims.judge(claim, list(iter_records(results)), load_all(), load_items, 100)
    assert verdict.deciding_rows == ["arc_easy_0shot (0-shot)"]


@pytest.mark.slow
def test_c8_on_lm_evals_3shot_bbh_from_a_small_real_run(tmp_path):
    """Both packaged models on lm-eval's bbh_3shot (1 item per subtask, 27 items) -> C8 is
    judged on it, the substitute rows no longer decide, and the reason states the power."""
    result = run_cli("benchmark=[bbh_3shot]", "limit=1", f"results_dir={tmp_path}")
    assert result.returncode == 0, result.stderr[-3000:]
    results_with(tmp_path, *[s for s in SMOKE if "bbh_bigbench_mc" in s])
    verdict = verify([C8], tmp_path, 200)[0]
    rows = {r["benchmark"]: r for r in verdict["comparisons"][0]["rows"]}
    assert rows["bbh_3shot"]["status"] == "compared" and rows["bbh_3shot"]["n_items"] == 27
    lines = [item for path in tmp_path.glob("records/*/bbh_3shot/*.json") for item in load_items(path)]
    assert {item.filter for item in lines} == {"none", "remove_whitespace"} and len(lines) == 2 * 2 * 27
    assert rows["bbh_bigbench_mc"]["status"] == "superseded" and "bbh_3shot" in rows["bbh_bigbench_mc"]["status_detail"]
    assert verdict["deciding_rows"] == [rows["bbh_3shot"]["label"]] and "substitute" not in verdict["why"]
    assert f"{rows['bbh_3shot']['label']} {rows['bbh_3shot']['mde']:.1f} points" in verdict["reason"]
    assert "against the claimed gap of 1.5" in verdict["reason"]
    repro = {(r["model"], r["benchmark"]): r for r in verdict["reproduction"]}
    assert repro[("smollm2_135m_instruct", "bbh_3shot")]["n_items"] == 27


def test_items_of_a_multi_filter_record_are_read_for_the_primary_filter_only():
    """lm-eval logs one line per (item, filter) without the filter's name (bbh_3shot: `none`,
    then `remove_whitespace`); pairing must use the primary filter's lines only."""
    from harness.claims.evidence import primary_filter_items

    record = json.loads((RECORDS / f"{SMOLLM_PIQA_50}.json").read_text())
    items = [plain(i) for i in load_items(RECORDS / f"{SMOLLM_PIQA_50}.json")]
    assert primary_filter_items(record, items) == items  # one filter: unchanged
    unfiltered = [{**i, "score": 0.0} for i in items]
    logged = [line for pair in zip(unfiltered, items, strict=True) for line in pair]  # lm-eval's order per item
    with pytest.raises(ValueError, match="2 lines per item and no filter list naming 'none'"):
        primary_filter_items(record, logged)
    two_filters = {"filter_list": [{"name": "raw"}, {"name": "none"}]}
    record["benchmark"]["task_overrides"] = two_filters
    assert primary_filter_items(record, logged) == items
    record["benchmark"]["metric_filter"] = "raw"
    assert primary_filter_items(record, logged) == unfiltered
    # since schema 1.3 each line names its filter, and that decides, whatever the order
    named = [{**i, "filter": "none"} for i in items] + [{**i, "filter": "raw"} for i in unfiltered]
    assert primary_filter_items(record, named) == named[len(items) :]
    record["benchmark"]["metric_filter"] = "none"
    assert primary_filter_items(record, named) == named[: len(items)]
