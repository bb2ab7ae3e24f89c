"""`python -m harness.list models|benchmarks|suites|hardware|tasks`: what exists."""
from __future__ import annotations

import sys

import yaml

from harness import CONFIG_DIR

GROUPS = ("models", "benchmarks", "suites", "hardware", "tasks")


def describe(group_dir: str) -> list[tuple[str, str]]:
    rows = []
    for path in sorted((CONFIG_DIR / group_dir).glob("*.yaml")):
        data = yaml.safe_load(path.read_text()) or {}
        body = data.get(path.stem, data)
        if group_dir == "suite":
            picked = next((d["/benchmark"] for d in data.get("defaults", []) if "/benchmark" in d), [])
            rows.append((path.stem, ", ".join(picked)))
        else:
            rows.append((path.stem, body.get("display_name") or body.get("name", "")))
    return rows


def lm_eval_tasks() -> list[tuple[str, str]]:
    from harness.evaluate import TASKS_DIR, task_manager

    manager = task_manager()
    shipped = {name for name, entry in manager.task_index.items()
               if entry.yaml_path and str(entry.yaml_path).startswith(str(TASKS_DIR))}
    return [(name, "shipped, offline" if name in shipped else "lm-eval") for name in manager.all_tasks]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in GROUPS:
        print(f"usage: python -m harness.list {{{'|'.join(GROUPS)}}}", file=sys.stderr)
        return 2
    group = argv[0]
    rows = lm_eval_tasks() if group == "tasks" else describe(
        {"models": "model", "benchmarks": "benchmark", "suites": "suite", "hardware": "hardware"}[group])
    width = max(len(name) for name, _ in rows)
    for name, text in rows:
        print(f"{name.ljust(width)}  {text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
