"""Build the shipped hub-dataset mirror (harness/hub_mirror) from the team's copies of the
standard evaluation sets (default source: /work/shared/benchdata). Only this script reads
that directory; runs and tests read the mirror it writes.

    python scripts/build_mirror.py [--source DIR] [--out DIR]

Each source file is checked before use: its sha256 must appear in its folder's
PROVENANCE.md, and its first row must have the fields lm-eval's task reads. The JSONL
bytes are stored unchanged, gzipped deterministically (mtime 0), so a rebuild is
byte-identical and each file's uncompressed sha256 is the one PROVENANCE.md lists. The
PROVENANCE files are copied to <out>/provenance/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from harness import mirror  # noqa: E402

DEFAULT_SOURCE = Path("/work/shared/benchdata")


@dataclass(frozen=True)
class Source:
    hub_id: str
    config: str
    folder: str  # under the source directory; holds PROVENANCE.md
    splits: dict  # hub split -> file under the folder
    fields: tuple  # what lm-eval's doc_to_text/choice/target read
    upstream: str
    license: str
    notes: str = ""


ARC_UPSTREAM = (
    "https://github.com/nju-websoft/GenMC@eada4b06cf25bd95333422e1a1c02d4db3d25945 "
    "data/{name}/official/{{test,train,dev}}.jsonl (AI2 ARC-V1-Feb2018; test verified byte-exact "
    "against the original's sha256)"
)
ARC_FIELDS = ("id", "question", "choices", "answerKey")
WINOGRANDE_UPSTREAM = (
    "https://github.com/zhang-edward/WinoGrande@ea61adace986f13f152757273a9b0840887efe65 "
    "data/dev.jsonl{train} (winogrande_1.1.zip; dev verified byte-exact)"
)
WINOGRANDE_FIELDS = ("sentence", "option1", "option2", "answer")
MMLU_UPSTREAM = (
    "https://github.com/stanford-cs336/spring2024-assignment5-alignment@"
    "fcbfe2b3b72cb9e5536b93ba12265d04b8ca4cca data/mmlu/{test,dev,val}/*.csv (the official data.tar; "
    "per-subject test counts match cais/mmlu)"
)
BBH_UPSTREAM = "https://github.com/suzgunmirac/BIG-Bench-Hard@9ee07bd481feebf959a6b59d61ea57bdcf30964d bbh/{name}.json"
TRUTHFULQA_UPSTREAM = (
    "https://github.com/ictnlp/TruthX@a41093a6ae3bcbcb523759da782de0f329d03d91 TruthfulQA/data/v0 "
    "(sylinrl/TruthfulQA before its 2021-10-10 update: the version HF truthful_qa was built from)"
)
BBH_SUBTASKS = (
    "boolean_expressions",
    "causal_judgement",
    "date_understanding",
    "disambiguation_qa",
    "dyck_languages",
    "formal_fallacies",
    "geometric_shapes",
    "hyperbaton",
    "logical_deduction_five_objects",
    "logical_deduction_seven_objects",
    "logical_deduction_three_objects",
    "movie_recommendation",
    "multistep_arithmetic_two",
    "navigate",
    "object_counting",
    "penguins_in_a_table",
    "reasoning_about_colored_objects",
    "ruin_names",
    "salient_translation_error_detection",
    "snarks",
    "sports_understanding",
    "temporal_sequences",
    "tracking_shuffled_objects_five_objects",
    "tracking_shuffled_objects_seven_objects",
    "tracking_shuffled_objects_three_objects",
    "web_of_lies",
    "word_sorting",
)


def sources(mmlu_subjects: list[str]) -> list[Source]:
    arc = [
        Source(
            "allenai/ai2_arc",
            config,
            folder,
            {s: f"{s}.jsonl" for s in ("test", "train", "validation")},
            ARC_FIELDS,
            ARC_UPSTREAM.format(name=folder),
            "CC BY-SA 4.0",
        )
        for config, folder in (("ARC-Easy", "arc_easy"), ("ARC-Challenge", "arc_challenge"))
    ]
    winogrande = [
        Source(
            "allenai/winogrande",
            "winogrande_xl",
            "winogrande",
            {"validation": "validation.jsonl"},
            WINOGRANDE_FIELDS,
            WINOGRANDE_UPSTREAM.format(train=""),
            "CC-BY",
            notes="validation only: winogrande_xl's train pool (40,398) is not in the mirror, so lm-eval's "
            "`winogrande` runs 0-shot here; few-shot runs use winogrande_l",
        ),
        Source(
            "allenai/winogrande",
            "winogrande_l",
            "winogrande",
            {"validation": "validation.jsonl", "train": "train.jsonl"},
            WINOGRANDE_FIELDS,
            WINOGRANDE_UPSTREAM.format(train=", data/train_l.jsonl + train_l-labels.lst"),
            "CC-BY",
            notes="train is WinoGrande L (10,234 items), a subset of the XL pool lm-eval's winogrande draws "
            "shots from: seeded few-shot draws differ from lm-eval's; validation (the scored set) is "
            "the same 1,267 items in every config",
        ),
    ]
    mmlu = [
        Source(
            "cais/mmlu",
            subject,
            "mmlu",
            {"test": f"test/{subject}.jsonl", "dev": f"dev/{subject}.jsonl", "validation": f"val/{subject}.jsonl"},
            ("question", "subject", "choices", "answer"),
            MMLU_UPSTREAM,
            "MIT",
        )
        for subject in mmlu_subjects
    ]
    bbh = [
        Source(
            "SaylorTwift/bbh",
            name,
            "bbh",
            {"test": f"{name}.jsonl"},
            ("input", "target"),
            BBH_UPSTREAM.format(name=name),
            "MIT",
        )
        for name in BBH_SUBTASKS
    ]
    return (
        arc
        + winogrande
        + mmlu
        + bbh
        + [
            Source(
                "baber/piqa",
                mirror.DEFAULT_CONFIG,
                "piqa",
                {"validation": "validation.jsonl"},
                ("goal", "sol1", "sol2", "label"),
                "https://github.com/ybisk/ybisk.github.io@21edab439af693b961be2f069e8690a88d3b4e37 "
                "piqa/data/valid.jsonl + valid-labels.lst (merged line by line, text unchanged)",
                "AFL-3.0",
                notes="validation only (the split lm-eval scores); no train split, so piqa runs 0-shot here",
            ),
            Source(
                "aps/super_glue",
                "boolq",
                "boolq",
                {"validation": "validation.jsonl"},
                ("question", "passage", "idx", "label"),
                "https://github.com/mosaicml/llm-foundry@8c8dd48f72168c5d51e2f7b151595892a8fba43d "
                "scripts/eval/local_data/reading_comprehension/boolq.jsonl",
                "CC BY-SA 3.0",
                notes="rebuilt from llm-foundry's reformatted copy (passage/question split back out, labels "
                "0=False 1=True), NOT byte-verified against SuperGLUE's val.jsonl; count (3,270) and first "
                "item match. validation only: boolq runs 0-shot here",
            ),
            Source(
                "google/IFEval",
                mirror.DEFAULT_CONFIG,
                "ifeval",
                {"train": "train.jsonl"},
                ("key", "prompt", "instruction_id_list", "kwargs"),
                "https://github.com/josejg/instruction_following_eval@0c495b2f95155e8b10acb919ae283bfb4d5be6e2 "
                "instruction_following_eval/data/input_data.jsonl (= google-research's input_data.jsonl)",
                "Apache-2.0",
            ),
            Source(
                "truthfulqa/truthful_qa",
                "multiple_choice",
                "truthfulqa",
                {"validation": "multiple_choice/validation.jsonl"},
                ("question", "mc1_targets", "mc2_targets"),
                TRUTHFULQA_UPSTREAM + " data/v0/mc_task.json, converted as HF's builder does",
                "Apache-2.0",
                notes="not byte-verified against sylinrl/TruthfulQA (no independent hash)",
            ),
            Source(
                "truthfulqa/truthful_qa",
                "generation",
                "truthfulqa",
                {"validation": "generation/validation.jsonl"},
                ("question", "best_answer", "correct_answers", "incorrect_answers"),
                TRUTHFULQA_UPSTREAM + " data/v0/TruthfulQA.csv, converted as HF's builder does",
                "Apache-2.0",
                notes="not byte-verified against sylinrl/TruthfulQA (no independent hash)",
            ),
        ]
    )


def checked_content(source_dir: Path, src: Source, split: str) -> bytes:
    path = source_dir / src.folder / src.splits[split]
    content = path.read_bytes()
    digest = hashlib.sha256(content).hexdigest()
    if digest not in (source_dir / src.folder / "PROVENANCE.md").read_text():
        sys.exit(f"error: {path}: sha256 {digest} is not listed in its PROVENANCE.md")
    first = json.loads(content.splitlines()[0])
    missing = [f for f in src.fields if f not in first]
    if missing:
        sys.exit(f"error: {path}: first row lacks field '{missing[0]}' that lm-eval's task reads")
    return content


def build(source_dir: Path, out: Path) -> dict:
    subjects = sorted(p.stem for p in (source_dir / "mmlu" / "test").glob("*.jsonl"))
    if len(subjects) != 57:
        sys.exit(f"error: {source_dir}/mmlu/test has {len(subjects)} subjects, expected 57")
    staging = out.with_name(out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    manifest: dict = {}
    for src in sources(subjects):
        files = {
            split: mirror.write_split(staging, src.hub_id, src.config, split, checked_content(source_dir, src, split))
            for split in src.splits
        }
        provenance = f"provenance/{src.folder}.md"
        (staging / "provenance").mkdir(exist_ok=True)
        shutil.copyfile(source_dir / src.folder / "PROVENANCE.md", staging / provenance)
        mirror.add_dataset(manifest, src.hub_id, src.config, files, src.upstream, src.license, provenance, src.notes)
    mirror.write_manifest(staging, manifest)
    shutil.rmtree(out, ignore_errors=True)
    staging.rename(out)
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=mirror.SHIPPED)
    args = parser.parse_args()
    manifest = build(args.source, args.out)
    files = [f for d in manifest["datasets"].values() for f in d["splits"].values()]
    size = sum((args.out / f["relpath"]).stat().st_size for f in files)
    print(
        f"wrote {args.out}: {len(manifest['datasets'])} dataset configs, {len(files)} files, "
        f"{sum(f['rows'] for f in files):,} rows, {size / 1e6:.1f} MB"
    )


if __name__ == "__main__":
    main()
