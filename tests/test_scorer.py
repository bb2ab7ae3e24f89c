"""The prefix-shared scorer returns HFLM's loglikelihoods on real packaged models."""
import pytest
from lm_eval.api.instance import Instance
from lm_eval.models.huggingface import HFLM

from harness.models import load_model
from harness.scorer import PrefixSharedHFLM
from harness.schema import parse_run_config
from harness.tasks.bigbench_bbh.utils import read_split

from conftest import compose_run

TASKS = ["bbh_bb_date_understanding", "bbh_bb_tracking_shuffled_objects_three_objects",
         "bbh_bb_snarks", "bbh_bb_causal_judgment"]


def requests(per_task: int) -> list[Instance]:
    out = []
    for task in TASKS:
        for row in read_split(task, "test")[:per_task]:
            out += [Instance(request_type="loglikelihood", doc=row, arguments=(row["text"], choice), idx=i)
                    for i, choice in enumerate(row["choices"])]
    out.append(Instance(request_type="loglikelihood", doc={}, arguments=("", "An empty context"), idx=0))
    return out


@pytest.mark.parametrize("model", ["smollm2_135m_instruct", "gemma3_270m"])
def test_prefix_shared_matches_hflm_within_1e4(model):
    cfg = parse_run_config(compose_run(f"model=[{model}]"))
    shared = load_model(model, cfg.model[model], cfg.hardware).lm
    assert isinstance(shared, PrefixSharedHFLM)
    plain = HFLM(pretrained=shared.model, tokenizer=shared.tokenizer, batch_size=8, device="cpu")
    batch = requests(per_task=2)
    expected = plain.loglikelihood(batch, disable_tqdm=True)
    got = shared.loglikelihood(batch, disable_tqdm=True)
    assert len(got) == len(expected) == len(batch)
    for (want, want_greedy), (have, have_greedy) in zip(expected, got):
        assert have == pytest.approx(want, abs=1e-4)
        assert have_greedy == want_greedy
