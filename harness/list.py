"""`python -m harness.list models|benchmarks|suites|hardware|tasks`: what exists."""

from __future__ import annotations

import sys

import yaml
from tabulate import tabulate

from harness import CONFIG_DIR

GROUP_DIRS = {"models": "model", "benchmarks": "benchmark", "suites": "suite", "hardware": "hardware"}
GROUPS = (*GROUP_DIRS, "tasks")


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
    from harness.evaluate import task_catalog

    return [(name, "shipped, offline" if shipped else "lm-eval") for name, shipped in task_catalog()]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] not in GROUPS:
        print(f"usage: python -m harness.list {{{'|'.join(GROUPS)}}}", file=sys.stderr)
        return 2
    group = argv[0]
    rows = lm_eval_tasks() if group == "tasks" else describe(GROUP_DIRS[group])
    print(tabulate(rows, tablefmt="plain", disable_numparse=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
