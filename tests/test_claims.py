"""Claims load, the verdict logic follows JSON cases, and real claims get verdicts today."""
import json
from pathlib import Path

import pytest

from harness import claims, stats
from harness.published import PublishedError, find, load_all, parse_setting
from harness.records import load_items
from harness.schema import ConfigError
from harness.verify import verify

CASES = json.loads((Path(__file__).parent / "cases" / "verdicts.json").read_text())


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_verdict_logic(case):
    claim = claims.Claim(id="case", quantifier=case["quantifier"], min_count=case.get("min_count", 2),
                         margin=case.get("margin", 2.0))
    rows = []
    for row in case["rows"]:
        row = dict(row)
        if "low" in row:
            row["_diff"] = stats.Difference(row["difference"], row.pop("low"), row.pop("high"), row.pop("p"), "case")
        elif "difference" in row:
            row["_diff"] = None
        rows.append(row)
    verdict, reason = claims.decide(claim, rows)
    assert verdict == case["expected"], reason


@pytest.mark.parametrize("name", claims.claim_names())
def test_every_claim_file_loads(name):
    claim = claims.load_claims([name])[0]
    assert claim.statement.original and claim.said_by and claim.when
    if claim.published:  # every published comparison names numbers that exist
        for model in [claim.published.subject, *claim.published.rivals]:
            assert find(claim.published.table, model)


def test_every_published_entry_validates():
    entries = load_all()
    assert len(entries) == 1190
    table2 = [e for e in entries if e.table.startswith("Llama 3 Herd paper Table 2")]
    gpt4o_mmlu = [e for e in table2 if e.model == "GPT-4o" and e.setting == "0-shot, CoT"
                  and e.benchmark == "MMLU"][0]
    assert gpt4o_mmlu.value == 88.7 and gpt4o_mmlu.self_reported is True and gpt4o_mmlu.evaluator == "OpenAI"
    assert all(e.source.get("url") or e.source.get("document") for e in entries)


def test_unknown_published_model_lists_the_table_models():
    with pytest.raises(PublishedError, match=r"has no model 'GPT-5' \(it has: .*GPT-4o"):
        find("Llama 3 Herd paper Table 2 (finetuned models)", "GPT-5")


def test_a_corrupt_published_file_names_file_and_entry(tmp_path):
    (tmp_path / "bad.yaml").write_text("table: T\nentries:\n  - {model: M, benchmark: B, setting: s, value: high, source: {url: u}}\n")
    with pytest.raises(PublishedError, match="bad.yaml entry 0: value 'high' is not a number"):
        load_all(tmp_path)


def test_setting_parser_applies_table_footnotes():
    assert parse_setting("8-shot, CoT [table footnote ♦: 0-shot]") == {"shots": 0, "cot": None, "text": "0-shot"}
    assert parse_setting("5-shot, no CoT")["cot"] is False and parse_setting("0-shot, CoT")["cot"] is True


def test_unknown_claim_lists_the_valid_ones():
    with pytest.raises(ConfigError, match="unknown claim 'nope' \\(valid: .*smollm2_135m_beats_gemma3_270m_bbh"):
        claims.load_claims(["nope"])


def test_claim_1_gets_a_verdict_from_published_numbers_alone(tmp_path):
    verdict = verify(["llama31_405b_beats_gpt4o_claude35"], tmp_path, 200)[0]
    assert verdict["decided_by"].startswith("published vs published")
    published = [c for c in verdict["comparisons"] if c["evidence"].startswith("published")]
    gpt4o = [c for c in published if c["rival"] == "GPT-4o"][0]
    rows = [r for r in gpt4o["rows"] if "difference" in r]
    assert len(rows) == 16
    assert sum(r["difference"] > 0 for r in rows) == 9 and sum(r["difference"] < 0 for r in rows) == 7
    gsm8k = [r for r in [c for c in published if c["rival"] == "Claude 3.5 Sonnet"][0]["rows"]
             if r["benchmark"] == "GSM8K"][0]
    assert "different shots: 8 vs 0" in gsm8k["parity_warnings"]
    assert any("vendor's own number" in w for w in verdict["setup_parity_warnings"])
    assert verdict["verdict"] in claims.VERDICTS
    assert json.loads((tmp_path / "verdicts" / "llama31_405b_beats_gpt4o_claude35.json").read_text())["verdict"] \
        == verdict["verdict"]


def test_out_of_scope_claims_say_why(tmp_path):
    verdict = verify(["out_of_scope_downloads_and_costs"], tmp_path, 10)[0]
    assert verdict["verdict"] == "out of scope" and "business facts" in verdict["reason"]


def test_claim_8_from_real_cpu_records_of_both_packaged_models(packaged_run):
    results, _ = packaged_run
    verdict = verify(["smollm2_135m_beats_gemma3_270m_bbh"], results, 300)[0]
    measured = verdict["comparisons"][0]
    assert verdict["decided_by"] == "measured vs measured (paired, same items)"
    row = measured["rows"][0]
    assert row["n_items"] == 42 and row["method"] == "McNemar exact (paired 0/1)"
    assert row["ci95"][0] <= row["difference"] <= row["ci95"][1]
    assert "variants differ: instruct vs base" in row["parity_warnings"]
    reproduction = {r["model"]: r for r in verdict["reproduction"]}
    assert reproduction["smollm2_135m_instruct"]["published"] == 28.2
    assert reproduction["gemma3_270m"]["published"] == 26.7
    assert "shots differ: measured 0, published 3" in reproduction["smollm2_135m_instruct"]["parity_warnings"]
    assert verdict["verdict"] in ("supported", "refuted", "inconclusive")


def test_verify_skips_a_corrupt_record_and_names_it(packaged_run, tmp_path, capsys):
    import shutil
    results, _ = packaged_run
    copy = tmp_path / "results"
    shutil.copytree(results, copy)
    bad = next(copy.glob("records/gemma3_270m/*/*.json"))
    bad.write_text("{ truncated")
    verdict = verify(["smollm2_135m_beats_gemma3_270m_bbh"], copy, 50)[0]
    assert f"skipped: {bad}: not valid JSON" in capsys.readouterr().err
    assert verdict["verdict"] == "not yet measured"


def test_measured_score_against_a_published_number(tiny_run):
    """A real record (tiny random Llama on shipped BBH) against a real published point."""
    results, written = tiny_run
    from harness.records import iter_records
    claim = claims.Claim(id="mvp", quantifier="beats", measured_vs_published={
        "subject": "tiny_random_llama", "table": "SmolLM2-135M-Instruct card — Instruction model",
        "rivals": ["SmolLM2-135M-Instruct"], "benchmarks": {"bbh_bigbench_mc": "BBH|3-shot"}})
    claim.measured_vs_published = claims.build(claims.MeasuredVsPublished, claim.measured_vs_published, "t")
    verdict = claims.judge(claim, list(iter_records(results)), load_all(), load_items, 100)
    row = verdict["comparisons"][0]["rows"][0]
    assert verdict["decided_by"].startswith("measured vs published")
    assert row["rival"] == 28.2 and row["difference"] == pytest.approx(row["subject"] - 28.2, abs=0.01)
    assert row["ci95"][0] < row["difference"] < row["ci95"][1]
    assert "different shots: 0 vs 3" in row["parity_warnings"]


def test_claim_1_is_ready_for_measured_405b_records(tmp_path):
    verdict = verify(["llama31_405b_beats_gpt4o_claude35"], tmp_path, 50)[0]
    pending = [c for c in verdict["comparisons"] if c["evidence"].startswith("measured vs published")]
    assert len(pending) == 2 and all(c["verdict"] == "not yet measured" for c in pending)
    assert all(r["status"].startswith("not yet measured: no record for llama31_405b_instruct")
               for c in pending for r in c["rows"])
