"""The `harness` console script: `harness [run] overrides...`, `harness verify [claims=...]`,
`harness report`, or `harness list <group>`."""

from __future__ import annotations

import sys


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] == "list":
        from harness.list import main as list_main

        sys.exit(list_main(args[1:]))
    if args and args[0] in ("verify", "report"):
        from harness.report import main as report_main
        from harness.verify import main as verify_main

        sys.argv = [sys.argv[0], *args[1:]]
        (verify_main if args[0] == "verify" else report_main)()
        return
    if args and args[0] == "run":
        args = args[1:]
    from harness.__main__ import main as run_main

    sys.argv = [sys.argv[0], *args]
    run_main()
