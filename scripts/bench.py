"""Speed and accuracy-cost benchmarks, each measured in this one run on this machine.

  1. per task family, on the same requests: plain lm-eval (HFLM, float32, its default
     batch size 1) vs the harness's scorer in float32 and in its `dtype: auto` choice
     (bf16 on CPUs with native bf16): 0-shot MC (ARC-Easy, PIQA), few-shot MC with a
     shared prefix (MMLU 5-shot), few-shot with per-item random shots (ARC-Challenge
     25-shot), 3-shot chain-of-thought generation (BBH);
  2. matmul peak FLOP/s (bf16, fp32) and the model's FLOP/s on a long prefill, as a
     fraction of that peak;
  3. the accuracy cost of bf16: the harness's scorer in bf16 vs float32 on the same
     items of real tasks (ARC-Easy + PIQA, 0-shot): per-item agreement of the chosen
     answer, max |delta loglikelihood|, paired difference and TOST equivalence (+-1 point)
     with harness.stats;
  4. GGUF reload from the dequantized cache, and a sweep rerun with finished cells skipped;
  5. preparing the requests, per few-shot family on the same items: lm-eval rendering the
     prompts, plain vs with compiled templates (harness.evaluate.compiled_prompt_templates),
     and HFLM's one-at-a-time tokenization vs the scorer's batched `pretokenized` ids.
Data: the shipped hub-dataset mirror (harness/hub_mirror). The machine may be shared:
the load average is printed; ratios within one run are what count.
    python scripts/bench.py [--model smollm2_135m_instruct] [--write BENCHMARKS.md]
    python scripts/bench.py --parts requests --build-items 0   # request preparation only, every item
"""

from __future__ import annotations

import os

# Before torch loads OpenMP: on a shared machine, threads that spin while they wait
# (OpenMP's default) starve each other. Measured here at load ~8 (2026-11-25): an 8-token
# SmolLM2 forward took 2.2-4.6 s with 2 spinning threads, 37-78 ms with PASSIVE.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse  # noqa: E402
import functools  # noqa: E402
import logging  # noqa: E402
import platform  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections import defaultdict  # noqa: E402
from dataclasses import dataclass, replace  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402

from harness import stats  # noqa: E402
from harness.config import compose_run  # noqa: E402
from harness.evaluate import built_tasks, compiled_prompt_templates  # noqa: E402
from harness.models import cpu_has_fast_bf16, load_model  # noqa: E402
from harness.provenance import cpu_model, versions  # noqa: E402
from harness.run import run  # noqa: E402
from harness.schema import parse_run_config  # noqa: E402
from harness.workload import ModelCost, fastest, matmul_peak  # noqa: E402


@dataclass
class Family:
    name: str
    tasks: list  # lm-eval task or group names
    shots: int
    items: int  # items per leaf task
    leaves: int | None = None  # first N leaf tasks of a group (MMLU subjects, BBH subtasks)


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


@functools.cache
def loaded(model: str, dtype: str):
    """A model loaded once per run, from the GGUF cache."""
    return load(model, dtype)


def load(model: str, dtype: str, cache: Path | None = None):
    cfg = parse_run_config(compose_run(f"model=[{model}]", f"model.{model}.dtype={dtype}"))
    return load_model(model, cfg.model[model], cfg.hardware, str(cache) if cache else None)


# ---------------------------------------------------------------- requests from the mirror


def build_tasks(family: Family) -> dict:
    return built_tasks(family.tasks, family.shots, family.items, family.leaves)


def instances(tasks: dict) -> list:
    return [instance for task in tasks.values() for instance in task.instances]


def answer(lm, requests: list) -> list:
    kind = requests[0].request_type
    return (
        lm.loglikelihood(requests, disable_tqdm=True)
        if kind == "loglikelihood"
        else lm.generate_until(requests, disable_tqdm=True)
    )


# ---------------------------------------------------------------- 1. families vs HFLM


def bench_families(families: list[Family], fp32, auto) -> list[dict]:
    from lm_eval.models.huggingface import HFLM

    plain = HFLM(pretrained=fp32.lm.model, tokenizer=fp32.lm.tokenizer, device="cpu")  # batch_size 1
    rows = []
    for family in families:
        requests = instances(build_tasks(family))
        baseline, expected = timed(lambda requests=requests: answer(plain, requests))
        ours_fp32, got = timed(lambda requests=requests: answer(fp32.lm, requests))
        ours_auto, _ = timed(lambda requests=requests: answer(auto.lm, requests))
        if requests[0].request_type == "loglikelihood":
            check = f"max abs delta ll (fp32) {max(abs(a[0] - b[0]) for a, b in zip(expected, got, strict=True)):.1e}"
        else:
            check = f"{sum(a == b for a, b in zip(expected, got, strict=True))}/{len(got)} outputs equal (fp32)"
        rows.append(
            {
                "family": family.name,
                "requests": len(requests),
                "hflm": baseline,
                "fp32": ours_fp32,
                "auto": ours_auto,
                "check": check,
            }
        )
        print(rows[-1], flush=True)
    return rows


# ---------------------------------------------------------------- 2. fraction of matmul peak

NO_NATIVE_BF16 = "not measured: this CPU has no native bf16 (AVX512-BF16 or AMX), so `dtype: auto` is float32"
MET = {True: "yes", False: "no", None: "not measurable here"}


def prefill_flops_per_token(model, tokens: int) -> float:
    """2 FLOPs per weight of every matmul in the layers (the head runs on one position
    only), plus attention scores and values (causal: on average half the sequence)."""
    config = getattr(model.config, "text_config", None) or model.config
    head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
    attention = 2 * 2 * config.num_hidden_layers * config.num_attention_heads * head_dim * tokens / 2
    return 2 * ModelCost.of(model).layer_weights + attention


@torch.no_grad()
def prefill_rate(model, batch: int = 4, tokens: int = 512) -> float:
    ids = torch.randint(100, 1000, (batch, tokens))
    model(input_ids=ids[:1, :64], logits_to_keep=1)
    return batch * tokens / fastest(lambda: model(input_ids=ids, logits_to_keep=1), trials=3)


def bench_peak(model: str, fp32) -> list[dict]:
    """float32 always; bf16 only where the CPU computes it natively: torch emulates it
    elsewhere (0.3 GFLOP/s for the 2048 matmul on an AVX2 EPYC, 8 minutes for nothing)."""
    rows = []
    loaded_by_dtype = {"float32": fp32}
    if cpu_has_fast_bf16():
        loaded_by_dtype["bfloat16"] = loaded(model, "bfloat16")
    else:
        rows.append({"dtype": "bfloat16", "native": False})
    for dtype_name, loaded_model in loaded_by_dtype.items():
        peak = matmul_peak(getattr(torch, dtype_name))
        rate = prefill_rate(loaded_model.lm.model)
        achieved = rate * prefill_flops_per_token(loaded_model.lm.model, 512)
        rows.append(
            {
                "dtype": dtype_name,
                "native": True,
                "peak_gflops": peak / 1e9,
                "tokens_per_s": rate,
                "model_gflops": achieved / 1e9,
                "fraction": achieved / peak,
            }
        )
        print(rows[-1], flush=True)
    return rows


# ---------------------------------------------------------------- 3. accuracy cost of bf16


def chosen_answers(tasks: dict, results: list) -> dict:
    """(task, doc id) -> (chosen choice, gold choice, loglikelihoods)."""
    by_doc = defaultdict(dict)
    docs = {}
    for instance, (loglikelihood, _) in zip(instances(tasks), results, strict=True):
        by_doc[(instance.task_name, instance.doc_id)][instance.idx] = loglikelihood
        docs[(instance.task_name, instance.doc_id)] = instance.doc
    out = {}
    for key, lls in by_doc.items():
        values = [lls[i] for i in sorted(lls)]
        gold = tasks[key[0]].doc_to_target(docs[key])
        out[key] = (max(range(len(values)), key=values.__getitem__), gold, values)
    return out


def bench_accuracy_cost(families: list[Family], fp32, bf16) -> dict:
    tasks = {}
    for family in families:
        tasks.update(build_tasks(family))
    requests = instances(tasks)
    full, reduced = (
        chosen_answers(tasks, fp32.lm.loglikelihood(requests, disable_tqdm=True)),
        chosen_answers(tasks, bf16.lm.loglikelihood(requests, disable_tqdm=True)),
    )
    keys = sorted(full)
    agree = sum(full[k][0] == reduced[k][0] for k in keys)
    worst = max(abs(a - b) for k in keys for a, b in zip(full[k][2], reduced[k][2], strict=True))
    by_task_bf16, by_task_fp32 = defaultdict(list), defaultdict(list)
    for task, doc in keys:  # 0/1 correct: McNemar's exact test; the margin is 1 point = 0.01
        by_task_bf16[task].append(int(reduced[(task, doc)][0] == reduced[(task, doc)][1]))
        by_task_fp32[task].append(int(full[(task, doc)][0] == full[(task, doc)][1]))
    difference = stats.paired_difference(dict(by_task_bf16), dict(by_task_fp32))
    result = {
        "items": len(keys),
        "requests": len(requests),
        "agreement": agree / len(keys),
        "max_abs_delta_ll": worst,
        "accuracy_fp32": 100 * sum(map(sum, by_task_fp32.values())) / len(keys),
        "accuracy_bf16": 100 * sum(map(sum, by_task_bf16.values())) / len(keys),
        "difference": difference,
        "equivalent_1pt": stats.equivalent(difference, 0.01),
        "tasks": {task: len(v) for task, v in by_task_fp32.items()},
    }
    print(result, flush=True)
    return result


# ---------------------------------------------------------------- 4. loads and reruns


def bench_gguf_cache(model: str, tmp: Path) -> dict:
    cold, _ = timed(lambda: load(model, "auto", tmp / "cache"))
    warm, _ = timed(lambda: load(model, "auto", tmp / "cache"))
    return {"cold": cold, "warm": warm}


def bench_rerun(tmp: Path) -> dict:
    cfg = parse_run_config(
        compose_run(
            f"results_dir={tmp / 'sweep'}",
            "model=[tiny_random_llama,smollm2_135m_instruct]",
            "benchmark=[bbh_bigbench_mc,bbh_bigbench_mc_3shot]",
            "limit=1",
        )
    )
    cold, first = timed(lambda: run(cfg, {"id": "bench-cold"}))
    warm, second = timed(lambda: run(cfg, {"id": "bench-warm"}))
    assert not second.written, "the rerun recomputed a cell"
    return {
        "cold": cold,
        "warm": warm,
        "cells": len(first.written),
        "loads": first.model_loads,
        "skipped": len(second.skipped),
        "warm_loads": second.model_loads,
    }


# ---------------------------------------------------------------- 5. preparing the requests


def bench_requests(families: list[Family], lm) -> list[dict]:
    """Per family, on the same items: lm-eval building the requests (rendering every prompt)
    plainly and with compiled templates, then HFLM's tokenization of them and the scorer's.
    The data are loaded once before either build is timed."""
    from lm_eval.models.huggingface import HFLM

    plain_lm = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, device="cpu")
    rows = []
    for family in families:
        build_tasks(replace(family, items=1))
        plain_build, plain_tasks = timed(lambda family=family: build_tasks(family))
        with compiled_prompt_templates():
            ours_build, our_tasks = timed(lambda family=family: build_tasks(family))
        requests = instances(plain_tasks)
        pairs = [request.args for request in requests if request.args[0]]
        plain_tokenize, expected = timed(lambda pairs=pairs: [plain_lm._encode_pair(*pair) for pair in pairs])
        ours_tokenize, got = timed(lambda requests=requests, pairs=pairs: pretokenized_pairs(lm, requests, pairs))
        same_prompts = [r.args for r in requests] == [r.args for r in instances(our_tasks)]
        rows.append(
            {
                "family": family.name,
                "requests": len(requests),
                "plain_build": plain_build,
                "ours_build": ours_build,
                "plain_tokenize": plain_tokenize,
                "ours_tokenize": ours_tokenize,
                "check": f"prompts {'equal' if same_prompts else 'DIFFER'}, ids {'equal' if got == expected else 'DIFFER'}",
            }
        )
        print(rows[-1], flush=True)
    return rows


def pretokenized_pairs(lm, requests: list, pairs: list) -> list:
    with lm.pretokenized(requests):
        return [lm._encode_pair(*pair) for pair in pairs]


# ---------------------------------------------------------------- report

READING = (
    "Reading it: HFLM runs every (context, choice) pair as its own sequence, except that it runs "
    "single-token choices of one context once (MMLU). The harness runs each context once for all its "
    "choices and each shared few-shot prefix once for all its items (MMLU's dev shots per subject; "
    "ARC-Challenge's 25 shots are drawn per item, so there only the context is shared by the choices). "
    "0-shot contexts are short next to their choices, so there the gain is bf16 and the choices' passes: "
    "sorted by length, cut where padding would cost more than another pass, with logits only at the "
    "choices' real tokens. Generation: HFLM decodes one item at a time; the harness prefills each "
    "subtask's shots once and decodes up to 32 items together, a finished item's place going to the next "
    "waiting one of any subtask (continuous batching), so the ratio grows with the items decoded at once."
)


def targets(families: list[dict], peak: list[dict], accuracy: dict) -> list[tuple]:
    """(target, measured, met) for the speed-ups of the harness at `dtype: auto` vs plain lm-eval."""
    ratio = {row["family"].split(" (")[0]: row["hflm"] / row["auto"] for row in families}
    zero_shot = [value for name, value in ratio.items() if name.startswith("0-shot")]
    mmlu = next(value for name, value in ratio.items() if name.startswith("MMLU"))
    bbh = next(value for name, value in ratio.items() if name.startswith("BBH"))
    bf16 = next(row for row in peak if row["dtype"] == "bfloat16")
    bf16_target = ">= half of the bf16 matmul peak on a long prefill"
    return [
        ("MMLU 5-shot >= 8x", f"{mmlu:.1f}x", mmlu >= 8),
        ("0-shot MC >= 4x (each task)", ", ".join(f"{v:.1f}x" for v in zero_shot), min(zero_shot) >= 4),
        ("BBH 3-shot generation >= 3x", f"{bbh:.1f}x", bbh >= 3),
        (bf16_target, f"{100 * bf16['fraction']:.0f}%", bf16["fraction"] >= 0.5)
        if bf16["native"]
        else (bf16_target, NO_NATIVE_BF16, None),
        (
            "bf16 vs fp32 equivalent within +-1 point (TOST)",
            f"{100 * accuracy['difference'].estimate:+.2f} points",
            accuracy["equivalent_1pt"],
        ),
    ]


def run_note(args, load_before, load_after, seconds) -> str:
    parts = "" if args.parts == PARTS else f" --parts {' '.join(args.parts)}"
    written = f" --write {args.write}" if args.write else ""
    return (
        f"`python scripts/bench.py --model {args.model} --items {args.items} --mmlu {' '.join(map(str, args.mmlu))} "
        f"--bbh {' '.join(map(str, args.bbh))} --accuracy-items {' '.join(map(str, args.accuracy_items))} "
        f"--build-items {args.build_items}{parts}{written}` made this report; every number "
        f"below comes from that one run ({seconds / 60:.0f} min, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
        f"; load average (1/5/15 min) {'/'.join(f'{x:.1f}' for x in load_before)} at the start and "
        f"{'/'.join(f'{x:.1f}' for x in load_after)} at the end)."
    )


def markdown(args, measured: dict, note: str) -> str:
    """The report of the parts measured (a partial run writes only those sections)."""
    v = versions()
    lines = [
        "# Benchmarks",
        "",
        note,
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, {platform.machine()}, torch threads "
        f"{torch.get_num_threads()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; lm-eval {v['lm_eval']}, "
        f"transformers {v['transformers']}, torch {v['torch']}; model {args.model} (GGUF dequantized). The machine "
        "is shared with other jobs (see the load averages), so absolute times are inflated; the ratios compare runs "
        "of the same requests inside one run.",
    ]
    if measured.get("families"):
        lines += families_section(args, measured["families"])
    if measured.get("requests"):
        lines += requests_section(measured["requests"])
    if measured.get("peak"):
        lines += peak_section(measured["peak"])
    if all(measured.get(part) for part in ("families", "peak", "accuracy")):
        lines += targets_section(measured["families"], measured["peak"], measured["accuracy"])
    if measured.get("accuracy"):
        lines += accuracy_section(measured["accuracy"])
    if measured.get("loads"):
        lines += loads_section(*measured["loads"])
    return "\n".join(lines + [""])


def families_section(args, families: list[dict]) -> list[str]:
    lines = [
        "",
        "## Speed per task family, same requests",
        "",
        "Plain lm-eval = `HFLM` (float32, its default batch size 1) called on the requests lm-eval built; harness = "
        "`harness.scorer.PrefixSharedHFLM` on the same requests, in float32 and in `dtype: auto` "
        f"(here {args.auto_dtype}).",
        "",
        "| family | requests | plain lm-eval s | harness fp32 s | harness auto s | speed-up fp32 | speed-up auto | check |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in families:
        lines.append(
            f"| {row['family']} | {row['requests']} | {row['hflm']:.1f} | {row['fp32']:.1f} | "
            f"{row['auto']:.1f} | {row['hflm'] / row['fp32']:.1f}x | {row['hflm'] / row['auto']:.1f}x | "
            f"{row['check']} |"
        )
    return lines + ["", READING]


def peak_section(peak: list[dict]) -> list[str]:
    lines = [
        "",
        "## Long prefill against the measured matmul peak",
        "",
        "Peak: a 2048x2048 matmul, 4 times, fastest of 5 trials. Model: one forward pass of 4 x 512 tokens with logits for the last "
        "position only, fastest of 3; FLOPs = 2 per layer weight per token plus causal attention.",
        "",
        "| dtype | matmul peak GFLOP/s | prefill tokens/s | model GFLOP/s | fraction of peak |",
        "|---|---|---|---|---|",
    ]
    for row in peak:
        if not row["native"]:
            lines.append(f"| {row['dtype']} | {NO_NATIVE_BF16} | | | |")
            continue
        lines.append(
            f"| {row['dtype']} | {row['peak_gflops']:.0f} | {row['tokens_per_s']:.0f} | "
            f"{row['model_gflops']:.0f} | {100 * row['fraction']:.0f}% |"
        )
    return lines


def targets_section(families: list[dict], peak: list[dict], accuracy: dict) -> list[str]:
    lines = [
        "",
        "## Against the targets of issue 14",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    return lines + [f"| {name} | {value} | {MET[met]} |" for name, value, met in targets(families, peak, accuracy)]


def accuracy_section(accuracy: dict) -> list[str]:
    diff = accuracy["difference"]
    tasks = ", ".join(f"{task} {n}" for task, n in accuracy["tasks"].items())
    return [
        "",
        "## Accuracy cost of bf16",
        "",
        f"The harness's scorer in bfloat16 vs float32 on the same {accuracy['items']:,} items ({tasks}; "
        f"{accuracy['requests']:,} loglikelihood requests, 0-shot, shipped mirror data).",
        "",
        "| measure | value |",
        "|---|---|",
        f"| items where bf16 and fp32 choose the same answer | {100 * accuracy['agreement']:.2f}% |",
        f"| max abs delta loglikelihood | {accuracy['max_abs_delta_ll']:.3f} |",
        f"| accuracy fp32 / bf16 | {accuracy['accuracy_fp32']:.2f} / {accuracy['accuracy_bf16']:.2f} |",
        f"| bf16 - fp32, points (95% CI, paired bootstrap, macro over tasks) | {100 * diff.estimate:+.2f} "
        f"({100 * diff.low:+.2f}, {100 * diff.high:+.2f}) |",
        f"| {diff.method} p | {diff.p_value:.3f} |",
        f"| TOST equivalent within +-1 point (harness.stats.equivalent) | "
        f"{'yes' if accuracy['equivalent_1pt'] else 'no'} |",
    ]


def loads_section(gguf: dict, rerun: dict) -> list[str]:
    return [
        "",
        "## Loads and reruns",
        "",
        "| measurement | first s | second s | ratio | note |",
        "|---|---|---|---|---|",
        f"| GGUF load: dequantize vs reload from the safetensors cache | {gguf['cold']:.1f} | {gguf['warm']:.1f} | "
        f"{gguf['cold'] / gguf['warm']:.0f}x | |",
        f"| sweep 2 models x 2 benchmarks (limit 1): cold vs rerun | {rerun['cold']:.1f} | {rerun['warm']:.2f} | "
        f"{rerun['cold'] / rerun['warm']:.0f}x | {rerun['cells']} cells, {rerun['loads']} model loads; rerun: "
        f"{rerun['skipped']} skipped, {rerun['warm_loads']} loads |",
    ]


def requests_section(rows: list[dict]) -> list[str]:
    lines = [
        "",
        "## Preparing the requests, same items",
        "",
        "Building: lm-eval rendering every prompt (`build_all_requests`), plain and inside "
        "`harness.evaluate.compiled_prompt_templates` (each Jinja template compiled once). Tokenizing: HFLM's "
        "`_encode_pair` one request at a time vs the scorer's `pretokenized` ids (each distinct string once, in "
        "batched tokenizer calls). Both happen before the first request is scored, in every run.",
        "",
        "| family | requests | build plain s | build harness s | speed-up | tokenize plain s | tokenize harness s "
        "| speed-up | check |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['family']} | {row['requests']:,} | {row['plain_build']:.1f} | {row['ours_build']:.1f} | "
            f"{row['plain_build'] / row['ours_build']:.1f}x | {row['plain_tokenize']:.1f} | "
            f"{row['ours_tokenize']:.1f} | {row['plain_tokenize'] / row['ours_tokenize']:.1f}x | {row['check']} |"
        )
    return lines


PARTS = ["families", "requests", "peak", "accuracy", "loads"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2_135m_instruct")
    parser.add_argument("--items", type=int, default=40, help="items of each 0-shot MC task and of ARC-c 25-shot")
    parser.add_argument("--mmlu", type=int, nargs=2, default=(4, 15), metavar=("SUBJECTS", "ITEMS"))
    parser.add_argument("--bbh", type=int, nargs=2, default=(2, 5), metavar=("SUBTASKS", "ITEMS"))
    parser.add_argument("--accuracy-items", type=int, nargs=2, default=(1200, 800), metavar=("ARC_E", "PIQA"))
    parser.add_argument(
        "--build-items", type=int, default=20, help="items per task when preparing requests (0 = every item)"
    )
    parser.add_argument("--parts", nargs="+", default=PARTS, choices=PARTS, help="what to measure (all by default)")
    parser.add_argument("--write", type=Path, help="write the Markdown report here (e.g. BENCHMARKS.md)")
    args = parser.parse_args()
    logging.getLogger("lm_eval").setLevel(logging.ERROR)
    load_before, started = os.getloadavg(), time.perf_counter()
    fp32, auto = loaded(args.model, "float32"), loaded(args.model, "auto")
    args.auto_dtype = auto.info["dtype_used"]
    measured = {part: measure(part, args, fp32, auto) for part in PARTS if part in args.parts}
    report = markdown(args, measured, run_note(args, load_before, os.getloadavg(), time.perf_counter() - started))
    print(report)
    if args.write:
        args.write.write_text(report)


def measure(part: str, args, fp32, auto):
    """One part of the benchmark, on the loaded float32 and `dtype: auto` models."""
    if part == "families":
        return bench_families(
            [
                Family("0-shot MC: ARC-Easy", ["arc_easy"], 0, args.items),
                Family("0-shot MC: PIQA", ["piqa"], 0, args.items),
                Family(
                    f"MMLU 5-shot ({args.mmlu[0]} subjects x {args.mmlu[1]})", ["mmlu"], 5, args.mmlu[1], args.mmlu[0]
                ),
                Family("ARC-Challenge 25-shot (random shots per item)", ["arc_challenge"], 25, args.items),
                Family(
                    f"BBH 3-shot CoT generation ({args.bbh[0]} subtasks x {args.bbh[1]})",
                    ["bbh_cot_fewshot"],
                    3,
                    args.bbh[1],
                    args.bbh[0],
                ),
            ],
            fp32,
            auto,
        )
    if part == "requests":
        items = args.build_items or None
        per_task = f"{items} per task" if items else "every item"
        return bench_requests(
            [
                Family(f"MMLU 5-shot (57 subjects, {per_task})", ["mmlu"], 5, items),
                Family(f"ARC-Challenge 25-shot ({per_task})", ["arc_challenge"], 25, items),
            ],
            fp32.lm,
        )
    if part == "peak":
        return bench_peak(args.model, fp32)
    bf16 = auto if args.auto_dtype == "bfloat16" else loaded(args.model, "bfloat16")
    if part == "accuracy":
        return bench_accuracy_cost(
            [
                Family("ARC-Easy", ["arc_easy"], 0, args.accuracy_items[0]),
                Family("PIQA", ["piqa"], 0, args.accuracy_items[1]),
            ],
            fp32,
            bf16,
        )
    with tempfile.TemporaryDirectory() as tmp:
        return bench_gguf_cache(args.model, Path(tmp)), bench_rerun(Path(tmp))


if __name__ == "__main__":
    main()
