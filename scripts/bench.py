"""Speed benchmarks, each a ratio measured in this one run on this machine:
  1. harness (prefix-shared scorer) vs plain lm-eval (HFLM), cold, same model, task, limit
  2. warm rerun (finished cells skipped) vs cold run
  3. packaged GGUF: reload from the safetensors cache vs dequantizing
  4. prefix-shared scorer vs HFLM on the same multiple-choice requests (and max |diff|)
  5. an M models x T benchmarks sweep: model loads counted (target: M)
    python scripts/bench.py [--limit 10] [--model smollm2_135m_instruct]
"""
from __future__ import annotations

import argparse
import logging
import platform
import tempfile
import time
from pathlib import Path

from harness.config import compose_run
from harness.evaluate import task_manager
from harness.models import load_model
from harness.provenance import cpu_model, versions
from harness.run import run
from harness.schema import parse_run_config


def timed(function):
    started = time.perf_counter()
    result = function()
    return time.perf_counter() - started, result


def config(results: Path, *overrides: str):
    return parse_run_config(compose_run(f"results_dir={results}", *overrides))


def bench_gguf_cache(model: str, tmp: Path) -> tuple:
    cfg = config(tmp, f"model=[{model}]")
    cold, _ = timed(lambda: load_model(model, cfg.model[model], cfg.hardware, str(tmp / "cache")))
    warm, loaded = timed(lambda: load_model(model, cfg.model[model], cfg.hardware, str(tmp / "cache")))
    return ("GGUF load: dequantize vs reload from safetensors cache", cold, warm, ""), loaded


def bench_scorer(loaded, limit: int) -> tuple:
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from harness.tasks.bigbench_bbh.utils import read_split
    requests = [Instance(request_type="loglikelihood", doc=row, arguments=(row["text"], choice), idx=i)
                for task in task_manager().all_subtasks if task.startswith("bbh_bb_")
                for row in read_split(task, "test")[:limit] for i, choice in enumerate(row["choices"])]
    plain = HFLM(pretrained=loaded.lm.model, tokenizer=loaded.lm.tokenizer, batch_size=16, device="cpu")
    slow, expected = timed(lambda: plain.loglikelihood(requests, disable_tqdm=True))
    fast, got = timed(lambda: loaded.lm.loglikelihood(requests, disable_tqdm=True))
    worst = max(abs(a[0] - b[0]) for a, b in zip(expected, got))
    return (f"loglikelihood: HFLM vs prefix-shared ({len(requests)} requests)", slow, fast,
            f"max |diff| {worst:.1e}")


def bench_harness_vs_lm_eval(model: str, limit: int, tmp: Path) -> list[tuple]:
    from lm_eval import simple_evaluate
    from lm_eval.models.huggingface import HFLM

    cfg = config(tmp / "harness", f"model=[{model}]", f"limit={limit}")
    directory = load_model(model, cfg.model[model], cfg.hardware).info["dequantized_cache"]

    def plain():
        lm = HFLM(pretrained=directory, batch_size=16, device="cpu", dtype="float32")
        return simple_evaluate(model=lm, tasks=["bbh_bigbench_mc"], limit=limit, task_manager=task_manager())
    plain_seconds, _ = timed(plain)
    cold, _ = timed(lambda: run(cfg, {"id": "bench-cold"}))
    warm, summary = timed(lambda: run(cfg, {"id": "bench-warm"}))
    assert not summary.written, "warm rerun recomputed a cell"
    return [(f"cold run, bbh_bigbench_mc limit={limit}: plain lm-eval vs harness", plain_seconds, cold, ""),
            ("rerun of a finished sweep: cold vs warm (cells skipped)", cold, warm,
             f"{len(summary.skipped)} cells skipped, {summary.model_loads} model loads")]


def bench_sweep(tmp: Path) -> tuple:
    cfg = config(tmp / "sweep", "model=[tiny_random_llama,smollm2_135m_instruct]",
                 "benchmark=[bbh_bigbench_mc,bbh_bigbench_mc_3shot]", "limit=1")
    seconds, summary = timed(lambda: run(cfg, {"id": "bench-sweep"}))
    return ("sweep 2 models x 2 benchmarks", seconds, None,
            f"{len(summary.written)} cells, {summary.model_loads} model loads (target 2)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=10, help="items per BBH subtask")
    parser.add_argument("--model", default="smollm2_135m_instruct")
    args = parser.parse_args()
    logging.getLogger("lm_eval").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        gguf_row, loaded = bench_gguf_cache(args.model, tmp)
        rows = [*bench_harness_vs_lm_eval(args.model, args.limit, tmp), gguf_row,
                bench_scorer(loaded, args.limit), bench_sweep(tmp)]
    print(f"\nmachine: {cpu_model()}, {platform.machine()}, torch threads from the default; "
          f"lm-eval {versions()['lm_eval']}, torch {versions()['torch']}, model {args.model}\n")
    print("| measurement | baseline s | harness s | speed-up | note |\n|---|---|---|---|---|")
    for name, base, ours, note in rows:
        ratio = f"{base / ours:.1f}x" if ours else "-"
        print(f"| {name} | {base:.2f} | {ours:.2f} | {ratio} | {note} |" if ours is not None
              else f"| {name} | {base:.2f} | - | - | {note} |")


if __name__ == "__main__":
    main()
