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
     own tokens once (keeping only the last position's logits), then every multi-token
     continuation of every context as one batch on top;
  4. generates greedily the same way: the shared prefix prefilled once, items decoded in
     batches on top of it, each row stopped at its stop strings, EOS or max_gen_toks.
KV rows and logits held at once stay under `memory_mb` (hardware.scorer_memory_mb).
Sliding-window layers (Gemma 3) see a window of cache slots, not of tokens, so padding
inside a row would change what they see; batches that can reach past the window hold
rows of equal length only. Requests HFLM would truncate, and sampled generation, go
through HFLM unchanged. Results match HFLM within float tolerance (tests/test_scorer.py).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM
from lm_eval.models.utils import handle_stop_sequences, normalize_gen_kwargs, postprocess_generated_text
from tqdm import tqdm

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
    return build_tree(sorted(contexts.values(), key=lambda c: c.tokens), 0, min_shared)


@register_model("hf-prefix-shared")
class PrefixSharedHFLM(HFLM):
    tokens_per_batch = 2048  # new tokens per forward pass over the leaves of a node
    decode_rows = 32  # rows decoded together in generation
    min_shared = 16  # tokens a shared prefix needs to become its own tree node

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

    # ------------------------------------------------------------ loglikelihood

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
            self._walk(tree_of(contexts, self.min_shared), None, score)
        progress.close()
        return results

    @torch.no_grad()
    def _walk(self, node: PrefixNode, parent_cache, visit) -> None:
        """Depth first: extend the parent's cache by this node's tokens, visit the children,
        then the contexts ending here. Only the current path's caches are alive."""
        cache = self._extend(parent_cache, node)
        for child in node.children:
            self._walk(child, cache, visit)
        if node.contexts:
            visit(node, cache)

    def _extend(self, parent_cache, node: PrefixNode):
        if node.end == node.start:
            return parent_cache
        ids = torch.tensor([node.tokens[node.start : node.end]], device=self.device)
        positions = torch.arange(node.start, node.end, device=self.device)[None]
        cache = copy.deepcopy(parent_cache) if parent_cache is not None else None
        return self.model(
            input_ids=ids, position_ids=positions, past_key_values=cache, use_cache=True, logits_to_keep=1
        ).past_key_values

    def _batches(self, node: PrefixNode, contexts: list[Context], extra_tokens: int, generation: bool = False):
        """Contexts in batches, shortest own part first (less padding), bounded by new tokens
        per pass, by rows and by memory; equal own lengths only where a sliding window could
        reach past the padding."""
        ordered = sorted(contexts, key=lambda c: len(c.tokens))
        longest = len(ordered[-1].tokens) - node.end
        needs_equal = self.sliding_window is not None and node.end + longest + extra_tokens >= self.sliding_window
        max_rows = self.decode_rows if generation else len(ordered)
        batch: list[Context] = []
        for context in ordered:
            candidate = batch + [context]
            own = len(context.tokens) - node.end
            if batch and (
                needs_equal
                and own != len(batch[0].tokens) - node.end
                or len(candidate) > max_rows
                or len(candidate) * own > self.tokens_per_batch
                or self._batch_bytes(node.end + own, candidate, extra_tokens, generation) > self.memory_bytes
            ):
                yield batch
                candidate = [context]
            batch = candidate
        if batch:
            yield batch

    def _batch_bytes(self, length: int, batch: list[Context], extra_tokens: int, generation: bool) -> int:
        """KV rows and float32 logits a batch holds at once. Loglikelihood: the contexts' rows,
        then one row per continuation with logits at each of its tokens; generation: one
        row per context growing by up to `extra_tokens`, logits at the last position."""
        if generation:
            return self.kv_bytes_per_token * len(batch) * (length + extra_tokens) + 8 * self.vocab * len(batch)
        rows = sum(len(c.requests) for c in batch)
        kv = self.kv_bytes_per_token * (len(batch) * length + rows * (length + extra_tokens))
        return kv + 8 * self.vocab * (len(batch) + rows * extra_tokens)

    def _run_own_tokens(self, node: PrefixNode, cache, batch: list[Context]):
        """Each context's own tokens, left-padded to the longest (the padding sits between the
        shared prefix and them), on a copy of the node's cache: (last logits, cache, mask)."""
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
        if cache is not None:
            cache = copy.deepcopy(cache)
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
        """(request index, (loglikelihood, is_greedy)) for every request of the batch."""
        last_logits, cache, mask = self._run_own_tokens(node, cache, batch)
        first = F.log_softmax(last_logits, dim=-1)
        rows = [(b, index, continuation) for b, context in enumerate(batch) for index, continuation in context.requests]
        tails = self._continuation_logprobs(cache, mask, batch, rows) if any(len(c) > 1 for *_, c in rows) else None
        answers = []
        for row, (b, index, continuation) in enumerate(rows):
            steps = [first[b]] + ([tails[row, : len(continuation) - 1]] if len(continuation) > 1 else [])
            logprobs = torch.cat([s.reshape(-1, first.shape[-1]) for s in steps])
            targets = torch.tensor(continuation, device=self.device)
            total = logprobs.gather(1, targets[:, None]).sum().item()
            answers.append((index, (total, bool((logprobs.argmax(dim=-1) == targets).all()))))
        return answers

    def _continuation_logprobs(self, cache, mask, batch: list[Context], rows: list) -> torch.Tensor:
        """All continuations but their last token, right-padded, as one batch on the contexts'
        cache rows: log-probabilities [row, position, vocab]."""
        device, pad = self.device, self.tokenizer.pad_token_id or 0
        width = max(len(c) - 1 for *_, c in rows)
        owner = torch.tensor([b for b, *_ in rows], device=device)
        cache.batch_select_indices(owner)
        ids = torch.tensor([c[:-1] + [pad] * (width - len(c) + 1) for *_, c in rows], device=device)
        tail_mask = torch.tensor([[1] * (len(c) - 1) + [0] * (width - len(c) + 1) for *_, c in rows], device=device)
        ends = [len(batch[b].tokens) for b, *_ in rows]
        positions = torch.tensor([[end + i for i in range(width)] for end in ends], device=device)
        out = self.model(
            input_ids=ids,
            attention_mask=torch.cat([mask[owner], tail_mask], dim=1),
            position_ids=positions,
            past_key_values=cache,
            use_cache=True,
        )
        return F.log_softmax(out.logits.float(), dim=-1)

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
        stopper = Stopper(self, until, max_new)

        def generate(node: PrefixNode, cache) -> None:
            for batch in self._batches(node, node.contexts, max_new, generation=True):
                for context, tokens in zip(batch, self._decode_batch(node, cache, batch, stopper), strict=True):
                    text = postprocess_generated_text(self.tok_decode(tokens), until, None)
                    for index in context.requests:
                        outputs[index] = text
                        self.cache_hook.add_partial("generate_until", (texts[index], gen_kwargs), text)
                    progress.update(len(context.requests))

        self._walk(tree_of(contexts, self.min_shared), None, generate)
        progress.close()
        return outputs

    def _decode_batch(self, node: PrefixNode, cache, batch: list[Context], stopper: Stopper) -> list[list[int]]:
        """Greedy decoding of a batch on the node's cache; finished rows leave the batch."""
        last_logits, cache, mask = self._run_own_tokens(node, cache, batch)
        generated: list[list[int]] = [[] for _ in batch]
        active = list(range(len(batch)))
        next_positions = torch.tensor([len(c.tokens) for c in batch], device=self.device)
        while True:
            chosen = last_logits.argmax(dim=-1).tolist()
            for row, token in zip(active, chosen, strict=True):
                generated[row].append(token)
            keep = [i for i, row in enumerate(active) if not stopper.done(generated[row])]
            if not keep:
                return generated
            if len(keep) < len(active):
                selector = torch.tensor(keep, device=self.device)
                cache.batch_select_indices(selector)
                mask, next_positions = mask[selector], next_positions[selector]
                active, chosen = [active[i] for i in keep], [chosen[i] for i in keep]
            mask = torch.cat([mask, torch.ones(len(active), 1, dtype=mask.dtype, device=self.device)], dim=1)
            out = self.model(
                input_ids=torch.tensor(chosen, device=self.device)[:, None],
                attention_mask=mask,
                position_ids=next_positions[:, None],
                past_key_values=cache,
                use_cache=True,
                logits_to_keep=1,
            )
            last_logits, cache, next_positions = out.logits[:, -1].float(), out.past_key_values, next_positions + 1


class Stopper:
    """When a row stops: at an EOS token of the model, a stop string in its text, or after
    max_gen_toks tokens (what HFLM's generate does for a batch of one)."""

    def __init__(self, lm: HFLM, until: list[str], max_new: int):
        eos = lm.model.generation_config.eos_token_id
        self.eos = {lm.eot_token_id, *(eos if isinstance(eos, list) else [eos] if eos is not None else [])}
        self.until = [u for u in until if u]
        self.max_new, self.decode = max_new, lm.tokenizer.decode

    def done(self, tokens: list[int]) -> bool:
        if tokens[-1] in self.eos or len(tokens) >= self.max_new:
            return True
        text = self.decode(tokens, skip_special_tokens=False)
        return any(stop in text for stop in self.until)
