"""Import published benchmark numbers (with provenance) into configs/published/.

Source: the team's curated reference file (`../shared/reference/reference_scores.yaml`
beside the checkout). Numbers and provenance are copied, prose is not; each entry gains
who published the table (`reported_by`), who produced the number (`evaluator`) and
`self_reported` (the model's own vendor produced it; null when the source cannot tell).
The output is committed, so nothing at run time needs ../shared:
    python scripts/import_published.py [--reference PATH]
"""
from __future__ import annotations

import argparse
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REFERENCE = ROOT.parent / "shared" / "reference" / "reference_scores.yaml"
OUT_DIR = ROOT / "configs" / "published"
KEEP = ("model", "model_as_printed", "benchmark", "setting", "value", "unit", "category", "footnote",
        "discrepancy", "value_at_release", "changed_since_release", "quote_line", "confidence")
SOURCE_KEEP = ("document", "url", "repo", "path", "commit")

# Who publishes each table (prefix of the table name -> publisher).
PUBLISHERS = [("Llama", "Meta"), ("Meta Llama", "Meta"), ("simple-evals", "OpenAI"), ("Qwen", "Alibaba"),
              ("DeepSeek", "DeepSeek"), ("Mistral", "Mistral AI"), ("SmolLM2", "Hugging Face"),
              ("Gemma", "Google")]
# Who makes each model (pattern in the model name -> vendor).
VENDORS = [(r"code-llama", "Meta"), (r"llama", "Meta"), (r"gpt", "OpenAI"), (r"claude", "Anthropic"),
           (r"gemini|gemma", "Google"), (r"mistral|mixtral", "Mistral AI"), (r"qwen", "Alibaba"),
           (r"deepseek", "DeepSeek"), (r"smollm", "Hugging Face"), (r"nemotron", "NVIDIA"),
           (r"baichuan", "Baichuan"), (r"chatglm", "Zhipu AI"), (r"internlm", "Shanghai AI Lab"),
           (r"falcon", "TII"), (r"mpt", "MosaicML")]
# Meta's Table 2 competitor cells that equal the vendor's own published number digit for
# digit (shared/reference/llama31_405b_vs_closed_models_from_table2.md, caveat 1).
TABLE2_VENDOR_CELLS = {
    "GPT-4o": {"MMLU|0-shot, CoT", "GPQA", "MATH", "HumanEval", "MGSM"},
    "GPT-4 (0125)": {"MMLU|0-shot, CoT", "GPQA", "MATH", "HumanEval"},
    "Claude 3.5 Sonnet": {"MMLU|0-shot, CoT", "GPQA", "MATH", "HumanEval", "MGSM"},
}
TABLE2 = "Llama 3 Herd paper Table 2 (finetuned models)"


def vendor_of(model: str) -> str | None:
    return next((vendor for pattern, vendor in VENDORS if re.search(pattern, model, re.I)), None)


def publisher_of(table: str) -> str | None:
    return next((who for prefix, who in PUBLISHERS if table.startswith(prefix)), None)


def evaluator_of(entry: dict, publisher: str | None) -> str:
    model, setting, table = entry["model"], entry.get("setting", ""), entry.get("table", "")
    vendor = vendor_of(model)
    if table == TABLE2 and vendor != "Meta":
        cells = TABLE2_VENDOR_CELLS.get(model, set())
        if entry["benchmark"] in cells or f"{entry['benchmark']}|{setting}" in cells:
            return vendor
        return "Meta or vendor (Meta prints the vendor's number where it is higher)"
    if "reported by model vendor" in setting or "(report)" in model or "published by" in model:
        return vendor or "vendor"
    return publisher or "unknown"


def convert(entry: dict) -> dict:
    table = entry.get("table", "")
    publisher = publisher_of(table)
    evaluator = evaluator_of(entry, publisher)
    vendor = vendor_of(entry["model"])
    out = {key: entry[key] for key in KEEP if entry.get(key) is not None}
    out["reported_by"] = publisher
    out["evaluator"] = evaluator
    out["self_reported"] = (evaluator == vendor) if vendor and evaluator in {v for _, v in VENDORS} else None
    out["source"] = {key: entry["source"][key] for key in SOURCE_KEEP if entry["source"].get(key)}
    return out


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:60]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, default=DEFAULT_REFERENCE)
    args = parser.parse_args()
    entries = yaml.safe_load(args.reference.read_text())
    tables: dict[str, list] = {}
    for entry in entries:
        tables.setdefault(entry.get("table") or "untitled", []).append(convert(entry))
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    for old in OUT_DIR.glob("*.yaml"):
        old.unlink()
    for table, rows in tables.items():
        document = {"table": table, "reported_by": publisher_of(table), "entries": rows}
        header = "# Imported by scripts/import_published.py from the curated reference scores; do not edit by hand.\n"
        (OUT_DIR / f"{slug(table)}.yaml").write_text(header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110))
    print(f"wrote {len(entries)} entries in {len(tables)} tables to {OUT_DIR}")


if __name__ == "__main__":
    main()
