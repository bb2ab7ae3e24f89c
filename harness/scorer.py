"""Loglikelihood scoring and greedy generation with prefixes shared across requests.

lm-eval's HFLM runs every (context, continuation) pair as its own sequence, and few-shot
prompts repeat one prefix for many items (MMLU's dev shots for every question of a
subject, BBH's prompt for every item of a subtask, TruthfulQA's fixed 6-shot prompt).
`PrefixSharedHFLM` keeps HFLM's tokenization (loglikelihood requests arrive encoded by
HFLM's `_encode_pair` with its BOS handling; generation contexts go through HFLM's
`tok_batch_encode`) and:
  1. sorts the distinct contexts by token ids, so shared prefixes are adjacent, and builds
     a radix tree of the prefixes worth computing once (`min_shared` tokens or more);
  2. walks the tree depth first: a node's tokens run once, at batch size 1, on top of its
     parent's KV cache; only the caches on the current path are held;
  3. scores the contexts that end under a node in batches on a copy of its cache: their
     own tokens once (keeping only the last position's logits), then the multi-token
     continuations on top, sorted by length and split into passes with little padding,
     with logits (and the vocabulary-wide log-softmax) only at the continuations' real
     tokens: 0-shot choices are long next to their contexts, and Gemma 3's 262k-token head
     costs more than its layers;
  4. generates greedily the same way: the shared prefix prefilled once, items decoded in
     batches on top of it, each row stopped at its stop strings, EOS or max_gen_toks, and
     waiting items taking the places of finished rows (harness.decoding).
Before HFLM tokenizes the loglikelihood requests one string at a time, every distinct string
it will ask for is encoded once, in batches the tokenizer spreads over the cores
(`pretokenized`); its `tok_encode` then returns those ids.
Batches are cut where the padding they save is worth more than a pass's fixed cost
(`cheapest_split`). KV rows and logits held at once stay under `memory_mb`
(hardware.scorer_memory_mb).
Sliding-window layers (Gemma 3) see a window of cache slots, not of tokens, so padding
inside a row would change what they see; batches that can reach past the window hold
rows of equal length only. Requests HFLM would truncate, and sampled generation, go
through HFLM unchanged. Results match HFLM within float tolerance (tests/test_scorer.py).
"""

from __future__ import annotations

import copy
import functools
import json
from array import array
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM
from lm_eval.models.utils import (
    handle_stop_sequences,
    has_bos_prefix,
    normalize_gen_kwargs,
    postprocess_generated_text,
)
from tqdm import tqdm

from harness.decoding import Rows, Stopper, stackable

GREEDY_KWARGS = {"do_sample", "temperature"}  # generation settings this scorer decodes itself


@dataclass
class Context:
    """One distinct context and the requests that share it."""

    tokens: list[int]
    requests: list = field(default_factory=list)  # loglikelihood: (index, continuation); generation: index


@dataclass
class PrefixNode:
    """A prefix computed once: tokens[start:end] run on top of the parent's cache."""

    start: int
    end: int
    tokens: list[int]  # the whole prefix, tokens[:end]
    children: list = field(default_factory=list)
    contexts: list = field(default_factory=list)  # contexts whose own tokens start at `end`


def common_prefix_length(a: list[int], b: list[int]) -> int:
    length = min(len(a), len(b))
    for i in range(length):
        if a[i] != b[i]:
            return i
    return length


def build_tree(contexts: list[Context], start: int, min_shared: int) -> PrefixNode:
    """Radix tree over contexts sorted by tokens, all sharing tokens[:start]. In sorted
    order the prefix shared by all is the one shared by the first and the last. Every
    context keeps at least one token of its own (its last logits give the first
    continuation token); prefixes shorter than `min_shared` are not worth a node."""
    first, last = contexts[0].tokens, contexts[-1].tokens
    end = max(start, min(common_prefix_length(first, last), min(len(c.tokens) for c in contexts) - 1))
    node = PrefixNode(start, end, first[:end])
    node.contexts = [c for c in contexts if len(c.tokens) == end + 1]  # nothing left to share
    rest = [c for c in contexts if len(c.tokens) > end + 1]
    run_start = 0
    for i in range(1, len(rest) + 1):
        if i < len(rest) and rest[i].tokens[end] == rest[run_start].tokens[end]:
            continue
        group, run_start = rest[run_start:i], i
        if len(group) == 1:
            node.contexts += group
            continue
        child = build_tree(group, end, min_shared)  # shares tokens[:end + 1]: always deeper
        if child.end - end >= min_shared:
            node.children.append(child)
        else:  # too short to pay for itself: its contexts and subtrees hang off this node
            for grandchild in child.children:
                grandchild.start = end
            node.children += child.children
            node.contexts += child.contexts
    return node


def tree_of(contexts: dict, min_shared: int) -> PrefixNode:
    """The radix tree of the contexts. A root prefix shorter than `min_shared` (0-shot
    ARC's 'Question:') is not run on its own: a pass costs more than repeating it in
    every row."""
    root = build_tree(sorted(contexts.values(), key=lambda c: c.tokens), 0, min_shared)
    if root.end < min_shared:
        for child in root.children:
            child.start = 0
        root.end, root.tokens = 0, []
    return root


def cheapest_split(widths: list[int], overhead: int, fits) -> list[tuple[int, int]]:
    """Cut items sorted by width into consecutive batches [i, j) minimizing the padded work,
    sum over batches of (overhead + rows * widest), among batches `fits(i, j)` allows (a
    batch of one always fits; if a batch fits, so does any shorter one ending at j)."""
    cost, cut = [0] + [None] * len(widths), [0] * (len(widths) + 1)
    for j in range(1, len(widths) + 1):
        for i in range(j - 1, -1, -1):
            if i < j - 1 and not fits(i, j):
                break
            candidate = cost[i] + overhead + (j - i) * widths[j - 1]
            if cost[j] is None or candidate < cost[j]:
                cost[j], cut[j] = candidate, i
    spans, j = [], len(widths)
    while j:
        spans.append((cut[j], j))
        j = cut[j]
    return spans[::-1]


def pair_strings(context: str, continuation: str) -> tuple[str, ...]:
    """The strings lm-eval's `_encode_pair` tokenizes for a causal model: the context without
    its trailing spaces, and context plus continuation (the spaces moved onto the
    continuation leave that string unchanged). An empty context is encoded another way."""
    return (context.rstrip(), context + continuation) if context else ()


def fork(cache):
    """A copy of a KV cache that shares its tensors: the cache layers replace their tensors
    (torch.cat, indexing) instead of writing into them, so the original stays intact at no
    copying cost."""
    if cache is None:
        return None
    forked = copy.copy(cache)
    forked.layers = [copy.copy(layer) for layer in cache.layers]
    return forked


@register_model("hf-prefix-shared")
class PrefixSharedHFLM(HFLM):
    tokens_per_batch = 2048  # new tokens per forward pass over the leaves of a node
    # A forward pass's fixed cost, in tokens: measured here (2026-11-25, bf16, load ~4) a
    # 1-token pass of SmolLM2-135M took 33 ms, a 16 x 64 one 0.65 ms per token.
    pass_overhead_tokens = 48
    decode_rows = 32  # rows decoded together in generation
    refill_rows = 4  # free rows that make waiting contexts join a running decode (one prefill pass)
    min_shared = 16  # tokens a shared prefix needs to become its own tree node
    tokenize_batch = 1024  # strings per call of the tokenizer when pretokenizing

    def __init__(self, *args, memory_mb: int = 2048, **kwargs):
        super().__init__(*args, **kwargs)
        self.memory_bytes = memory_mb * 2**20
        config = self.model.config
        text = getattr(config, "text_config", None) or config
        head_dim = getattr(text, "head_dim", None) or text.hidden_size // text.num_attention_heads
        kv_heads = getattr(text, "num_key_value_heads", None) or text.num_attention_heads
        self.kv_bytes_per_token = 2 * text.num_hidden_layers * kv_heads * head_dim * self.model.dtype.itemsize
        # A window declared without per-layer types may apply to every layer: treat it as real.
        layer_types = getattr(text, "layer_types", None) or ["sliding_attention"]
        windowed = any(kind in ("sliding_attention", "chunked_attention") for kind in layer_types)
        self.sliding_window = getattr(text, "sliding_window", None) if windowed else None
        self.vocab = text.vocab_size
        self._encoded: dict[str, array] = {}  # string -> ids, while `pretokenized` holds

    # ------------------------------------------------------------ tokenization

    def loglikelihood(self, requests, disable_tqdm: bool = False):
        """HFLM's, on ids encoded up front. HFLM encodes each request's context and context
        plus continuation one call at a time: 411 s for a full MMLU 5-shot on this project's
        2-core CPU, 97 s this way (results/benchmarks/request-preparation-2026-12-07.md);
        MMLU's four choices repeat one context."""
        with self.pretokenized(requests):
            return super().loglikelihood(requests, disable_tqdm=disable_tqdm)

    @contextmanager
    def pretokenized(self, requests):
        """Inside: `tok_encode` answers from ids encoded once per distinct string of the
        requests, in batched tokenizer calls (parallel across cores for fast tokenizers),
        with the special tokens HFLM would use for each string."""
        strings = {string for request in requests for string in pair_strings(*request.args)}
        try:
            self._encoded.update((string, array("i", ids)) for string, ids in self.encoded_in_batches(strings))
            yield
        finally:
            self._encoded = {}

    def token_lengths(self, strings: list[str]) -> list[int]:
        """len(self.tok_encode(s)) for each string, in batched tokenizer calls: after a full
        MMLU 5-shot here, counting the record's tokens one string at a time took most of
        141 s, this way most of 71 s (README, *Architecture*)."""
        lengths = {string: len(ids) for string, ids in self.encoded_in_batches(set(strings))}
        return [lengths[string] for string in strings]

    def encoded_in_batches(self, strings) -> Iterator[tuple[str, list[int]]]:
        """(string, the ids HFLM.tok_encode gives it) for each distinct string, encoded
        `tokenize_batch` at a time."""
        bos = self.tokenizer.decode(self.prefix_token_id)
        for starts_with_bos in (False, True):
            group = sorted(string for string in strings if has_bos_prefix(string, bos) == starts_with_bos)
            for start in range(0, len(group), self.tokenize_batch):
                chunk = group[start : start + self.tokenize_batch]
                ids = self.tokenizer(chunk, **self._special_tokens(starts_with_bos))["input_ids"]
                yield from zip(chunk, ids, strict=True)

    def _special_tokens(self, starts_with_bos: bool) -> dict:
        """The tokenizer arguments HFLM.tok_encode uses when not told: the model's BOS
        setting, and no special tokens for a string that already starts with BOS."""
        if starts_with_bos:
            return {"add_special_tokens": False}
        return {} if self.add_bos_token is None else {"add_special_tokens": self.add_bos_token}

    def tok_encode(self, string: str, add_special_tokens=None, left_truncate_len=None, **kwargs) -> list[int]:
        ids = self._encoded.get(string) if add_special_tokens is None and not left_truncate_len and not kwargs else None
        if ids is not None:
            return ids.tolist()
        return super().tok_encode(
            string, add_special_tokens=add_special_tokens, left_truncate_len=left_truncate_len, **kwargs
        )

    # ------------------------------------------------------------ loglikelihood

    @torch.no_grad()
    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs=None):
        results: list = [None] * len(requests)
        contexts: dict = {}
        fallback = []
        for index, (_, context_enc, continuation_enc) in enumerate(requests):
            if len(context_enc) + len(continuation_enc) > self.max_length + 1 or not continuation_enc:
                fallback.append(index)
            else:
                contexts.setdefault(tuple(context_enc), Context(list(context_enc))).requests.append(
                    (index, list(continuation_enc))
                )
        if fallback:
            for index, answer in zip(
                fallback,
                super()._loglikelihood_tokens(
                    [requests[i] for i in fallback], disable_tqdm=True, override_bs=override_bs
                ),
                strict=True,
            ):
                results[index] = answer
        progress = tqdm(
            total=len(requests) - len(fallback),
            disable=disable_tqdm or self.rank != 0,
            desc="Running loglikelihood requests (shared prefixes)",
        )

        def score(node: PrefixNode, cache) -> None:
            longest_continuation = max(len(c) for context in node.contexts for _, c in context.requests)
            for batch in self._batches(node, node.contexts, longest_continuation):
                for index, answer in self._score_batch(node, cache, batch):
                    results[index] = answer
                    self.cache_hook.add_partial("loglikelihood", requests[index][0], answer)
                progress.update(sum(len(context.requests) for context in batch))

        if contexts:
            for node, cache in self._walk(tree_of(contexts, self.min_shared), None):
                score(node, cache)
        progress.close()
        return results

    def _walk(self, node: PrefixNode, parent_cache):
        """(node, its cache) for every node with contexts, depth first: the parent's cache
        extended by this node's tokens, the children first, then this node. Only the
        current path's caches are alive."""
        cache = self._extend(parent_cache, node)
        for child in node.children:
            yield from self._walk(child, cache)
        if node.contexts:
            yield node, cache

    def _extend(self, parent_cache, node: PrefixNode):
        if node.end == node.start:
            return parent_cache
        ids = torch.tensor([node.tokens[node.start : node.end]], device=self.device)
        positions = torch.arange(node.start, node.end, device=self.device)[None]
        return self.model(
            input_ids=ids, position_ids=positions, past_key_values=fork(parent_cache), use_cache=True, logits_to_keep=1
        ).past_key_values

    def _batches(self, node: PrefixNode, contexts: list[Context], extra_tokens: int, generation: bool = False):
        """Contexts sorted by their own length, cut into batches with little padding, bounded by
        new tokens per pass, by rows and by memory; equal own lengths only where a sliding
        window could reach past the padding. Loglikelihood: a context batch costs its own pass
        and at least one continuation pass, and holds half the memory bound (its continuation
        passes the other half). Generation: a batch costs a pass per generated token."""
        ordered = sorted(contexts, key=lambda c: len(c.tokens))
        own = [len(c.tokens) - node.end for c in ordered]
        needs_equal = self.sliding_window is not None and node.end + own[-1] + extra_tokens >= self.sliding_window
        max_rows = self.decode_rows if generation else len(ordered)
        requests_before = [0]
        for context in ordered:
            requests_before.append(requests_before[-1] + len(context.requests))

        def fits(i: int, j: int) -> bool:
            rows, width = j - i, own[j - 1]
            if generation:
                held = self.kv_bytes_per_token * rows * (node.end + width + extra_tokens) + 8 * self.vocab * rows
            else:
                held = 2 * (self.kv_bytes_per_token * rows * (node.end + width) + 8 * self.vocab * rows)
            return (
                not (needs_equal and own[i] != width)
                and rows <= max_rows
                and rows * width <= self.tokens_per_batch
                and held <= self.memory_bytes
            )

        overhead = self.pass_overhead_tokens * (extra_tokens if generation else 2)
        for i, j in cheapest_split(own, overhead, fits):
            yield ordered[i:j]

    def _run_own_tokens(self, node: PrefixNode, cache, batch: list[Context]):
        """Each context's own tokens, left-padded to the longest (the padding sits between the
        shared prefix and them), on a fork of the node's cache: (last logits, cache, mask)."""
        start, device = node.end, self.device
        own = [c.tokens[start:] for c in batch]
        width = max(len(o) for o in own)
        pad = self.tokenizer.pad_token_id or 0
        ids = torch.tensor([[pad] * (width - len(o)) + o for o in own], device=device)
        own_mask = torch.tensor([[0] * (width - len(o)) + [1] * len(o) for o in own], device=device)
        positions = torch.tensor(
            [[start] * (width - len(o)) + list(range(start, start + len(o))) for o in own], device=device
        )
        mask = torch.cat([torch.ones(len(batch), start, dtype=own_mask.dtype, device=device), own_mask], dim=1)
        cache = fork(cache)
        if cache is not None:
            cache.batch_repeat_interleave(len(batch))
        out = self.model(
            input_ids=ids,
            attention_mask=mask,
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=1,
        )
        return out.logits[:, -1].float(), out.past_key_values, mask

    def _score_batch(self, node: PrefixNode, cache, batch: list[Context]):
        """(request index, (loglikelihood, is_greedy)) for every request of the batch: the
        first continuation token from its context's last logits, the rest from the
        continuation passes."""
        last_logits, cache, mask = self._run_own_tokens(node, cache, batch)
        first = F.log_softmax(last_logits, dim=-1)
        first_greedy = first.argmax(dim=-1).tolist()
        rows = [(b, index, continuation) for b, context in enumerate(batch) for index, continuation in context.requests]
        tails = [(0.0, True)] * len(rows)
        for chunk in self._tail_chunks(mask.shape[1], rows):
            for row, tail in zip(chunk, self._tail_logprobs(cache, mask, batch, [rows[r] for r in chunk]), strict=True):
                tails[row] = tail
        answers = []
        for (b, index, continuation), (tail, tail_greedy) in zip(rows, tails, strict=True):
            total = first[b, continuation[0]].item() + tail
            answers.append((index, (total, first_greedy[b] == continuation[0] and tail_greedy)))
        return answers

    def _tail_chunks(self, cached: int, rows: list) -> list[list[int]]:
        """The rows with more than one continuation token, sorted by length and cut into passes
        with little padding, each holding at most half the memory bound (the context batch
        holds the other half)."""
        multi = sorted((r for r, (*_, c) in enumerate(rows) if len(c) > 1), key=lambda r: len(rows[r][2]))
        if not multi:
            return []
        widths = [len(rows[r][2]) - 1 for r in multi]
        tokens_before = [0]
        for width in widths:
            tokens_before.append(tokens_before[-1] + width)

        def fits(i: int, j: int) -> bool:
            logits = 8 * self.vocab * (tokens_before[j] - tokens_before[i])  # float32 logits and log-softmax
            held = self.kv_bytes_per_token * (j - i) * (cached + widths[j - 1]) + logits
            return (j - i) * widths[j - 1] <= self.tokens_per_batch and 2 * held <= self.memory_bytes

        return [multi[i:j] for i, j in cheapest_split(widths, self.pass_overhead_tokens, fits)]

    def _tail_logprobs(self, cache, mask, batch: list[Context], rows: list) -> list[tuple[float, bool]]:
        """(sum of log-probabilities, all greedy) of each row's continuation tokens after the
        first: the continuations but their last token, right-padded, as one pass on a fork of
        their contexts' cache rows, with logits only at the real tokens."""
        device, pad = self.device, self.tokenizer.pad_token_id or 0
        width = max(len(c) - 1 for *_, c in rows)
        owner = torch.tensor([b for b, *_ in rows], device=device)
        cache = fork(cache)
        cache.batch_select_indices(owner)
        ids = torch.tensor([c[:-1] + [pad] * (width - len(c) + 1) for *_, c in rows], device=device)
        tail_mask = torch.tensor([[1] * (len(c) - 1) + [0] * (width - len(c) + 1) for *_, c in rows], device=device)
        ends = [len(batch[b].tokens) for b, *_ in rows]
        positions = torch.tensor([[end + i for i in range(width)] for end in ends], device=device)
        keep = tail_mask.bool()
        logits = self.model(
            input_ids=ids,
            attention_mask=torch.cat([mask[owner], tail_mask], dim=1),
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
            logits_to_keep=keep if self._head_takes_mask else 0,
        ).logits
        if logits.dim() == 3:  # every position
            logits = logits[keep]
        logprobs = F.log_softmax(logits.float(), dim=-1)  # [real tokens, vocab], row after row
        targets = torch.tensor([t for *_, c in rows for t in c[1:]], device=device)
        picked = logprobs.gather(1, targets[:, None])[:, 0]
        greedy = logprobs.argmax(dim=-1) == targets
        sizes = [len(c) - 1 for *_, c in rows]
        return [(p.sum().item(), bool(g.all())) for p, g in zip(picked.split(sizes), greedy.split(sizes), strict=True)]

    @functools.cached_property
    def _head_takes_mask(self) -> bool:
        """Whether the model runs its head only where a boolean `logits_to_keep` says
        (transformers' slice_logits_to_keep: Llama, Gemma 3, Qwen 2 and most others); a few
        heads slice it their own way, and those get every position."""
        ids = torch.zeros(1, 2, dtype=torch.long, device=self.device)
        keep = torch.tensor([[False, True]], device=self.device)
        try:
            logits = self.model(input_ids=ids, logits_to_keep=keep).logits
        except (TypeError, ValueError, IndexError, RuntimeError):
            return False
        return tuple(logits.shape[:-1]) == (1,)

    # ------------------------------------------------------------ generation

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        """Greedy requests share prefixes; sampled ones (and anything else) go to HFLM."""
        results: list = [None] * len(requests)
        groups: dict = {}
        for index, request in enumerate(requests):
            context, gen_kwargs = request.args
            groups.setdefault(json.dumps(gen_kwargs, sort_keys=True, default=str), []).append(index)
        for indices in groups.values():
            gen_kwargs = requests[indices[0]].args[1]
            kwargs = normalize_gen_kwargs(gen_kwargs, self.max_gen_toks)
            if (
                set(kwargs) - GREEDY_KWARGS - {"until", "max_gen_toks"}
                or kwargs.get("do_sample")
                or self.think_end_token is not None
                or self.backend != "causal"
            ):
                answers = super().generate_until([requests[i] for i in indices], disable_tqdm=disable_tqdm)
            else:
                answers = self._generate_greedy(
                    [requests[i].args[0] for i in indices], gen_kwargs, kwargs, disable_tqdm
                )
            for index, answer in zip(indices, answers, strict=True):
                results[index] = answer
        return results

    @torch.no_grad()
    def _generate_greedy(self, texts: list[str], gen_kwargs: dict, kwargs: dict, disable_tqdm: bool) -> list[str]:
        until = handle_stop_sequences(
            kwargs.get("until"), eos=self.tok_decode(self.eot_token_id, skip_special_tokens=False)
        )
        max_new = kwargs["max_gen_toks"]
        contexts: dict = {}
        for index, text in enumerate(texts):
            tokens = self.tok_batch_encode(
                [text], left_truncate_len=self.max_length - max_new, truncation=self.truncation
            )[0][0].tolist()
            contexts.setdefault(tuple(tokens), Context(tokens)).requests.append(index)
        outputs: list = [None] * len(texts)
        progress = tqdm(
            total=len(texts),
            disable=disable_tqdm or self.rank != 0,
            desc="Running generate_until requests (shared prefixes)",
        )
        eos = self.model.generation_config.eos_token_id
        eos_ids = {self.eot_token_id, *(eos if isinstance(eos, list) else [eos] if eos is not None else [])}
        stopper = Stopper(self.tokenizer, eos_ids, until, max_new)

        for context, tokens in self._decode_tree(tree_of(contexts, self.min_shared), stopper, max_new):
            text = postprocess_generated_text(self.tok_decode(tokens), until, None)
            for index in context.requests:
                outputs[index] = text
                self.cache_hook.add_partial("generate_until", (texts[index], gen_kwargs), text)
            progress.update(len(context.requests))
        progress.close()
        return outputs

    def _waiting_batches(self, root: PrefixNode, max_new: int):
        """(node, its cache, a batch of its contexts), node after node in walk order; a node's
        prefix runs when its first batch is asked for."""
        for node, cache in self._walk(root, None):
            for batch in self._batches(node, node.contexts, max_new, generation=True):
                yield node, cache, batch

    def _decode_tree(self, root: PrefixNode, stopper: Stopper, max_new: int):
        """(context, generated tokens) for every context of the tree, as rows finish. Up to
        `decode_rows` rows decode together. On a cache rows can be stacked on (full
        attention), once `refill_rows` places are free, waiting contexts are prefilled on
        their node's cache and stacked in, from any node: a row's cache holds its whole
        prefix (continuous batching, harness.decoding). Otherwise batch after batch."""
        waiting = self._waiting_batches(root, max_new)
        head = next(waiting, None)
        rows = None
        while head or rows:
            if not rows:
                node, cache, batch = head
                rows, head = Rows.started(batch, *self._run_own_tokens(node, cache, batch)), next(waiting, None)
            elif head and stackable(rows.cache) and self.decode_rows - len(rows) >= self.refill_rows:
                head = self._admit(rows, head, waiting, max_new)
            yield from rows.choose(stopper)
            if rows:
                rows.advance(self.model)

    def _admit(self, rows: Rows, head: tuple, waiting, max_new: int) -> tuple | None:
        """Stack waiting contexts into the free places of `rows`, node by node, while the
        memory bound allows (every row may still grow by max_new tokens); the new head of
        the waiting line."""
        while head and len(rows) < self.decode_rows:
            node, cache, batch = head
            admitted: list[Context] = []
            while batch and len(rows) + len(admitted) < self.decode_rows:
                width = max(rows.length, len(batch[0].tokens))
                per_row = self.kv_bytes_per_token * (width + max_new) + 8 * self.vocab
                if (len(rows) + len(admitted) + 1) * per_row > self.memory_bytes:
                    break
                admitted.append(batch.pop(0))
            if admitted:
                rows.stack(Rows.started(admitted, *self._run_own_tokens(node, cache, admitted)))
            if batch:
                return head  # full, or out of memory
            head = next(waiting, None)
        return head
