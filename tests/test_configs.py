"""Every config file composes through Hydra and validates against the dataclasses."""

import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException

from harness import CONFIG_DIR
from harness.config import compose_run
from harness.evaluate import BenchmarkError, check_tasks_exist
from harness.schema import ConfigError, parse_run_config


def names(group: str) -> list[str]:
    return sorted(path.stem for path in (CONFIG_DIR / group).glob("*.yaml"))


def test_default_run_is_both_packaged_models_on_standard_tasks_offline():
    cfg = parse_run_config(compose_run())
    assert list(cfg.model) == ["smollm2_135m_instruct", "gemma3_270m"]
    assert list(cfg.benchmark) == [
        "arc_easy_0shot",
        "arc_challenge_0shot_loglik",
        "piqa_0shot",
        "winogrande_0shot",
        "boolq_0shot",
    ]
    assert cfg.hardware.device == "cpu" and cfg.limit == 50


@pytest.mark.parametrize("model", names("model"))
def test_every_model_config_validates(model):
    cfg = parse_run_config(compose_run(f"model=[{model}]"))
    assert cfg.model[model].display_name
    assert cfg.model[model].trust_remote_code is (model == "qwen_7b")  # the one repo with custom code


@pytest.mark.parametrize("benchmark", names("benchmark"))
def test_every_benchmark_config_validates_and_names_real_lm_eval_tasks(benchmark):
    cfg = parse_run_config(compose_run(f"benchmark=[{benchmark}]"))
    check_tasks_exist(benchmark, cfg.benchmark[benchmark].tasks)


@pytest.mark.parametrize("suite", names("suite"))
def test_every_suite_composes(suite):
    cfg = parse_run_config(compose_run(f"suite={suite}"))
    assert cfg.benchmark


@pytest.mark.parametrize("hardware", names("hardware"))
def test_every_hardware_composes(hardware):
    cfg = parse_run_config(compose_run(f"hardware={hardware}"))
    assert cfg.hardware.name == hardware


def test_llama31_flagship_suite_uses_lm_eval_llama3_tasks():
    cfg = parse_run_config(compose_run("suite=llama31_flagship"))
    tasks = {t for b in cfg.benchmark.values() for t in b.tasks}
    assert {"mmlu_cot_llama", "gsm8k_cot_llama", "arc_challenge_llama"} <= tasks
    assert cfg.benchmark["gsm8k_8shot_cot"].num_fewshot == 8


def test_unknown_model_is_refused_by_hydra():
    with pytest.raises(MissingConfigException, match="model/llama9_1t"):
        compose_run("model=[llama9_1t]")


@pytest.mark.parametrize(
    "override,message",
    [
        ("model=[smollm2_135m_instruct,llama9_1t]", "unknown model 'llama9_1t' (valid: deepseek_llm_67b_base,"),
        ("-m model=gemma3_270m,llama9_1t", None),
        ("suite=nightly", "unknown suite 'nightly' (valid: card_repro, cpu_smoke, llama31_flagship, open_llm_base)"),
        ("benchmark=[mmlu]", "unknown benchmark 'mmlu' (valid: arc_average_0shot,"),
    ],
)
def test_unknown_choices_list_the_valid_names(override, message):
    from harness.__main__ import unknown_choice

    problem = unknown_choice(override.split()[-1:])
    if message is None:
        assert problem.startswith("unknown model 'llama9_1t'")
    else:
        assert problem.startswith(message)


def test_top_level_override_typo_names_the_key():
    with pytest.raises(ConfigCompositionException, match="modle"):
        compose_run("modle=[gemma3_270m]")


def test_typo_inside_a_model_names_the_key_and_the_allowed_ones():
    cfg = compose_run("model=[tiny_random_llama]", "+model.tiny_random_llama.dtyp=float32")
    with pytest.raises(ConfigError, match=r"model.tiny_random_llama: unknown key 'dtyp' \(allowed: .*dtype"):
        parse_run_config(cfg)


def test_wrong_type_is_rejected():
    with pytest.raises(ConfigError, match="config.limit: input should be a valid integer, got 'many'"):
        parse_run_config(compose_run("model=[tiny_random_llama]", "limit=many"))
    with pytest.raises(
        ConfigError, match="config.model.tiny_random_llama.max_batch_size: input should be a valid integer"
    ):
        parse_run_config(compose_run("model=[tiny_random_llama]", "+model.tiny_random_llama.max_batch_size=many"))


@pytest.mark.parametrize(
    "override,message",
    [
        ("limit=0", "config.limit: input should be greater than 0, got 0"),
        (
            "model.tiny_random_llama.dtype=float8",
            "config.model.tiny_random_llama.dtype: input should be 'auto', 'float32', ",
        ),
        ("model.tiny_random_llama.backend=tgi", "backend: input should be 'hf' or 'vllm', got 'tgi'"),
        ("model.tiny_random_llama.batch_size=0", "batch_size: input should be greater than 0, got 0"),
        (
            "model.tiny_random_llama.source.kind=local",
            "config.model.tiny_random_llama.source: path is required for kind 'local'",
        ),
        (
            "+benchmark.bbh_bigbench_mc.local_data={path: x, colour: red}",
            r"config.benchmark.bbh_bigbench_mc.local_data: unknown key 'colour' \(allowed: path, test_split",
        ),
    ],
)
def test_bad_values_get_one_line_errors(override, message):
    with pytest.raises(ConfigError, match=message):
        parse_run_config(compose_run("model=[tiny_random_llama]", override))


def test_benchmark_naming_a_missing_lm_eval_task_is_rejected():
    cfg = parse_run_config(compose_run("benchmark=[ifeval]", "benchmark.ifeval.tasks=[ifevall]"))
    with pytest.raises(BenchmarkError, match="lm-eval has no task 'ifevall'"):
        check_tasks_exist("ifeval", cfg.benchmark["ifeval"].tasks)
