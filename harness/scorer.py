"""A loglikelihood scorer that runs each multiple-choice context once.

lm-eval's HFLM scores every (context, choice) pair as its own sequence, so a 5-choice
item pays for its context 5 times, and computes vocabulary logits at every context
position. `PrefixSharedHFLM` keeps HFLM's tokenization (same `_encode_pair`, same BOS
handling) but, per distinct context:
  1. runs the context once (contexts left-padded into batches), keeping the KV cache and
     only the last position's logits;
  2. runs the continuations of all those contexts as one batch on top of that cache.
Requests that HFLM would truncate (context + continuation longer than max_length) go
through HFLM unchanged. Per-item loglikelihoods match HFLM within float tolerance
(tests/test_scorer.py checks 1e-4 on the packaged models).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM
from tqdm import tqdm


@register_model("hf-prefix-shared")
class PrefixSharedHFLM(HFLM):
    contexts_per_batch = 4     # measured best on 2 CPU cores (larger batches pad more)

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs=None):
        results: list = [None] * len(requests)
        groups: dict = {}
        fallback = []
        for index, (_, context_enc, continuation_enc) in enumerate(requests):
            if len(context_enc) + len(continuation_enc) > self.max_length + 1 or not continuation_enc:
                fallback.append(index)
            else:
                groups.setdefault(tuple(context_enc), []).append(index)
        if fallback:
            for index, answer in zip(fallback, super()._loglikelihood_tokens(
                    [requests[i] for i in fallback], disable_tqdm=True, override_bs=override_bs)):
                results[index] = answer
        # Longest contexts first, like HFLM: similar lengths share a batch, OOMs show early.
        ordered = sorted(groups.items(), key=lambda item: -len(item[0]))
        progress = tqdm(total=len(requests) - len(fallback), disable=disable_tqdm or self.rank != 0,
                        desc="Running loglikelihood requests (shared prefix)")
        for start in range(0, len(ordered), self.contexts_per_batch):
            batch = ordered[start:start + self.contexts_per_batch]
            answers = self._score_batch([list(c) for c, _ in batch],
                                        [[requests[i][2] for i in indices] for _, indices in batch])
            for (_, indices), group_answers in zip(batch, answers):
                for index, answer in zip(indices, group_answers):
                    results[index] = answer
                    self.cache_hook.add_partial("loglikelihood", requests[index][0], answer)
                progress.update(len(indices))
        progress.close()
        return results

    @torch.no_grad()
    def _score_batch(self, contexts: list[list[int]], continuations: list[list[list[int]]]):
        """Score every group's continuations; each context runs once (left-padded batch)."""
        device, pad = self.device, self.tokenizer.pad_token_id or 0
        width = max(len(c) for c in contexts)
        prefix_ids = torch.tensor([[pad] * (width - len(c)) + c for c in contexts], device=device)
        prefix_mask = torch.tensor([[0] * (width - len(c)) + [1] * len(c) for c in contexts], device=device)
        positions = (prefix_mask.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=prefix_ids, attention_mask=prefix_mask, position_ids=positions,
                         use_cache=True, logits_to_keep=1)
        first = F.log_softmax(out.logits[:, -1].float(), dim=-1)
        # One row per continuation: its group's cache row, then its tokens but the last.
        rows = [(g, cont) for g, conts in enumerate(continuations) for cont in conts]
        longest = max(len(cont) - 1 for _, cont in rows)
        tails = None
        if longest:
            cache = out.past_key_values
            cache.batch_select_indices(torch.tensor([g for g, _ in rows], device=device))
            tail_ids = torch.tensor([c[:-1] + [pad] * (longest - len(c) + 1) for _, c in rows], device=device)
            tail_mask = torch.tensor([[1] * (len(c) - 1) + [0] * (longest - len(c) + 1) for _, c in rows],
                                     device=device)
            mask = torch.cat([prefix_mask[[g for g, _ in rows]], tail_mask], dim=1)
            tail_positions = torch.tensor([[len(contexts[g]) + i for i in range(longest)] for g, _ in rows],
                                          device=device)
            tail_out = self.model(input_ids=tail_ids, attention_mask=mask, position_ids=tail_positions,
                                  past_key_values=cache, use_cache=True)
            tails = F.log_softmax(tail_out.logits.float(), dim=-1)
        answers = [[] for _ in contexts]
        for row, (group, continuation) in enumerate(rows):
            steps = [first[group]] + [tails[row, i] for i in range(len(continuation) - 1)]
            logprobs = torch.stack(steps)
            targets = torch.tensor(continuation, device=device)
            total = logprobs.gather(1, targets[:, None]).sum().item()
            answers[group].append((total, bool((logprobs.argmax(dim=-1) == targets).all())))
        return answers
