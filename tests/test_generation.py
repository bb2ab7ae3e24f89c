"""Greedy generation on shared few-shot prefixes gives HFLM's outputs exactly (fp32, the
packaged models, BBH- and GSM8K-style prompts); sampled requests go to HFLM itself."""

import pytest
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from harness.decoding import RoomyLayer, Rows
from harness.tasks.bigbench_bbh.utils import read_split
from tests.test_scorer import load, shots

GSM8K_SHOTS = (
    "Question: Tom has 3 apples and buys 5 more. How many apples does he have?\n"
    "Answer: Tom starts with 3 apples. 3 + 5 = 8. The answer is 8.\n\n"
    "Question: A box holds 12 eggs. How many eggs are in 4 boxes?\n"
    "Answer: Each box holds 12 eggs, so 4 boxes hold 12 * 4 = 48. The answer is 48.\n\n"
    "Question: Mia had 20 dollars and spent 7. How much money does she have left?\n"
    "Answer: 20 - 7 = 13. The answer is 13.\n\n"
)
GSM8K_QUESTIONS = [
    "Sara reads 7 pages a day for 6 days. How many pages does she read?",
    "A shop sells pens at 2 dollars each. How much do 9 pens cost?",
    "There are 30 students in 5 equal groups. How many students are in each group?",
    "Ben had 50 marbles and lost 17. How many marbles are left?",
]
GSM8K_KWARGS = {
    "until": ["Question:", "</s>", "<|im_end|>"],
    "do_sample": False,
    "temperature": 0.0,
    "max_gen_toks": 64,
}
BBH_KWARGS = {"until": ["Q:", "\n\n"], "do_sample": False, "max_gen_toks": 32}


def generation_requests() -> list[Instance]:
    out = [
        Instance("generate_until", {}, (GSM8K_SHOTS + f"Question: {q}\nAnswer:", GSM8K_KWARGS), i)
        for i, q in enumerate(GSM8K_QUESTIONS)
    ]
    for task in ("bbh_bb_date_understanding", "bbh_bb_snarks"):
        out += [
            Instance("generate_until", row, (shots(task) + row["text"], BBH_KWARGS), 0)
            for row in read_split(task, "test")[:3]
        ]
    out.append(out[0])  # a repeated request
    return out


@pytest.mark.slow
@pytest.mark.parametrize("model", ["smollm2_135m_instruct", "gemma3_270m"])
def test_greedy_generation_equals_hflm(model):
    """HFLM at its default batch size (1): each row generates exactly max_gen_toks at most
    (in bigger HFLM batches a short row may run past it, up to the batch's padding)."""
    lm = load(model)
    batch = generation_requests()
    expected = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, batch_size=1, device="cpu").generate_until(
        batch, disable_tqdm=True
    )
    got = lm.generate_until(batch, disable_tqdm=True)
    assert got == expected
    assert any(text.strip() for text in got)


@pytest.mark.slow
def test_waiting_rows_join_a_running_decode_with_hflm_outputs(monkeypatch):
    """Two rows at a time: each finished row's place goes to a waiting prompt of another
    length, stacked into the running cache with padding; the cache's buffers start with
    room for 8 tokens, so they grow while decoding. The outputs stay HFLM's."""
    lm = load("smollm2_135m_instruct")
    lm.decode_rows, lm.refill_rows = 2, 1
    monkeypatch.setattr(RoomyLayer, "room", 8)
    joined = []
    stack = Rows.stack
    monkeypatch.setattr(Rows, "stack", lambda rows, other: (joined.append(len(other)), stack(rows, other))[1])
    batch = generation_requests()
    expected = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, batch_size=1, device="cpu").generate_until(
        batch, disable_tqdm=True
    )
    assert lm.generate_until(batch, disable_tqdm=True) == expected
    assert len(joined) >= 3


@pytest.mark.slow
def test_stop_strings_cut_and_sampled_requests_go_to_hflm():
    lm = load("tiny_random_llama")
    stop_request = Instance("generate_until", {}, ("abc", {"until": ["a"], "do_sample": False, "max_gen_toks": 40}), 0)
    sampled = Instance("generate_until", {}, ("abc", {"do_sample": True, "temperature": 1.0, "max_gen_toks": 5}), 1)
    plain = HFLM(pretrained=lm.model, tokenizer=lm.tokenizer, batch_size=1, device="cpu")
    greedy_text = lm.generate_until([stop_request], disable_tqdm=True)[0]
    assert greedy_text == plain.generate_until([stop_request], disable_tqdm=True)[0]
    assert "a" not in greedy_text
    assert isinstance(lm.generate_until([sampled], disable_tqdm=True)[0], str)
