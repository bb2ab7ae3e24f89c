"""Greedy decoding of many rows on one KV cache (continuous batching).

Rows are decoded together: a small model's decode step is mostly weight reads and
per-layer overhead (SmolLM2 in bf16 on one core here: 1 row 36 ms, 32 rows 107 ms, at 300
cached tokens). A fixed batch waits for its longest row: IFEval asks for essays, and one
1,280-token answer held 31 finished rows' places. Here a row leaves as soon as it stops (EOS, a stop string,
max_gen_toks) and a waiting prompt, prefilled on the shared prefix's cache, takes its
place: both caches are left-padded to one length and stacked. Padding columns are masked
out and positions are explicit, so a row sees exactly its own tokens. Decode steps write
into preallocated room (`RoomyLayer`) instead of copying the cache.

Stacking needs plain full-attention cache layers (`DynamicLayer`); a sliding-window layer
keeps a window of slots, which padding would shift, so such models (Gemma 3) decode in
fixed batches. `PrefixSharedHFLM.generate_until` drives this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from transformers.cache_utils import DynamicLayer


class Stopper:
    """When a row stops, as HFLM's generate decides for a batch of one: an EOS token of the
    model, max_gen_toks tokens, or a stop string in the decoded last len(stop tokens) + 2
    tokens (lm-eval's MultiTokenEOSCriteria, whose window this copies so that outputs are
    equal)."""

    def __init__(self, tokenizer, eos_ids: set[int], until: list[str], max_new: int):
        self.eos, self.max_new, self.decode = eos_ids, max_new, tokenizer.decode
        self.windows = [(stop, len(tokenizer.encode(stop, add_special_tokens=False)) + 2) for stop in until if stop]

    def done(self, tokens: list[int]) -> bool:
        if tokens[-1] in self.eos or len(tokens) >= self.max_new:
            return True
        return any(stop in self.decode(tokens[-window:], skip_special_tokens=False) for stop, window in self.windows)


class RoomyLayer(DynamicLayer):
    """A full-attention cache layer whose keys and values are views of larger buffers: a
    decode step writes its token in place, where DynamicLayer's torch.cat copies the whole
    cache (a quarter of a 32-row step at 1,500 cached tokens, measured here). The buffers
    grow by half when full. Only for a cache nobody else holds: `fork` relies on layers
    that never write in place."""

    room = 256  # free token slots in a new buffer

    def __init__(self, keys: torch.Tensor, values: torch.Tensor):
        super().__init__()
        self.replace(keys, values)

    def replace(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        """New contents: [rows, heads, tokens, dim] each, copied into buffers with room."""
        self.size = keys.shape[2]
        room = max(self.room, self.size // 2)
        self.key_buffer, self.value_buffer = F.pad(keys, (0, 0, 0, room)), F.pad(values, (0, 0, 0, room))
        self.dtype, self.device, self.is_initialized = keys.dtype, keys.device, True
        self._view()

    def _view(self) -> None:
        self.keys, self.values = self.key_buffer[:, :, : self.size], self.value_buffer[:, :, : self.size]

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args, **kwargs):
        end = self.size + key_states.shape[2]
        if end > self.key_buffer.shape[2]:
            self.replace(self.keys, self.values)
        self.key_buffer[:, :, self.size : end] = key_states
        self.value_buffer[:, :, self.size : end] = value_states
        self.size = end
        self._view()
        return self.keys, self.values

    def batch_select_indices(self, indices: torch.Tensor) -> None:
        self.key_buffer, self.value_buffer = self.key_buffer[indices], self.value_buffer[indices]
        self._view()


def stackable(cache) -> bool:
    """Whether rows of two caches can be stacked after left-padding (full attention only)."""
    return cache is not None and all(type(layer) in (DynamicLayer, RoomyLayer) for layer in cache.layers)


@dataclass
class Rows:
    """Rows decoded together: what each has generated, the logits of its next token, and the
    shared KV cache with its attention mask (0 at padding) and each row's next position."""

    contexts: list
    generated: list[list[int]]
    logits: torch.Tensor  # [rows, vocab], float32
    cache: object
    mask: torch.Tensor  # [rows, cached tokens]
    positions: torch.Tensor  # [rows]

    @classmethod
    def started(cls, contexts: list, logits: torch.Tensor, cache, mask: torch.Tensor) -> Rows:
        positions = torch.tensor([len(c.tokens) for c in contexts], device=logits.device)
        if stackable(cache):
            cache.layers = [RoomyLayer(layer.keys, layer.values) for layer in cache.layers]
        return cls(list(contexts), [[] for _ in contexts], logits, cache, mask, positions)

    def __len__(self) -> int:
        return len(self.contexts)

    @property
    def length(self) -> int:
        return self.mask.shape[1]

    def choose(self, stopper: Stopper) -> list[tuple[object, list[int]]]:
        """Append each row's greedy token; remove the rows that stop and return them."""
        for tokens, token in zip(self.generated, self.logits.argmax(dim=-1).tolist(), strict=True):
            tokens.append(token)
        stops = [stopper.done(tokens) for tokens in self.generated]
        finished = [(c, tokens) for c, tokens, stop in zip(self.contexts, self.generated, stops, strict=True) if stop]
        self.keep([i for i, stop in enumerate(stops) if not stop])
        return finished

    def keep(self, indices: list[int]) -> None:
        if len(indices) == len(self):
            return
        self.contexts = [self.contexts[i] for i in indices]
        self.generated = [self.generated[i] for i in indices]
        if not indices:
            return
        selector = torch.tensor(indices, device=self.mask.device)
        self.cache.batch_select_indices(selector)
        self.logits, self.mask, self.positions = self.logits[selector], self.mask[selector], self.positions[selector]
        self._drop_padding_columns()

    def _drop_padding_columns(self) -> None:
        """Columns no remaining row attends to (left by rows that left) are dropped once
        they are an eighth of the cache: attention over them is wasted work. (A sliding
        window's slots are not columns: such caches keep theirs.)"""
        if not stackable(self.cache):
            return
        used = self.mask.bool().any(dim=0)
        if int((~used).sum()) * 8 < self.length:
            return
        for layer in self.cache.layers:
            layer.replace(layer.keys[:, :, used], layer.values[:, :, used])
        self.mask = self.mask[:, used]

    def stack(self, other: Rows) -> None:
        """Take the other rows in: both caches left-padded to the longer, rows concatenated."""
        width = max(self.length, other.length)
        for mine, theirs in zip(self.cache.layers, other.cache.layers, strict=True):
            mine.replace(
                torch.cat([_left_pad(mine.keys, width), _left_pad(theirs.keys, width)]),
                torch.cat([_left_pad(mine.values, width), _left_pad(theirs.values, width)]),
            )
        self.mask = torch.cat(
            [F.pad(self.mask, (width - self.length, 0)), F.pad(other.mask, (width - other.length, 0))]
        )
        self.contexts += other.contexts
        self.generated += other.generated
        self.logits = torch.cat([self.logits, other.logits])
        self.positions = torch.cat([self.positions, other.positions])

    @torch.no_grad()
    def advance(self, model) -> None:
        """One decode step: each row's last chosen token through the model."""
        chosen = torch.tensor([tokens[-1] for tokens in self.generated], device=self.mask.device)
        self.mask = torch.cat([self.mask, torch.ones(len(self), 1, dtype=self.mask.dtype, device=self.mask.device)], 1)
        out = model(
            input_ids=chosen[:, None],
            attention_mask=self.mask,
            position_ids=self.positions[:, None],
            past_key_values=self.cache,
            use_cache=True,
            logits_to_keep=1,
        )
        self.logits, self.cache, self.positions = out.logits[:, -1].float(), out.past_key_values, self.positions + 1


def _left_pad(states: torch.Tensor, width: int) -> torch.Tensor:
    """[rows, heads, tokens, dim] padded with zeros before the tokens up to `width`."""
    return F.pad(states, (0, 0, width - states.shape[2], 0))
