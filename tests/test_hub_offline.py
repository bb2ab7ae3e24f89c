"""The hub paths, exercised without the hub: a `source.kind: hub` model read from a real
Hugging Face cache layout with HF_HUB_OFFLINE=1, and, for every benchmark config that
names lm-eval hub tasks, which of its tasks the shipped mirror serves offline."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness import mirror

REPO = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"
HUB_ID = "claim-harness-test/tiny-llama"


def write_hf_cache(cache: Path) -> Path:
    """models--org--name/{refs/main, snapshots/<commit>/...}: the layout huggingface_hub writes."""
    from harness.models import random_llama
    from harness.schema import ModelConfig, ModelSource

    model, tokenizer = random_llama(
        ModelConfig(
            source=ModelSource(
                kind="random_init",
                random_config={
                    "hidden_size": 32,
                    "intermediate_size": 64,
                    "num_hidden_layers": 2,
                    "num_attention_heads": 4,
                    "num_key_value_heads": 2,
                    "max_position_embeddings": 2048,
                },
            )
        )
    )
    repo = cache / ("models--" + HUB_ID.replace("/", "--"))
    snapshot = repo / "snapshots" / COMMIT
    model.save_pretrained(snapshot, safe_serialization=True)
    tokenizer.save_pretrained(snapshot)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(COMMIT)
    return snapshot


@pytest.mark.slow
def test_hub_model_loads_offline_from_an_hf_cache_and_the_record_stores_the_commit(tmp_path):
    write_hf_cache(tmp_path / "hub")
    configs = tmp_path / "configs" / "model"
    configs.mkdir(parents=True)
    (configs / "tiny_hub_llama.yaml").write_text(
        "tiny_hub_llama:\n  display_name: Tiny Llama from an offline HF cache\n  family: llama\n"
        f"  source:\n    kind: hub\n    hub_id: {HUB_ID}\n    revision: main\n  dtype: float32\n  batch_size: 8\n"
    )
    results = tmp_path / "results"
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "harness",
            f"hydra.searchpath=[file://{tmp_path / 'configs'}]",
            "model=[tiny_hub_llama]",
            "benchmark=[arc_easy_0shot]",
            "limit=2",
            f"results_dir={results}",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    [record_path] = [p for p in results.rglob("*.json")]
    record = json.loads(record_path.read_text())
    assert record["model"]["source"]["kind"] == "hub"
    assert record["model"]["resolved_revision"] == COMMIT


# Benchmarks whose every task the shipped mirror serves, and those that need the hub.
OFFLINE = {
    "arc_average_0shot",
    "arc_challenge_0shot",
    "arc_challenge_25shot",
    "arc_challenge_0shot_loglik",
    "arc_easy_0shot",
    "bbh_3shot",
    "bbh_3shot_cot",
    "boolq_0shot",
    "ifeval",
    "mmlu_5shot",
    "mmlu_cloze_0shot",
    "piqa_0shot",
    "truthfulqa_mc2",
    "winogrande_0shot",
    "winogrande_5shot_l",
}
NEEDS_HUB = {
    "gpqa_0shot_cot": "gpqa_main_cot_zeroshot",
    "gsm8k_8shot": "gsm8k",
    "gsm8k_8shot_cot": "gsm8k_cot_llama",
    "hellaswag_0shot": "hellaswag",
    "hellaswag_10shot": "hellaswag",
    "humaneval_0shot": "humaneval_instruct",
    "mmlu_0shot_cot": "mmlu_cot_llama",
    "mmlu_5shot_llama": "mmlu_llama",
    "mmlu_pro_5shot_cot": "mmlu_pro_llama",
    "winogrande_5shot": "winogrande",
}  # its 5 shots come from winogrande_xl's train, not mirrored


def offline_status(bench) -> dict:
    """task -> 'mirror' | 'shipped' (project data) | the hub dataset it needs."""
    from harness import evaluate

    status = {}
    for task in bench.tasks:
        for cfg in evaluate.leaf_configs(task):
            cfg = {**cfg, **bench.task_overrides}
            try:
                route = mirror.plan(cfg, mirror.Mirror(), bench.num_fewshot)
            except mirror.MirrorError:
                route = None
            if route is not None:
                status[cfg["task"]] = "mirror"
            elif mirror.is_hub_dataset(cfg):
                status[cfg["task"]] = f"hub:{cfg['dataset_path']}"
            else:
                status[cfg["task"]] = "shipped"
    return status


def test_every_hub_benchmark_config_is_listed_as_offline_or_needing_the_hub():
    from harness.config import compose_run
    from harness.schema import parse_run_config

    names = sorted(p.stem for p in (REPO / "configs" / "benchmark").glob("*.yaml"))
    cfg = parse_run_config(compose_run(f"benchmark=[{','.join(names)}]", "model=[tiny_random_llama]"))
    report, hub_based = {}, set()
    for name, bench in cfg.benchmark.items():
        status = offline_status(bench)
        if bench.local_data is not None or all(s == "shipped" for s in status.values()):
            continue  # the project's own data: nothing on the hub
        hub_based.add(name)
        needs = sorted({t for t, s in status.items() if s.startswith("hub:")})
        report[name] = needs
        print(f"{name}: {len(status) - len(needs)} tasks from the mirror, needs the hub for {needs or 'none'}")
    assert hub_based == OFFLINE | set(NEEDS_HUB), "a benchmark config was added: list it in OFFLINE or NEEDS_HUB"
    for name in OFFLINE:
        assert report[name] == [], f"{name} should run offline from the shipped mirror but needs {report[name]}"
    for name, task in NEEDS_HUB.items():
        assert report[name], f"{name} unexpectedly runs offline: move it to OFFLINE"
        assert any(t.startswith(task) for t in report[name]), (name, report[name])
