"""Import published benchmark numbers (with provenance) into configs/published/.

Sources (beside the checkout, read only here; the output is committed so nothing at run
time needs ../shared):
- `../shared/reference/reference_scores.yaml`: the team's curated cells of 21 tables;
- `../shared/reference/llama2_table4.md`: Llama 2 paper Table 4 (Llama 2 70B vs GPT-3.5,
  GPT-4, PaLM, PaLM-2-L), transcribed with its caption and setup notes.

Numbers and provenance are copied, prose is not. Every entry is one cell and gains:
- `setup`: the cell's own shots, CoT, prompt, subset and metric. A row's printed setting is
  parsed, then the cell's own exceptions are applied: "(Gemini cell 11-shot, Claude cell
  0-shot)" in a row label, a table footnote on the cell, a section header of the source
  ("REFERENCE-REPORT ... (5-shot)"), or a subset the benchmark's evaluation notes name.
- `reported_by` (who published the table), `evaluator` (who produced the number),
  `self_reported` (the model's own vendor produced it; null when the source cannot tell)
  and `evaluator_basis` (the rule that decided, so a reviewer can check it). Rules, in order:
  the vendor's own cells in Meta's Table 2; cells the source marks "(published)",
  "(report)" or "reported by the vendor"; cells marked "Meta-measured"; tables known to
  reprint other parties' numbers (REPRINTS); otherwise the table's publisher.
    python scripts/import_published.py [--reference PATH] [--llama2-table4 PATH]
(from the checkout, with this checkout's `harness` importable: `pip install -e .` or
`PYTHONPATH=.`; the setting parser is the one the harness uses at run time).
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = ROOT.parent / "shared" / "reference"
OUT_DIR = ROOT / "configs" / "published"
KEEP = (
    "model",
    "model_as_printed",
    "benchmark",
    "setting",
    "value",
    "unit",
    "category",
    "footnote",
    "discrepancy",
    "value_at_release",
    "changed_since_release",
    "label_changed_since_release",
    "quote_line",
    "confidence",
    "provenance_note",
)
SOURCE_KEEP = ("document", "url", "repo", "path", "commit", "commit_date")

# Who publishes each table (prefix of the table name -> publisher).
PUBLISHERS = [
    ("Llama", "Meta"),
    ("Meta Llama", "Meta"),
    ("simple-evals", "OpenAI"),
    ("Qwen", "Alibaba"),
    ("DeepSeek", "DeepSeek"),
    ("Mistral", "Mistral AI"),
    ("SmolLM2", "Hugging Face"),
    ("Gemma", "Google"),
]
# Who makes each model (pattern in the model name -> vendor).
VENDORS = [
    (r"code-llama", "Meta"),
    (r"llama", "Meta"),
    (r"gpt", "OpenAI"),
    (r"claude", "Anthropic"),
    (r"gemini|gemma|palm", "Google"),
    (r"mistral|mixtral", "Mistral AI"),
    (r"qwen", "Alibaba"),
    (r"deepseek", "DeepSeek"),
    (r"smollm", "Hugging Face"),
    (r"nemotron", "NVIDIA"),
    (r"baichuan", "Baichuan"),
    (r"chatglm", "Zhipu AI"),
    (r"internlm", "Shanghai AI Lab"),
    (r"falcon", "TII"),
    (r"mpt", "MosaicML"),
]
TABLE2 = "Llama 3 Herd paper Table 2 (finetuned models)"
# Meta's Table 2 competitor cells that equal the vendor's own published number digit for
# digit (shared/reference/llama31_405b_vs_closed_models_from_table2.md, caveat 1).
TABLE2_VENDOR_CELLS = {
    "GPT-4o": {"MMLU|0-shot, CoT", "GPQA", "MATH", "HumanEval", "MGSM"},
    "GPT-4 (0125)": {"MMLU|0-shot, CoT", "GPQA", "MATH", "HumanEval"},
    "Claude 3.5 Sonnet": {"MMLU|0-shot, CoT", "GPQA", "MATH", "HumanEval", "MGSM"},
}
# Tables that print other parties' numbers: (table, model pattern) -> (evaluator, self_reported, basis).
REPRINTS = [
    (
        "Qwen README Performance table, Aug 2023 original",
        r"llama 2-",
        "Meta",
        True,
        "reprinted by Alibaba: LLaMA 2-7B 45.3/14.6/12.8 and 13B 54.8/28.7/18.3 (MMLU/GSM8K/HumanEval) are the "
        "Llama 2 paper's own numbers (arXiv:2307.09288 Tables 3, 21, 25)",
    ),
    (
        "Qwen README Performance table, Aug 2023 original",
        r"^llama-",
        "Meta",
        True,
        "reprinted by Alibaba: LLaMA-7B/13B MMLU 35.1/46.9 are the LLaMA paper's own numbers (arXiv:2302.13971)",
    ),
    (
        "Qwen README Performance table, Aug 2023 original",
        r"baichuan|chatglm|internlm",
        "unknown",
        None,
        "competitor cell in Alibaba's table; the original README does not say who ran it",
    ),
    (
        "Qwen README Performance table (base models)",
        r"^(?!qwen)",
        "vendor report or OpenCompass",
        None,
        "the README: 'For all compared models, we report the best scores between their official reported "
        "results and OpenCompass'",
    ),
    (
        "Qwen README Performance table, Sept 2023",
        r"^(?!qwen)",
        "vendor report or OpenCompass",
        None,
        "the README: 'For all compared models, we report the best scores between their official reported "
        "results and OpenCompass'",
    ),
]
# Cell setup the row label does not carry, from the source's own notes.
SUBSETS = [  # (table prefix, benchmark, subset, why)
    (TABLE2, "GPQA", "main", "Llama 3.1 eval_details.md: 'report exact match scores ... using the main set'"),
    ("simple-evals", "GPQA", "diamond", "openai/simple-evals gpqa_eval.py evaluates the Diamond set"),
    (
        "Mistral 7B paper Table 2",
        "MBPP",
        "sanitized",
        "Mistral 7B paper §3: 'on MBPP, we use the hand-verified subset'",
    ),
]
# The harness behind each model card's numbers, with the card's words (table prefix, harness, why).
HARNESSES = [
    ("SmolLM2", "lighteval", "card header: 'we use lighteval to run them'"),
    ("Gemma 3 model card", "Google's own (not published)", "the card names no harness or prompts"),
]
# Card-wide defaults the row labels do not repeat (table prefix, shots, why).
DEFAULT_SHOTS = [("SmolLM2", 0, "card header: 'All evaluations are zero-shot unless stated otherwise'")]
# Metrics a row label states in words (table prefix, benchmark, metric).
ROW_METRICS = [
    ("SmolLM2-135M-Instruct card", "IFEval (Average prompt/inst)", "mean of prompt- and instruction-level accuracy"),
]
# Table 2 qualifiers that describe Meta's own runs ("per model card"), not a competitor's cell.
META_ONLY_QUALIFIER = re.compile(
    r"\s*\((?:[^()]*\bper (?:model card|eval_details\.md)\b[^()]*)\)|,?\s*macro_avg/acc \(per model card\)"
)
CELL_NOTE = re.compile(r"\s*\(([^()]*\bcells?\b[^()]*)\)")


def vendor_of(model: str) -> str | None:
    return next((vendor for pattern, vendor in VENDORS if re.search(pattern, model, re.I)), None)


def publisher_of(table: str) -> str | None:
    return next((who for prefix, who in PUBLISHERS if table.startswith(prefix)), None)


def marked_as_vendor_number(model: str, setting: str) -> bool:
    """The source marks the cell as the vendor's own published number."""
    return bool(
        re.search(r"\((?:[^)]*\b)?(published|report|reported)\b", model, re.I)
        or "published by" in model.lower()
        or "reported by model vendor" in setting
    )


def evaluator_of(entry: dict, publisher: str | None) -> tuple[str, bool | None, str]:
    model, setting, table = entry["model"], entry.get("setting", ""), entry.get("table", "")
    vendor = vendor_of(model)
    if table == TABLE2 and vendor != "Meta":
        cells = TABLE2_VENDOR_CELLS.get(model, set())
        if entry["benchmark"] in cells or f"{entry['benchmark']}|{setting}" in cells:
            return vendor, True, "equals the vendor's own published number digit for digit (Table 2 caveat 1)"
        return (
            "Meta or vendor",
            None,
            "Meta's eval_details.md: where external models score lower than their "
            "self-reported numbers, Meta prints the self-reported ones",
        )
    if marked_as_vendor_number(model, setting):
        return vendor or "vendor", True, "the source marks this cell as the vendor's published/reported number"
    if re.search(r"meta-measured", model, re.I):
        return "Meta", vendor == "Meta", "the source marks this cell as measured by Meta"
    for reprint_table, pattern, evaluator, self_reported, basis in REPRINTS:
        if table == reprint_table and re.search(pattern, model, re.I):
            return evaluator, self_reported, basis
    evaluator = publisher or "unknown"
    return evaluator, (evaluator == vendor) if vendor else None, "the table's publisher ran it (no mark says otherwise)"


def cell_setup(entry: dict, evaluator: str) -> tuple[str, dict, str | None]:
    """(row setting for this cell, the cell's setup, the cell's own annotation)."""
    from harness.published import parse_setting  # the one setting parser (also used at run time)

    setting, table, model = entry.get("setting", ""), entry.get("table", ""), entry["model"]
    note_match = CELL_NOTE.search(setting)
    row_setting = CELL_NOTE.sub("", setting).strip() if note_match else setting
    if table == TABLE2 and evaluator != "Meta":
        row_setting = META_ONLY_QUALIFIER.sub("", row_setting).strip()
    if table.startswith("simple-evals") and marked_as_vendor_number(model, setting):
        row_setting = vendor_report_setting(entry)
    parsed = parse_setting(row_setting)
    setup = {
        "shots": parsed["shots"],
        "cot": parsed["cot"],
        "prompt": None,
        "subset": None,
        "metric": metric_of(row_setting),
    }
    cell_note = apply_cell_note(note_match.group(1), model, setup) if note_match else None
    for prefix, benchmark, subset, _why in SUBSETS:
        if table.startswith(prefix) and entry["benchmark"] == benchmark:
            setup["subset"] = subset
    card_defaults(table, entry["benchmark"], setup)
    return row_setting, {k: v for k, v in setup.items() if v is not None}, cell_note


def card_defaults(table: str, benchmark: str, setup: dict) -> None:
    """What a model card states once for all its rows (harness, default shots) or in a row
    label's words (a metric)."""
    for prefix, harness, _why in HARNESSES:
        if table.startswith(prefix):
            setup["harness"] = harness
    for prefix, shots, _why in DEFAULT_SHOTS:
        if table.startswith(prefix) and setup["shots"] is None:
            setup["shots"] = shots
    for prefix, row, metric in ROW_METRICS:
        if table.startswith(prefix) and benchmark == row:
            setup["metric"] = metric


def vendor_report_setting(entry: dict) -> str:
    """simple-evals' REFERENCE-REPORT rows quote the vendors' reports; the README's header
    row marks their MMLU column "(5-shot)" and prints no setting for the other columns."""
    if entry["benchmark"] == "MMLU" and re.search(r"\breport\)", entry["model"]):
        return "5-shot (REFERENCE-REPORT header); vendor's report"
    return "vendor's report (setting not printed)"


def metric_of(setting: str) -> str | None:
    match = re.search(r"metric:? ([\w/@.]+)|\b(pass@\d+|maj@\d+|F1|em_maj1@1)\b", setting)
    return (match.group(1) or match.group(2)) if match else None


def apply_cell_note(note: str, model: str, setup: dict) -> str | None:
    """Apply "(Gemini cell 11-shot, Claude cell 0-shot)" or "(Gemini/Claude cells: CoT)" to
    the named cells. A CoT mark on some cells means the unmarked cells ran without CoT."""
    applied = None
    for part in note.split(","):
        match = re.match(r"\s*(?P<who>.+?)\s+cells?:?\s+(?P<spec>.+?)\s*$", part)
        if not match:
            continue
        names = [n.strip().lower() for n in match["who"].split("/")]
        spec = match["spec"].strip()
        if any(all(word in model.lower() for word in name.split()) for name in names):
            applied = f"{match['who']} cell: {spec}"
            apply_spec(spec, setup)
        elif spec.lower() == "cot" and setup["cot"] is None:
            setup["cot"] = False
    return applied


def apply_spec(spec: str, setup: dict) -> None:
    shots = re.match(r"(\d+)[- ]shot$", spec)
    if shots:
        setup["shots"] = int(shots.group(1))
    elif spec.lower() == "cot":
        setup["cot"] = True
    elif "variable shot" in spec:
        setup["shots"], setup["prompt"] = None, "variable shot"
    else:
        setup["prompt"] = spec


def convert(entry: dict) -> dict:
    table = entry.get("table", "")
    publisher = publisher_of(table)
    evaluator, self_reported, basis = evaluator_of(entry, publisher)
    row_setting, setup, cell_note = cell_setup(entry, evaluator)
    out = {key: entry[key] for key in KEEP if entry.get(key) is not None}
    out["setting"] = row_setting
    out["setup"] = setup
    if cell_note:
        out["cell_note"] = cell_note
    out.update(
        {"reported_by": publisher, "evaluator": evaluator, "self_reported": self_reported, "evaluator_basis": basis}
    )
    out["source"] = {key: str(entry["source"][key]) for key in SOURCE_KEEP if entry["source"].get(key)}
    return out


# ---------------------------------------------------------------- Llama 2 paper, Table 4

LLAMA2_TABLE = "Llama 2 paper Table 4 (comparison to closed-source models)"
LLAMA2_MODELS = {
    "GPT-3.5": ("OpenAI", "caption: 'Results for GPT-3.5 and GPT-4 are from OpenAI (2023)'"),
    "GPT-4": ("OpenAI", "caption: 'Results for GPT-3.5 and GPT-4 are from OpenAI (2023)'"),
    "PaLM": ("Google", "caption: 'Results for the PaLM model are from Chowdhery et al. (2022)'"),
    "PaLM-2-L": ("Google", "caption: 'Results for the PaLM-2-L are from Anil et al. (2023)'"),
    "Llama 2 (70B)": ("Meta", "Meta's own runs (the paper's authors)"),
}
# The GPT-4 report ran GSM8K 5-shot (GPT-3.5) and 5-shot CoT (GPT-4); the row says 8-shot.
LLAMA2_CELL_SETUP = {
    ("GSM8K", "GPT-3.5"): ({"shots": 5}, "OpenAI cell: 5-shot (GPT-4 report Table 2)"),
    ("GSM8K", "GPT-4"): ({"shots": 5, "cot": True}, "OpenAI cell: 5-shot CoT (GPT-4 report Table 2)"),
}
LLAMA2_NAMES = {"Natural Questions": "NQ", "Llama 2 (70B)": "Llama 2 70B"}


def llama2_table4(path: Path) -> list[dict]:
    lines = path.read_text().splitlines()
    header = next(line for line in lines if line.startswith("| Benchmark"))
    models = [cell.strip() for cell in header.strip("|").split("|")[1:]]
    entries = []
    for line in lines:
        match = re.match(r"\|\s*(?P<bench>[^|(]+?)\s*\((?P<shots>\d+)-shot\)\s*\|(?P<cells>.*)\|\s*$", line)
        if not match:
            continue
        bench = LLAMA2_NAMES.get(match["bench"], match["bench"])
        for model, cell in zip(models, match["cells"].split("|"), strict=False):
            if cell.strip() in ("–", "-", ""):
                continue
            evaluator, basis = LLAMA2_MODELS[model]
            setup, note = LLAMA2_CELL_SETUP.get((bench, model), ({}, None))
            entry = {
                "model": LLAMA2_NAMES.get(model, model),
                "benchmark": bench,
                "setting": f"{match['shots']}-shot",
                "value": float(cell),
                "setup": {"shots": int(match["shots"]), **setup},
                "reported_by": "Meta",
                "evaluator": evaluator,
                "self_reported": evaluator == vendor_of(LLAMA2_NAMES.get(model, model)),
                "evaluator_basis": basis,
                "quote_line": line.strip(),
                "confidence": "high: six agreeing stored copies of the paper's text (PDF not read)",
                "source": {
                    "document": "Touvron et al., Llama 2: Open Foundation and Fine-Tuned Chat Models, "
                    "arXiv:2307.09288 v2, Table 4, p. 8",
                    "url": "https://arxiv.org/abs/2307.09288",
                    "repo": "viktor-shcherb/msc_thesis",
                    "commit": "7336389f4624bb79f6d9df83750dc5ac529c73c0",
                    "path": "references/2023-07-llama-2-open-foundation-chat/sections/02_pretraining.md",
                },
            }
            if note:
                entry["cell_note"] = note
            entries.append(entry)
    return entries


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60]


def write_table(table: str, rows: list[dict], origin: str) -> None:
    document = {"table": table, "reported_by": rows[0]["reported_by"], "entries": rows}
    header = f"# Imported by scripts/import_published.py from {origin}; do not edit by hand.\n"
    (OUT_DIR / f"{slug(table)}.yaml").write_text(
        header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=REFERENCE_DIR / "reference_scores.yaml")
    parser.add_argument("--llama2-table4", type=Path, default=REFERENCE_DIR / "llama2_table4.md")
    args = parser.parse_args()
    entries = yaml.safe_load(args.reference.read_text())
    tables: dict[str, list] = {}
    for entry in entries:
        tables.setdefault(entry.get("table") or "untitled", []).append(convert(entry))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in OUT_DIR.glob("*.yaml"):
        old.unlink()
    for table, rows in tables.items():
        write_table(table, rows, "the curated reference scores")
    count = len(entries)
    if args.llama2_table4.exists():
        rows = llama2_table4(args.llama2_table4)
        write_table(LLAMA2_TABLE, rows, "the Llama 2 paper's Table 4 transcription (llama2_table4.md)")
        count += len(rows)
        tables[LLAMA2_TABLE] = rows
    else:
        print(f"{args.llama2_table4} missing: claim C4 (Llama 2 vs GPT-3.5) stays 'not yet measured'")
    print(f"wrote {count} entries in {len(tables)} tables to {OUT_DIR}")


if __name__ == "__main__":
    main()
