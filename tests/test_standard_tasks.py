"""lm-eval's own tasks (arc_easy, MMLU subjects inside their group, a BBH 3-shot subtask)
run end to end from the shipped mirror: the prompts the model saw are the ones the tasks'
YAML builds, and the records name the mirror files' sha256 and upstream source."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import pytest

from harness import mirror
from harness.records import load_items, load_record
from tests.helpers import run_cli

LM_EVAL_TASKS = Path(__import__("lm_eval").__file__).parent / "tasks"


def rows(hub_id: str, config: str, split: str) -> list[dict]:
    path = mirror.SHIPPED / mirror.file_relpath(hub_id, config, split)
    return [json.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines()]


def render(template: str, doc: dict) -> str:
    from lm_eval.utils import apply_template

    return apply_template(template, doc)


def yaml_of(relative: str) -> dict:
    """A task's YAML as lm-eval ships it (includes resolved), read without the harness."""
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(LM_EVAL_TASKS / relative, resolve_func=False, recursive=True)


def expected_prompts(task: str, docs: list[dict]) -> list[str]:
    """The context lm-eval builds for each doc, from the task's own YAML text."""
    if task == "arc_easy":
        cfg = yaml_of("arc/arc_easy.yaml")
        return [render(cfg["doc_to_text"], d) for d in docs]
    if task == "mmlu_college_physics":
        cfg = yaml_of("mmlu/default/mmlu_college_physics.yaml")
        return [cfg["description"] + render(cfg["doc_to_text"], d) for d in docs]
    cfg = yaml_of("bbh/fewshot/navigate.yaml")  # 3 exemplars inline in the YAML, first_n
    shots = "".join(
        render(cfg["doc_to_text"], s) + " " + render(cfg["doc_to_target"], s) + "\n\n"
        for s in cfg["fewshot_config"]["samples"][:3]
    )
    return [cfg["description"] + shots + render(cfg["doc_to_text"], d) for d in docs]


@pytest.fixture(scope="module")
def mirror_run(tmp_path_factory):
    """arc_easy 0-shot, the MMLU STEM group (college_physics among its 19 subjects), and
    bbh_fewshot_navigate 3-shot, limit 3, on the tiny random Llama, through the CLI."""
    root = tmp_path_factory.mktemp("standard")
    configs = root / "configs" / "benchmark"
    configs.mkdir(parents=True)
    for name, tasks, shots in (
        ("t_arc", "[arc_easy]", 0),
        ("t_mmlu", "[mmlu_stem]", 0),
        ("t_bbh", "[bbh_fewshot_navigate]", 3),
    ):
        (configs / f"{name}.yaml").write_text(
            f"{name}:\n  tasks: {tasks}\n  num_fewshot: {shots}\n"
            f"  apply_chat_template: false\n  primary_metric: "
            f"{'exact_match' if name == 't_bbh' else 'acc'}\n"
        )
    done = run_cli(
        f"hydra.searchpath=[file://{root / 'configs'}]",
        "model=[tiny_random_llama]",
        "benchmark=[t_arc,t_mmlu,t_bbh]",
        "limit=3",
        "+benchmark.t_bbh.gen_kwargs={max_gen_toks:4}",
        f"results_dir={root / 'results'}",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return {
        p.parent.name: p for p in (root / "results").glob("records/*/*/*.json") if not p.name.endswith(".items.json")
    }


@pytest.mark.slow
@pytest.mark.parametrize(
    "bench,task,hub_id,config,split",
    [
        ("t_arc", "arc_easy", "allenai/ai2_arc", "ARC-Easy", "test"),
        ("t_mmlu", "mmlu_college_physics", "cais/mmlu", "college_physics", "test"),
        ("t_bbh", "bbh_fewshot_navigate", "SaylorTwift/bbh", "navigate", "test"),
    ],
)
def test_prompts_are_lm_evals_own_and_the_record_names_the_mirror_files(mirror_run, bench, task, hub_id, config, split):
    record = load_record(mirror_run[bench])
    items = [i for i in load_items(mirror_run[bench]) if i.task == task]
    assert [i.doc_id for i in items] == [0, 1, 2]
    prompts = expected_prompts(task, rows(hub_id, config, split)[:3])
    assert [i.prompt_hash for i in items] == [hashlib.sha256(p.encode()).hexdigest() for p in prompts]
    dataset = record.datasets[task]
    entry = mirror.Mirror().lookup(hub_id, config)
    relpath = mirror.file_relpath(hub_id, config, split)
    assert dataset.files[relpath] == entry.splits[split].sha256
    assert dataset.source["upstream"] == entry.upstream and dataset.source["hub_id"] == hub_id


@pytest.mark.slow
def test_a_group_runs_every_member_from_the_mirror(mirror_run):
    record = load_record(mirror_run["t_mmlu"])
    members = [t for t in record.datasets if t.startswith("mmlu_")]
    assert len(members) == 19  # lm-eval's mmlu_stem group
    assert all(record.datasets[t].source["hub_id"] == "cais/mmlu" for t in members)
    # lm-eval pools mmlu_stem's subjects by size: the primary value is the mean over all items
    scores = [item.score for item in load_items(mirror_run["t_mmlu"])]
    assert record.scores.primary.aggregation == "item-weighted mean over subtasks"
    assert record.scores.primary.value == pytest.approx(sum(scores) / len(scores))


def test_a_task_with_no_data_offline_fails_in_one_line_before_any_model_loads(tmp_path):
    done = run_cli(
        "model=[smollm2_135m_instruct]", "benchmark=[hellaswag_0shot]", f"results_dir={tmp_path}", timeout=300
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: benchmark 'hellaswag_0shot': task 'hellaswag' reads hub dataset Rowan/hellaswag"), (
        last
    )
    assert "python -m harness.prefetch" in last and "loading smollm2" not in done.stderr


def test_a_changed_mirror_file_fails_the_run_with_its_path(tmp_path):
    import shutil

    root = tmp_path / "mirror"
    shutil.copytree(mirror.SHIPPED, root)
    changed = root / mirror.file_relpath("baber/piqa", "default", "validation")
    changed.write_bytes(mirror.gzip_bytes(b'{"goal": "g", "sol1": "a", "sol2": "b", "label": 0}\n'))
    done = run_cli(
        "model=[tiny_random_llama]",
        "benchmark=[piqa_0shot]",
        f"mirror_dir={root}",
        f"results_dir={tmp_path / 'results'}",
        timeout=300,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: {changed}: sha256 ") and "differs from the manifest" in last, last


def test_compiled_prompt_templates_render_the_same_requests_and_compile_each_template_once():
    """lm-eval compiles a prompt template per document and shot; inside
    `compiled_prompt_templates` each template compiles once and the prompts stay the same
    (MMLU 5-shot's first_n shots, ARC-Challenge's 25 random shots per item)."""
    from lm_eval.utils import env

    from harness.evaluate import built_tasks, compiled_prompt_templates

    def prompts() -> list:
        tasks = {**built_tasks(["mmlu"], 5, limit=3, leaves=2), **built_tasks(["arc_challenge"], 25, limit=3)}
        return [instance.args for task in tasks.values() for instance in task.instances]

    plain = prompts()
    with compiled_prompt_templates():
        assert env.from_string("{{ question }}") is env.from_string("{{ question }}")
        with compiled_prompt_templates():
            cached = prompts()
        assert env.from_string("{{ answer }}") is env.from_string("{{ answer }}")  # the outer cache is back
    assert len(plain) == 2 * 3 * 4 + 3 * 4 and cached == plain
    assert "from_string" not in vars(env)  # lm-eval's own method again
    assert env.from_string("{{ question }}") is not env.from_string("{{ question }}")
