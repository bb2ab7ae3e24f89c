"""The compute floor counts each distinct token position and head read once, on the
requests a real run builds, and scripts/floor.py reports it."""

import subprocess
import sys

import pytest
from lm_eval.models.huggingface import HFLM

from harness.config import compose_run
from harness.evaluate import evaluate
from harness.plan import plan_benchmarks, plan_cell
from harness.schema import parse_run_config
from harness.scorer import PrefixSharedHFLM
from harness.workload import ModelCost, Tokenized, Workload, distinct_positions, requests_recorded, tokenized
from tests.helpers import OFFLINE_ENV, REPO
from tests.test_scorer import load


def prefixes(sequence) -> set:
    return {tuple(sequence[:end]) for end in range(1, len(sequence) + 1)}


def test_distinct_positions_are_the_trie_nodes():
    sequences = [[1, 2, 3], [1, 2, 4], [1, 2, 3], [5], [1, 2], [], [1, 2, 3, 9, 9]]
    assert distinct_positions(sequences) == len(set().union(*map(prefixes, sequences))) == 7


def test_model_cost_counts_two_flops_per_weight():
    cost = ModelCost(layer_weights=10, head_weights=100)
    assert cost.flops(Workload(requests=1, positions=3, head_reads=2, generated=0)) == 2 * (10 * 3 + 100 * 2)


@pytest.mark.slow
def test_floor_of_real_cells_matches_a_count_by_hand(tmp_path):
    """SmolLM2 x ARC-Easy (loglikelihood) and one BBH subtask (generation), built by the
    harness's own evaluate with nothing scored; the trie and the head reads equal sets of
    prefixes built from HFLM's one-at-a-time encoding."""
    lm = load("smollm2_135m_instruct")
    cfg = parse_run_config(
        compose_run(
            "model=[smollm2_135m_instruct]",
            "benchmark=[arc_easy_0shot,bbh_3shot]",
            "benchmark.bbh_3shot.tasks=[bbh_fewshot_navigate]",
            "limit=3",
            f"results_dir={tmp_path}",
        )
    )
    kept = []
    for bench in plan_benchmarks(cfg):
        with requests_recorded(lm) as requests:
            evaluate(lm, plan_cell("smollm2_135m_instruct", {"kind": "test", "value": "0" * 32}, bench, cfg))
        kept += requests
    assert "loglikelihood" not in vars(lm) and isinstance(lm, PrefixSharedHFLM)  # the scorer's own again
    assert sorted({r.request_type for r in kept}) == ["generate_until", "loglikelihood"] and len(kept) > 9

    generated = {(r.task_name, r.doc_id): " Yes" for r in kept if r.request_type == "generate_until"}
    plain = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, device="cpu")
    nodes, reads, new_tokens = set(), set(), 0
    for request in kept:
        if request.request_type == "loglikelihood":
            context, continuation = plain._encode_pair(*request.args)
            nodes |= prefixes((context + continuation)[:-1])
            reads |= {tuple(context + continuation[:end]) for end in range(len(continuation))}
        else:
            prompt, output = plain.tok_encode(request.args[0]), plain.tok_encode(" Yes", add_special_tokens=False)
            nodes |= prefixes(prompt + output[:-1])
            reads |= {tuple(prompt + output[:end]) for end in range(len(output))}
            new_tokens += len(output)
    assert tokenized(lm, kept, generated).workload() == Workload(len(kept), len(nodes), len(reads), new_tokens)
    halves = [tokenized(lm, kept[: len(kept) // 2], generated), tokenized(lm, kept[len(kept) // 2 :], generated)]
    assert Tokenized.pooled(halves).workload() == Workload(len(kept), len(nodes), len(reads), new_tokens)


@pytest.mark.slow
def test_floor_script_reports_a_suite(tmp_path):
    report = tmp_path / "floor.md"
    result = subprocess.run(
        [sys.executable, "scripts/floor.py", "model=[tiny_random_llama]", "benchmark=[arc_easy_0shot]", "limit=2"]
        + ["--write", str(report)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env=OFFLINE_ENV,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    text = report.read_text()
    assert "## tiny_random_llama" in text and "| arc_easy_0shot" in text and "all cells, one trie" in text
    assert "GFLOP/s float32" in text and "h in float32 at the least" in text
