"""Claims load, the verdict logic follows JSON cases, and real claims get verdicts today."""

import json
from pathlib import Path

import pytest

from harness import claims, stats
from harness.claims import Row
from harness.published import PublishedError, find, load_all, parse_setting
from harness.records import load_items
from harness.schema import ConfigError
from harness.verify import verify
from tests.helpers import CLAIM_TEXT, REPO

CASES = json.loads((Path(__file__).parent / "cases" / "verdicts.json").read_text())
CLAIM_CASES = json.loads((Path(__file__).parent / "cases" / "claims.json").read_text())
STATEMENT = {**CLAIM_TEXT, "margin_reason": "x"}


def case_claim(case: dict) -> claims.Claim:
    return claims.Claim(
        id="case",
        quantifier=case["quantifier"],
        min_count=case.get("min_count", 2),
        margin=case.get("margin"),
        claimed_gap=case.get("claimed_gap"),
        evidence_as_of="2024-01-01",
        **STATEMENT,
    )


def case_row(row: dict) -> Row:
    fields = {
        "benchmark": row["benchmark"],
        "label": row["benchmark"],
        "difference": row.get("difference"),
        "status": row.get("status", "compared"),
        "status_detail": row.get("detail"),
        "mde": row.get("mde"),
    }
    if "low" in row:
        fields["diff"] = stats.Difference(row["difference"], row["low"], row["high"], row["p"], "case", row.get("mde"))
    return Row(**fields)


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_verdict_logic(case):
    decision = claims.decide(case_claim(case), [case_row(r) for r in case["rows"]])
    assert decision.verdict == case["expected"], decision.reason
    assert sorted(decision.deciding) == sorted(case["named"]), decision.reason
    assert case.get("reason_contains", "") in decision.reason


@pytest.mark.parametrize("case", CLAIM_CASES, ids=[c["claim"] for c in CLAIM_CASES])
def test_seed_claims_from_the_published_tables(case, tmp_path):
    """Each defect a reader found, recomputed from the imported tables: verdict, rival,
    the rows that decided, the rows shown but not tested, item counts by subset."""
    verdict = verify([case["claim"]], tmp_path, 50)[0]
    assert verdict["verdict"] == case["expected"], verdict["reason"]
    assert verdict["rival_chosen"].split(", ")[0] == case["rival"]
    assert set(case["named"]) <= set(verdict["deciding_rows"]), verdict["deciding_rows"]
    published = {c["rival"]: c for c in verdict["comparisons"] if c["evidence"].startswith("published")}
    for rival, benchmarks in case["untested"].items():
        untested = [r["benchmark"] for r in published[rival]["rows"] if r["status"] in ("untestable", "setup mismatch")]
        assert untested == benchmarks
        assert all(f"{b} (" in verdict["why"] for b in benchmarks)  # the one-line why names them
    rows = {r["benchmark"]: r for c in published.values() for r in c["rows"]}
    for benchmark, n in case.get("n_items", {}).items():
        assert rows[benchmark]["n_items"] == n and rows[benchmark]["n_source"]
    assert {a["rival"]: a["verdict"] for a in verdict.get("sensitivity", [])} == case.get(
        "sensitivity", {}
    ) or "sensitivity" not in case
    checks = {f"{c['subject']} vs {c['rival']}": c["verdict"] for c in verdict.get("rule_checks", [])}
    assert checks == case.get("rule_checks", {})  # the same rule on other pairs of the table
    assert "None" not in json.dumps(verdict)


@pytest.mark.parametrize("name", claims.claim_names())
def test_every_claim_file_states_semantics_margin_and_rivals(name):
    claim = claims.load_claims([name])[0]
    assert claim.statement.original and claim.said_by and claim.when and claim.label
    if claim.quantifier == "out_of_scope":
        return
    assert len(claim.semantics) > 40 and claim.margin_reason
    if claim.quantifier in ("on_par", "on_par_or_better", "reproduces"):
        assert claim.margin == 3.0 and "policy" in claim.margin_reason  # one margin policy for every parity claim
    for evidence in (claim.published, claim.measured, claim.measured_vs_published):
        for rival in evidence.rivals if evidence else []:
            assert rival.why
    if claim.published:  # every published comparison names numbers that exist
        for model in [
            claim.published.subject,
            *[r.name for r in claim.published.rivals + claim.published.alternatives],
        ]:
            assert find(claim.published.table, model)


def test_a_claim_with_an_unknown_key_names_the_field(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "statement: {original: x}\nsaid_by: x\nwhere: x\nwhen: x\n"
        "quantifier: beats\nsemantics: x\nmargin_reason: x\nrivalz: [a]\n"
    )
    with pytest.raises(ConfigError, match=r"claim bad: unknown key 'rivalz' \(allowed: id, "):
        claims.load_claim(tmp_path / "bad.yaml")


def test_a_parity_claim_without_its_margin_reason_is_refused(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "statement: {original: x}\nsaid_by: x\nwhere: x\nwhen: x\nquantifier: on_par\nsemantics: x\nmargin: 3\n"
    )
    with pytest.raises(ConfigError, match="state the margin policy and its reason"):
        claims.load_claim(tmp_path / "bad.yaml")


def test_every_published_entry_validates():
    entries = load_all()
    assert len(entries) == 1213  # 1,190 curated cells + 23 cells of the Llama 2 paper's Table 4
    table2 = [e for e in entries if e.table.startswith("Llama 3 Herd paper Table 2")]
    gpt4o_mmlu = [e for e in table2 if e.model == "GPT-4o" and e.setting == "0-shot, CoT" and e.benchmark == "MMLU"][0]
    assert gpt4o_mmlu.value == 88.7 and gpt4o_mmlu.self_reported is True and gpt4o_mmlu.evaluator == "OpenAI"
    assert all(e.source.url or e.source.document for e in entries)


def test_each_cell_carries_its_own_setup():
    blog = "Meta Llama 3 blog (Apr 2024) instruct comparison — SECONDARY transcription"
    gemini = {e.benchmark: e.setup for e in find(blog, "Gemini Pro 1.5 (published by Google)")}
    llama = {e.benchmark: e.setup for e in find(blog, "Llama 3 70B Instruct")}
    assert (gemini["GSM-8K"].shots, llama["GSM-8K"].shots) == (11, 8)
    assert gemini["MATH"].prompt == "Minerva prompt" and llama["MATH"].prompt is None
    assert (gemini["GPQA"].cot, llama["GPQA"].cot) == (True, False)
    claude = {e.benchmark: e.setup for e in find(blog, "Claude 3 Sonnet (published by Anthropic)")}
    assert claude["GSM-8K"].shots == 0
    table2 = "Llama 3 Herd paper Table 2 (finetuned models)"
    assert find(table2, "Claude 3.5 Sonnet", "GSM8K")[0].setup.shots == 0
    assert find(table2, "GPT-4o", "GPQA")[0].setup.subset == "main"
    assert find("simple-evals README benchmark table", "gpt-4o", "GPQA")[0].setup.subset == "diamond"
    assert find("Mistral 7B paper Table 2", "Mistral 7B (base)", "MBPP")[0].setup.subset == "sanitized"


def test_provenance_labels_follow_the_sources():
    blog = "Meta Llama 3 blog (Apr 2024) base comparison — SECONDARY transcription"
    published = find(blog, "Gemma 7B (published)")[0]
    assert (published.evaluator, published.self_reported) == ("Google", True)
    measured = find(blog, "Gemma 7B (Meta-measured)")[0]
    assert (measured.evaluator, measured.self_reported) == ("Meta", False)
    qwen = find("Qwen README Performance table, Aug 2023 original", "LLaMA 2-7B (base)", "MMLU")[0]
    assert (qwen.evaluator, qwen.self_reported, qwen.reported_by) == ("Meta", True, "Alibaba")
    report = [e for e in find("simple-evals README benchmark table", "Llama3 70b (report)", "MMLU")]
    assert all(e.setup.shots == 5 and "0-shot" not in e.setting for e in report)
    table2 = "Llama 3 Herd paper Table 2 (finetuned models)"
    assert all("per model card" not in e.setting for e in find(table2, "GPT-4o") + find(table2, "Claude 3.5 Sonnet"))
    assert "per model card" in find(table2, "Llama 3.1 405B Instruct", "MMLU", "5-shot")[0].setting
    gpt35 = find("Llama 2 paper Table 4 (comparison to closed-source models)", "GPT-3.5", "GSM8K")[0]
    assert gpt35.setup.shots == 5 and gpt35.evaluator == "OpenAI" and gpt35.setting == "8-shot"


def test_item_counts_are_keyed_by_subset():
    from harness.claims.items import items_for

    assert items_for("GPQA", "main").n == 448 and items_for("GPQA", "diamond").n == 198
    assert items_for("GPQA", None).n is None and "differ by subset" in items_for("GPQA", None).why
    assert items_for("MBPP", "sanitized").n == 257 and items_for("MBPP", None).n == 500
    assert items_for("NIH/Multi-needle", None).n is None
    assert all(items_for(b, None).why for b in ("BFCL", "Nexus", "ZeroSCROLLS/QuALITY"))


def test_unknown_published_model_lists_the_table_models():
    with pytest.raises(PublishedError, match=r"has no model 'GPT-5' \(it has: .*GPT-4o"):
        find("Llama 3 Herd paper Table 2 (finetuned models)", "GPT-5")


def test_a_corrupt_published_file_names_file_and_entry(tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "table: T\nentries:\n  - {model: M, benchmark: B, setting: s, value: high, source: {url: u}}\n"
    )
    with pytest.raises(PublishedError, match="bad.yaml entry 0: value: 'high' is not a number"):
        load_all(tmp_path)


def test_setting_parser_applies_table_footnotes():
    assert parse_setting("8-shot, CoT [table footnote ♦: 0-shot]") == {"shots": 0, "cot": True, "text": "0-shot"}
    assert parse_setting("0-shot, CoT [table footnote ◁: without CoT]")["cot"] is False
    assert parse_setting("3-5 shot")["shots"] is None
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
    assert all("mde" in r for r in rows if r["status"] == "compared")  # every tested row states its power
    gsm8k = [
        r for r in [c for c in published if c["rival"] == "Claude 3.5 Sonnet"][0]["rows"] if r["benchmark"] == "GSM8K"
    ][0]
    assert gsm8k["status"] == "setup mismatch" and "shots differ: 8-shot vs 0-shot" in gsm8k["parity_warnings"]
    assert any("vendor's own number" in w for w in verdict["setup_parity_warnings"])
    assert verdict["verdict"] in claims.VERDICTS
    assert (
        json.loads((tmp_path / "verdicts" / "llama31_405b_beats_gpt4o_claude35.json").read_text())["verdict"]
        == verdict["verdict"]
    )


def test_out_of_scope_claims_say_why(tmp_path):
    verdict = verify(["out_of_scope_downloads_and_costs"], tmp_path, 10)[0]
    assert verdict["verdict"] == "out of scope" and "business facts" in verdict["reason"]


@pytest.mark.slow
def test_claim_8_from_real_cpu_records_of_both_packaged_models(packaged_run):
    results, _ = packaged_run
    verdict = verify(["smollm2_135m_beats_gemma3_270m_bbh"], results, 300)[0]
    measured = verdict["comparisons"][0]
    assert verdict["decided_by"] == "measured vs measured (paired, same items)"
    row = next(r for r in measured["rows"] if r["benchmark"] == "bbh_bigbench_mc")
    assert row["n_items"] == 42 and row["method"] == "McNemar exact (paired 0/1)"
    assert row["ci95"][0] <= row["difference"] <= row["ci95"][1]
    assert "variants differ: instruct vs base" in row["parity_warnings"]
    assert row["mde"] > 0 and "discordance" in row["mde_basis"] and 0 < row["chance"] < 60
    assert row["clustered_se"] > 0
    pending = [r["benchmark"] for r in measured["rows"] if r["status"] == "not yet measured"]
    assert pending == ["bbh_3shot", "bbh_3shot_cot", "bbh_bigbench_mc_3shot"]  # configs without records yet
    # the claim names Gemma 3 270M IT in bf16; we measure the pretrained 4-bit GGUF
    assert any("gemma3_270m is the base model" in p for p in verdict["proxy"])
    assert verdict["why"].startswith("about a proxy") and "about a proxy" in verdict["reason"]
    reproduction = {r["model"]: r for r in verdict["reproduction"]}
    assert reproduction["smollm2_135m_instruct"]["published"] == 28.2
    assert reproduction["gemma3_270m"]["published"] == 26.7
    assert "shots differ: 0-shot vs 3-shot" in reproduction["smollm2_135m_instruct"]["parity_warnings"]
    assert verdict["verdict"] in ("supported", "refuted", "inconclusive")


@pytest.mark.slow
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


@pytest.mark.slow
def test_measured_score_against_a_published_number(tiny_run):
    """A real record (tiny random Llama on shipped BBH) against a real published point."""
    results, written = tiny_run
    from harness.records import iter_records

    claim = claims.Claim(
        id="mvp",
        quantifier="beats",
        measured_vs_published={
            "subject": "tiny_random_llama",
            "table": "SmolLM2-135M-Instruct card — Instruction model",
            "rivals": [{"name": "SmolLM2-135M-Instruct", "why": "test"}],
            "benchmarks": {"bbh_bigbench_mc": "BBH|3-shot"},
        },
        **STATEMENT,
    )
    verdict = claims.judge(claim, list(iter_records(results)), load_all(), load_items, 100)
    row = verdict.comparisons[0].rows[0]
    assert verdict.decided_by.startswith("measured vs published")
    assert row.rival == 28.2 and row.difference == pytest.approx(row.subject - 28.2, abs=0.01)
    # our record is 0-shot, the card's cell 3-shot: shown, never tested
    assert row.status == "setup mismatch" and "shots differ: 0-shot vs 3-shot" in row.parity_warnings
    assert verdict.verdict == "inconclusive" and "not tested: bbh_bigbench_mc" in verdict.reason


def test_claim_1_is_ready_for_measured_405b_records(tmp_path):
    verdict = verify(["llama31_405b_beats_gpt4o_claude35"], tmp_path, 50)[0]
    pending = [c for c in verdict["comparisons"] if c["evidence"].startswith("measured vs published")]
    assert len(pending) == 2 and all(c["verdict"] == "not yet measured" for c in pending)
    assert all(
        r["status"] == "not yet measured" and r["status_detail"] == "no record for llama31_405b_instruct"
        for c in pending
        for r in c["rows"]
    )


def test_a_later_smoke_run_does_not_stand_in_for_the_full_size_record():
    """Committed records of one cell: SmolLM2's full PIQA (n=1,838) and a `limit=50` run. Even
    when the limited run finished later, a verdict reads the full-size one."""
    found = [
        (path, json.loads(path.read_text()))
        for path in sorted((REPO / "results/records/smollm2_135m_instruct/piqa_0shot").glob("*.json"))
    ]
    full = [path for path, record in found if record["benchmark"]["limit"] is None]
    limited = [(path, record) for path, record in found if record["benchmark"]["limit"] == 50]
    assert full and limited, "the committed results lost one of the two PIQA records"
    path, record = limited[0]
    later = {**record, "timing": {**record["timing"], "finished_at": "2999-01-01T00:00:00+00:00"}}
    chosen = claims.record_per_cell([(p, r) for p, r in found if p != path] + [(path, later)])
    assert chosen["smollm2_135m_instruct", "piqa_0shot"][0] in full
