"""Reports from real records and verdicts, opened in headless Chromium."""

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from harness.records import load_record
from harness.report import runs_note, write_report
from harness.verify import verify

ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


@pytest.fixture(scope="module")
def report_dir(packaged_run, tiny_run, tmp_path_factory):
    """Real records of both packaged models + the tiny model, all claims judged, plus the
    awkward cases: a cell run twice, a cell not run, a corrupt record."""
    results = tmp_path_factory.mktemp("report") / "results"
    shutil.copytree(packaged_run[0], results)
    tiny_results, tiny_written = tiny_run
    target = results / "records" / "tiny_random_llama" / "bbh_bigbench_mc"
    shutil.copytree(tiny_written[0].parent, target)
    # an older run of the same SmolLM2 cell, under another key
    newest = next((results / "records" / "smollm2_135m_instruct").glob("*/*.json"))
    older = json.loads(newest.read_text())
    older["timing"]["finished_at"] = "2020-01-01T00:00:00+00:00"
    older["scores"]["primary"]["value"] = 0.99
    (newest.parent / "0000000000000000.json").write_text(json.dumps(older))
    # a cell of another benchmark for one model only -> "not run" for the others
    shutil.copytree(target, results / "records" / "tiny_random_llama" / "bbh_bigbench_mc_3shot")
    for path in (results / "records" / "tiny_random_llama" / "bbh_bigbench_mc_3shot").glob("*.json"):
        record = load_record(path)
        record.cell.benchmark = "bbh_bigbench_mc_3shot"
        path.write_text(record.model_dump_json(exclude_unset=True))
    (results / "records" / "gemma3_270m" / "bbh_bigbench_mc" / "ffffffffffffffff.json").write_text("{ truncated")
    verify(None, results, 100)
    summary = write_report(results)
    return results, summary


@pytest.mark.slow
def test_markdown_report_has_scores_published_and_every_claim(report_dir):
    results, summary = report_dir
    text = (results / "REPORT.md").read_text()
    assert re.search(r"\| smollm2_135m_instruct +\|", text) and re.search(r"\| gemma3_270m +\|", text)
    assert "newest of 2 runs" in text and "not run" in text
    assert re.search(r"\| smollm2_135m_instruct +\| bbh_bigbench_mc \(0-shot\) +\| .* 28\.2 BBH \(3-shot\)", text)
    claims = sorted(p.stem for p in (results / "verdicts").glob("*.json"))
    for claim in claims:
        assert f" {claim}: **" in text and f"](#claim-{claim})" in text  # summary links to the evidence
    assert "## Skipped files" in text and "ffffffffffffffff.json: not valid JSON" in text
    assert summary["claims"] == len(claims) and summary["cells"] == 4


@pytest.mark.slow
def test_markdown_report_answers_first(report_dir):
    """The top table lists every claim in C1..C12 order with verdict, why and rival; repeated
    warnings are one legend line; nothing prints "None"; benchmark labels carry settings."""
    results, _ = report_dir
    text = (results / "REPORT.md").read_text()
    top = text.split("## Scores")[0]
    labels = re.findall(r"^\| (C\d+[a-z]?|-) +\|", top, re.M)
    assert labels[:3] == ["C1", "C2", "C3a"] and labels[-2:] == ["C12", "-"] and len(labels) == 18
    assert "rival" in top.splitlines()[4] and "GPT-4o, Claude 3.5 Sonnet" in top
    assert "None" not in text
    legend = [line for line in text.splitlines() if line.startswith("**w1**")]
    assert len(legend) == 1 and text.count("Llama 3.1 405B Instruct: the vendor's own number (Meta)") == 1
    assert "bbh_bigbench_mc (0-shot)" in text and "| MMLU |" not in text
    for section in text.split('<a id="claim-')[1:]:  # rows still to measure: at most one line per claim
        assert section.count("Not yet measured or not reported") <= 1
    assert "*Not yet measured or not reported* (15 rows): vs GPT-4o (measured vs published): mmlu_0shot_cot" in text
    assert "[record](records/" in text  # measured rows link their records
    assert re.search(r"n=42, chance \d+\.\d", text)  # multiple-choice cells show their chance baseline


@pytest.mark.slow
def test_newest_run_of_a_cell_wins(report_dir):
    results, _ = report_dir
    rows = list((results / "tables" / "scores.csv").read_text().splitlines())
    smol = [r for r in rows if r.startswith("smollm2_135m_instruct,bbh_bigbench_mc,")]
    assert len(smol) == 1 and ",99.0," not in smol[0]


@pytest.mark.slow
def test_csv_exports_read_back(report_dir):
    import csv

    results, _ = report_dir
    with open(results / "tables" / "claims.csv") as handle:
        claims = list(csv.DictReader(handle))
    assert {c["verdict"] for c in claims} <= {
        "supported",
        "refuted",
        "inconclusive",
        "not yet measured",
        "out of scope",
    }
    with open(results / "tables" / "scores.csv") as handle:
        scores = list(csv.DictReader(handle))
    assert all(float(s["ci95_low"]) <= float(s["score"]) <= float(s["ci95_high"]) for s in scores)


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        if os.environ.get("HARNESS_REQUIRE_BROWSER"):
            pytest.fail("chromium/chromedriver missing: apt-get install chromium chromium-driver")
        pytest.skip("Debian chromium + chromium-driver not installed (.ci/run installs them)")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1300,2200",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


@pytest.mark.slow
def test_html_report_in_headless_chromium(report_dir):
    results, _ = report_dir
    driver = browser()
    try:
        driver.get((results / "report.html").as_uri())
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert errors == []
        ARTIFACTS.mkdir(exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / "report.png"))  # the page as a reviewer opens it
        summary = [
            r.find_elements("css selector", "td")[0].text
            for r in driver.find_elements("css selector", "#summary tbody tr")
        ]
        assert summary[:2] == ["C1", "C2"] and len(summary) == 18
        cards = driver.find_elements("css selector", ".card")
        claims = sorted(p.stem for p in (results / "verdicts").glob("*.json"))
        assert sorted(c.get_attribute("data-claim") for c in cards) == claims
        assert len(driver.find_elements("css selector", ".card svg")) >= 10  # forest plots
        header = [th for th in driver.find_elements("css selector", "#scores th") if th.text == "score %"][0]

        def values():
            return [
                float(r.find_elements("css selector", "td")[2].text)
                for r in driver.find_elements("css selector", "#scores tbody tr")
            ]

        header.click()
        assert values() == sorted(values())
        header.click()
        assert values() == sorted(values(), reverse=True)
        box = driver.find_element("css selector", "input[data-table='scores']")
        box.send_keys("gemma")
        visible = [r for r in driver.find_elements("css selector", "#scores tbody tr") if r.is_displayed()]
        assert len(visible) == 1 and "gemma3_270m" in visible[0].text
        driver.save_screenshot(str(ARTIFACTS / "report-filtered.png"))
    finally:
        driver.quit()


def test_a_cell_shown_from_an_earlier_larger_run_says_so():
    """The report shows the record verdicts read; its note must not call it the newest
    when a later, smaller run (the limit=50 default) exists."""
    full = {"timing": {"finished_at": "2026-11-25T12:55:22+00:00"}}
    finished = ["2026-11-25T12:14:19+00:00", "2026-11-25T12:55:22+00:00", "2026-11-25T12:58:20+00:00"]
    assert runs_note(finished, full) == "largest of 3 runs (a later one scored fewer items)"
    assert runs_note(finished[:2], full) == "newest of 2 runs"
    assert runs_note(finished[1:2], full) == ""
