"""The least compute a suite needs, and how fast this machine multiplies matrices.

Any scorer must run every distinct token position of its requests through the model's
layers at least once: requests that share a prefix (few-shot examples, a question under
its choices) share its positions, so the distinct positions are the nodes of a trie over
the token ids of every request a model gets in a suite. It must also apply the vocabulary
head wherever a next-token distribution is read: each continuation token of a
loglikelihood request, each generated token. At 2 FLOPs per weight per position, with
attention and everything but the matmuls left out, that is a lower bound on the work; over
the measured matmul peak, a lower bound on the time. `scripts/floor.py` prints it for a
suite; `scripts/bench.py` measures how close the scorer gets to the peak.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

import torch

from harness.scorer import common_prefix_length


@dataclass(frozen=True)
class Workload:
    requests: int
    positions: int  # distinct token positions through the layers
    head_reads: int  # positions whose next-token distribution is read
    generated: int  # generated tokens (from a record of the cell; counted in the two above)


@dataclass(frozen=True)
class ModelCost:
    layer_weights: int  # weights of the layers' matmuls; the embedding is a lookup
    head_weights: int  # vocabulary x hidden size

    @classmethod
    def of(cls, model) -> ModelCost:
        config = getattr(model.config, "text_config", None) or model.config
        layers = sum(
            p.numel() for name, p in model.named_parameters() if p.dim() == 2 and not is_embedding_or_head(name)
        )
        return cls(layers, config.vocab_size * config.hidden_size)

    def flops(self, work: Workload) -> float:
        return 2.0 * (self.layer_weights * work.positions + self.head_weights * work.head_reads)


def is_embedding_or_head(parameter_name: str) -> bool:
    return "embed" in parameter_name or "lm_head" in parameter_name


def distinct_positions(sequences: Iterable[Sequence[int]]) -> int:
    """Nodes of the trie over the sequences: in sorted order, each sequence adds the
    positions past its common prefix with the one before it."""
    ordered = sorted({tuple(sequence) for sequence in sequences})
    return sum(len(b) - common_prefix_length(a, b) for a, b in zip([()] + ordered, ordered, strict=False))


@dataclass(frozen=True)
class Tokenized:
    """Requests as token ids: what runs through the layers and where the head is read.
    Kept per cell, so a suite's total pools the cells' ids instead of encoding again."""

    requests: int
    sequences: frozenset[tuple[int, ...]]
    reads: frozenset[tuple[int, ...]]  # prefixes whose next-token distribution is read
    generated: int

    def workload(self) -> Workload:
        return Workload(self.requests, distinct_positions(self.sequences), len(self.reads), self.generated)

    @staticmethod
    def pooled(parts: list[Tokenized]) -> Tokenized:
        return Tokenized(
            sum(part.requests for part in parts),
            frozenset().union(*(part.sequences for part in parts)),
            frozenset().union(*(part.reads for part in parts)),
            sum(part.generated for part in parts),
        )


def tokenized(lm, requests: list, generated: dict[tuple[str, int], str]) -> Tokenized:
    """lm-eval requests tokenized as the harness's scorer (HFLM's `_encode_pair`) does.
    Generation requests add the text a finished run generated for the same item
    (`generated`, by task and doc id), if any."""
    scored = [request for request in requests if request.request_type == "loglikelihood"]
    prompts = [request for request in requests if request.request_type == "generate_until"]
    with lm.pretokenized(scored) if hasattr(lm, "pretokenized") else nullcontext():  # batched, if the scorer can
        pairs = [lm._encode_pair(*request.args) for request in scored]
    reads = {tuple(context + continuation[:end]) for context, continuation in pairs for end in range(len(continuation))}
    sequences = {tuple((context + continuation)[:-1]) for context, continuation in pairs}
    new_tokens = 0
    for request in prompts:
        prompt = lm.tok_encode(request.args[0])
        output = lm.tok_encode(generated.get((request.task_name, request.doc_id), ""), add_special_tokens=False)
        sequences.add(tuple(prompt + output[:-1]))
        reads.update(tuple(prompt + output[:end]) for end in range(max(1, len(output))))
        new_tokens += len(output)
    return Tokenized(len(requests), frozenset(sequences), frozenset(reads), new_tokens)


@contextmanager
def requests_recorded(lm) -> Iterator[list]:
    """Inside, `lm` scores nothing: it keeps every request lm-eval gives it and answers
    with placeholders, so a cell can be planned and built exactly as a run builds it."""
    kept: list = []

    def keeper(placeholder):
        def answer(requests, disable_tqdm: bool = False):
            kept.extend(requests)
            return [placeholder] * len(requests)

        return answer

    lm.loglikelihood, lm.generate_until = keeper((0.0, False)), keeper("")
    lm.loglikelihood_rolling = keeper(0.0)
    try:
        yield kept
    finally:
        del lm.loglikelihood, lm.generate_until, lm.loglikelihood_rolling  # the class's own again


def fastest(function, trials: int = 5) -> float:
    """The shortest of a few timings: on a shared or virtual machine, other work only ever
    adds time (one-shot timings of the same prefill varied from 264 to 463 tokens/s here)."""
    timings = []
    for _ in range(trials):
        started = time.perf_counter()
        function()
        timings.append(time.perf_counter() - started)
    return min(timings)


def matmul_peak(dtype: torch.dtype, size: int = 2048, repeats: int = 4) -> float:
    """FLOP/s of a large square matmul on all of torch's threads."""
    a, b = torch.randn(size, size, dtype=dtype), torch.randn(size, size, dtype=dtype)
    a @ b
    return 2 * size**3 * repeats / fastest(lambda: [a @ b for _ in range(repeats)])
