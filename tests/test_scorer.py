"""The prefix-shared scorer returns HFLM's loglikelihoods (fp32, within 1e-4), with
few-shot prefixes shared across requests computed once."""

import pytest
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from harness.config import compose_run
from harness.models import load_model
from harness.schema import parse_run_config
from harness.scorer import Context, PrefixSharedHFLM, cheapest_split, pair_strings, tree_of
from harness.tasks.bigbench_bbh.utils import read_split

TASKS = [
    "bbh_bb_date_understanding",
    "bbh_bb_tracking_shuffled_objects_three_objects",
    "bbh_bb_snarks",
    "bbh_bb_causal_judgment",
]


def shots(task: str) -> str:
    """A fixed few-shot prefix, the same for every item of the task (as MMLU's first_n dev
    shots): the task's held-out train items with their answers."""
    return "".join(f"{row['text']}{row['choices'][row['label']]}\n\n" for row in read_split(task, "train"))


def requests(per_task: int, few_shot: bool) -> list[Instance]:
    out = []
    for task in TASKS:
        prefix = shots(task) if few_shot else ""
        for row in read_split(task, "test")[:per_task]:
            out += [
                Instance(request_type="loglikelihood", doc=row, arguments=(prefix + row["text"], choice), idx=i)
                for i, choice in enumerate(row["choices"])
            ]
    out.append(Instance(request_type="loglikelihood", doc={}, arguments=("", "An empty context"), idx=0))
    out.append(out[0])  # the same request twice
    return out


def load(model: str, *overrides: str) -> PrefixSharedHFLM:
    cfg = parse_run_config(compose_run(f"model=[{model}]", f"model.{model}.dtype=float32", *overrides))
    lm = load_model(model, cfg.model[model], cfg.hardware).lm
    assert isinstance(lm, PrefixSharedHFLM) and str(lm.model.dtype) == "torch.float32"
    return lm


def assert_matches_hflm(lm: PrefixSharedHFLM, batch: list[Instance]) -> None:
    plain = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, batch_size=8, device="cpu")
    expected = plain.loglikelihood(batch, disable_tqdm=True)
    got = lm.loglikelihood(batch, disable_tqdm=True)
    assert len(got) == len(expected) == len(batch)
    for (want, want_greedy), (have, have_greedy) in zip(expected, got, strict=True):
        assert have == pytest.approx(want, abs=1e-4)
        assert have_greedy == want_greedy


def encoded_contexts(lm, batch: list[Instance]) -> dict:
    contexts = {}
    for request in batch:
        context, continuation = request.args
        if context:
            tokens, _ = lm._encode_pair(context, continuation)
            contexts.setdefault(tuple(tokens), Context(tokens))
    return contexts


# ---------------------------------------------------------------- the tree, no model


def test_tree_computes_each_shared_prefix_once_and_leaves_every_context_a_token():
    shared_a, shared_b = list(range(100, 140)), list(range(200, 230))
    contexts = {
        tuple(t): Context(t)
        for t in (
            shared_a + [1, 2],
            shared_a + [3],
            shared_a + [4, 5, 6],  # 40 shared tokens: a node
            shared_b + [7],
            shared_b + [8],  # 30 shared tokens: a node
            [9, 10, 11],
            [9, 10, 12],  # 2 shared tokens: not worth a node
            shared_a,  # a context that is all prefix
        )
    }
    root = tree_of(contexts, min_shared=16)
    assert (root.start, root.end) == (0, 0)
    spans = sorted((child.start, child.end, len(child.contexts)) for child in root.children)
    assert spans == [(0, 30, 2), (0, 39, 4)]  # shared_a's node stops one token short of the shortest context
    assert sorted(len(c.tokens) for c in root.contexts) == [3, 3]
    for child in root.children:
        assert all(len(c.tokens) > child.end and c.tokens[: child.end] == child.tokens for c in child.contexts)


def test_short_shared_prefix_is_folded_but_its_long_subtrees_kept():
    """MMLU: every subject starts 'The following are ... about', then each subject's shots."""
    common = [1, 2, 3]
    subject_a, subject_b = common + list(range(10, 60)), common + list(range(70, 120))
    contexts = {tuple(t): Context(t) for t in (subject_a + [5], subject_a + [6], subject_b + [5], subject_b + [6])}
    root = tree_of(contexts, min_shared=16)
    assert root.end == 0  # the 3 common tokens run in each subject's node, not in a pass of their own
    assert sorted((c.start, c.end) for c in root.children) == [(0, 53), (0, 53)]


def test_batches_are_cut_where_padding_costs_more_than_a_pass():
    """0-shot choices: many short ones and a few long ones; one batch would pad every short
    one to the longest."""
    widths = [2] * 20 + [40, 41]
    assert cheapest_split(widths, overhead=10, fits=lambda i, j: True) == [(0, 20), (20, 22)]
    assert cheapest_split(widths, overhead=1000, fits=lambda i, j: True) == [(0, 22)]  # a pass costs more
    assert cheapest_split([3, 3, 3, 3, 3], overhead=1, fits=lambda i, j: j - i <= 2) == [(0, 2), (2, 4), (4, 5)]
    assert cheapest_split([5], overhead=0, fits=lambda i, j: False) == [(0, 1)]  # a batch of one always runs


# ---------------------------------------------------------------- against HFLM


@pytest.mark.slow
def test_logits_only_at_the_continuation_tokens():
    """The vocabulary head runs at the last position of each shared prefix and of each
    context (which gives every choice's first token), then once per further continuation
    token: never on padding, though 0-shot choices differ in length."""
    lm = load("tiny_random_llama")
    encoded = [
        (request.args, *lm._encode_pair(*request.args))
        for request in requests(per_task=2, few_shot=False)
        if request.args[0]
    ]
    contexts = {tuple(context): Context(list(context)) for _, context, _ in encoded}
    lengths = sorted({len(continuation) for *_, continuation in encoded})
    assert lengths[-1] > 4 * lengths[0]  # padding to the longest would cost a lot
    nodes, shared = [tree_of(contexts, lm.min_shared)], 0
    while nodes:
        node = nodes.pop()
        shared += node.end > node.start
        nodes += node.children
    assert lm._head_takes_mask  # probed once, before counting
    head_rows = []
    hook = lm.model.lm_head.register_forward_hook(lambda module, args, out: head_rows.append(out.shape[:-1].numel()))
    try:
        lm._loglikelihood_tokens(encoded, disable_tqdm=True)
    finally:
        hook.remove()
    continuation_tokens = sum(len(continuation) - 1 for *_, continuation in encoded)
    assert sum(head_rows) == shared + len(contexts) + continuation_tokens


@pytest.mark.slow
def test_tiny_model_matches_hflm_with_any_memory_bound():
    """A bound so small that every batch holds one context still gives HFLM's numbers."""
    batch = requests(per_task=1, few_shot=True)
    for memory_mb in (0, 2048):
        assert_matches_hflm(load("tiny_random_llama", f"hardware.scorer_memory_mb={memory_mb}"), batch)


@pytest.mark.slow
def test_a_head_that_slices_its_own_way_gets_every_position_and_the_same_numbers():
    lm = load("tiny_random_llama")
    assert lm._head_takes_mask
    lm._head_takes_mask = False  # as the probe finds for heads that don't read a boolean logits_to_keep
    assert_matches_hflm(lm, requests(per_task=1, few_shot=False))


@pytest.mark.slow
@pytest.mark.parametrize("model", ["smollm2_135m_instruct", "gemma3_270m"])
def test_prefix_shared_matches_hflm_within_1e4(model):
    assert_matches_hflm(load(model), requests(per_task=2, few_shot=False))


@pytest.mark.slow
@pytest.mark.parametrize("model", ["smollm2_135m_instruct", "gemma3_270m"])
def test_shared_few_shot_prefixes_match_hflm_within_1e4(model):
    """Few-shot contexts: one tree node per task's shots, scored once for all its items.
    Gemma 3's contexts here pass its 512-token sliding window."""
    lm = load(model)
    batch = requests(per_task=3, few_shot=True)
    root = tree_of(encoded_contexts(lm, batch), lm.min_shared)
    assert len(root.children) == len(TASKS)
    assert all(child.end > 150 and len(child.contexts) == 3 for child in root.children)
    if lm.sliding_window:
        assert max(len(c.tokens) for c in encoded_contexts(lm, batch).values()) > lm.sliding_window
    assert_matches_hflm(lm, batch)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["smollm2_135m_instruct", "gemma3_270m"])
def test_pretokenized_ids_are_the_ones_hflm_encodes(model):
    """Each distinct string encoded once, in batches, with HFLM's special tokens: the same
    ids as HFLM's one-at-a-time `tok_encode`, for contexts with trailing spaces, contexts
    that already start with the BOS text, an empty context and a repeated request."""
    lm = load(model)
    plain = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, device="cpu")
    bos = lm.tokenizer.decode(lm.prefix_token_id)
    batch = requests(per_task=2, few_shot=True) + [
        Instance(request_type="loglikelihood", doc={}, arguments=(context, " yes"), idx=0)
        for context in ("Is the sky blue? Answer: ", f"{bos}Question: is the sky blue?\nAnswer:")
    ]
    with lm.pretokenized(batch):
        encoded = {string: ids.tolist() for string, ids in lm._encoded.items()}
        got = [lm._encode_pair(*request.args) for request in batch if request.args[0]]
    wanted_strings = {string for request in batch for string in pair_strings(*request.args)}
    assert set(encoded) == wanted_strings and f"{bos}Question: is the sky blue?\nAnswer:" in encoded
    assert all(ids == plain.tok_encode(string) for string, ids in encoded.items())
    assert got == [plain._encode_pair(*request.args) for request in batch if request.args[0]]
    assert lm._encoded == {}  # released after the block
    texts = [string + " no" for string in sorted(wanted_strings)] + [f"{bos}Question:"] * 2
    assert lm.token_lengths(texts) == [len(plain.tok_encode(text)) for text in texts]  # the record's count
