"""Hostile model-written code is contained; HumanEval runs offline and scores correctly."""

import os
import subprocess

import pytest

from harness import stats
from harness.records import load_items, load_record
from harness.sandbox import Limits, SandboxUnavailable, isolation_available, run_untrusted
from tests.helpers import REPO, run_cli

ISOLATED, WHY = isolation_available()
needs_isolation = pytest.mark.skipif(
    not ISOLATED and not os.environ.get("HARNESS_REQUIRE_SANDBOX"), reason=f"no isolation here: {WHY}"
)
CANARY = REPO / "sandbox-canary.txt"

HOSTILE = {
    "infinite loop": "while True:\n    pass",
    "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
    "memory bomb": "blocks = []\nwhile True:\n    blocks.append(bytearray(50 * 2**20))",
    "huge output": "while True:\n    print('x' * 100000)",
    "write outside the working dir": f"open({str(CANARY)!r}, 'w').write('pwned')",
    "read the parent's environment": "import os\nsecret = open(f'/proc/{os.getppid() or 1}/environ').read()\n"
    "assert 'HARNESS_TEST_SECRET' in secret or 'HARNESS_TEST_SECRET' in os.environ\n",
    "open a socket": "import socket\nsocket.create_connection(('93.184.216.34', 80), timeout=2)",
    "kill the parent": "import os, signal\nos.kill(os.getppid() or 1, signal.SIGKILL)\nraise SystemExit(1)",
    "delete files": f"import os\nos.remove({str(REPO / 'README.md')!r})",
    "write a big file": "open('big', 'wb').write(b'0' * (64 * 2**20))",
}


def no_process_of_nobody_within(seconds: float) -> bool:
    """The kernel kills a PID namespace's processes when its first one dies; give the
    dying a moment to be reaped."""
    import time

    deadline = time.time() + seconds
    while time.time() < deadline:
        if not subprocess.run(["ps", "-u", "nobody", "-o", "pid="], capture_output=True, text=True).stdout.split():
            return True
        time.sleep(0.1)
    return False


@needs_isolation
@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_program_is_contained_and_scored_as_a_failure(name, monkeypatch):
    monkeypatch.setenv("HARNESS_TEST_SECRET", "s3cret")
    readme = (REPO / "README.md").read_bytes()
    outcome = run_untrusted(HOSTILE[name], Limits(wall_seconds=4))
    assert not outcome.passed, outcome
    assert outcome.seconds < 8
    assert (REPO / "README.md").read_bytes() == readme and not CANARY.exists()
    assert no_process_of_nobody_within(seconds=3)  # the fork bomb and everything else are gone


@needs_isolation
def test_sandboxed_program_sees_an_empty_private_world():
    outcome = run_untrusted(
        "import os\nprint(os.getcwd(), os.listdir('.'), os.getuid(), sorted(os.environ))\n"
        "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()), os.listdir('/tmp'))"
    )
    assert outcome.passed, outcome.stderr
    first, second = outcome.stdout.splitlines()
    assert first == "/tmp/work ['main.py'] 65534 ['HOME', 'LANG', 'PATH', 'PYTHONDONTWRITEBYTECODE']"
    assert second == "[1] ['work']"  # only itself in its PID namespace (it is PID 1)


def test_refuses_without_isolation_unless_accepted(monkeypatch):
    import harness.sandbox as sandbox

    monkeypatch.setattr(sandbox, "isolation_available", lambda: (False, "test: no namespaces"))
    with pytest.raises(SandboxUnavailable, match="sandbox_accept_unisolated=true"):
        sandbox.run_untrusted("print(1)")
    outcome = sandbox.run_untrusted("print(1)", accept_unisolated=True)
    assert outcome.passed and outcome.stdout == "1\n"
    assert not sandbox.run_untrusted("while True: pass", Limits(wall_seconds=1), accept_unisolated=True).passed


@needs_isolation
def test_canonical_humaneval_solutions_pass_and_wrong_ones_fail():
    from harness.tasks.humaneval_offline.utils import load_humaneval, process_results

    problems = load_humaneval()["test"]
    assert len(problems) == 164
    for doc in list(problems)[:8]:
        assert process_results(doc, [doc["canonical_solution"]]) == {"pass@1": 1.0}
        assert process_results(doc, ["    return None\n"]) == {"pass@1": 0.0}


@pytest.mark.parametrize(
    "n,c,k,expected",
    [
        (10, 0, 1, 0.0),
        (10, 10, 10, 1.0),
        (10, 3, 1, 0.3),
        (10, 1, 10, 1.0),
        (20, 2, 10, 1 - (18 * 17 / (20 * 19)) * 1.0 * 0),
    ],
)
def test_pass_at_k(n, c, k, expected):
    if (n, c, k) == (20, 2, 10):  # 1 - C(18,10)/C(20,10) by hand: C(18,10)=43758, C(20,10)=184756
        expected = 1 - 43758 / 184756
    assert stats.pass_at_k(n, c, k) == pytest.approx(expected)


@pytest.mark.slow
def test_running_generated_code_needs_explicit_consent(tmp_path):
    result = run_cli(
        "model=[smollm2_135m_instruct]", "benchmark=[humaneval_offline]", "limit=1", f"results_dir={tmp_path}"
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "error: benchmark 'humaneval_offline' executes model-written code; to allow it set "
        "benchmark.humaneval_offline.confirm_run_unsafe_code=true (programs run in harness.sandbox)"
    )
    lm_eval_task = run_cli(
        "model=[smollm2_135m_instruct]",
        "benchmark=[humaneval_0shot]",
        "benchmark.humaneval_0shot.confirm_run_unsafe_code=true",
        f"results_dir={tmp_path}",
    )
    assert "runs code with lm-eval's own executor, outside harness.sandbox" in lm_eval_task.stderr


@pytest.mark.slow
@needs_isolation
def test_humaneval_offline_end_to_end_with_a_packaged_model(tmp_path):
    result = run_cli(
        "model=[smollm2_135m_instruct]",
        "benchmark=[humaneval_offline]",
        "limit=2",
        "benchmark.humaneval_offline.confirm_run_unsafe_code=true",
        "+benchmark.humaneval_offline.gen_kwargs={max_gen_toks:96}",
        f"results_dir={tmp_path}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    [path] = list(tmp_path.glob("records/*/humaneval_offline/*.json"))
    record = load_record(path)
    assert record.scores.primary.metric == "pass@1" and record.scores.primary.n == 2
    items = load_items(path)
    assert all(isinstance(item.response, str) and item.score in (0.0, 1.0) for item in items)
