"""Claims and their verdicts.

- `loading`: configs/claim/<id>.yaml -> a validated `Claim`;
- `evidence`: rows of published vs published, measured vs measured, measured vs
  published and reproduction checks, each cell with its own setting;
- `items` (+ benchmark_items.yaml): item counts by (benchmark, subset), with sources;
- `decide`: quantifiers with stated semantics, Holm, power;
- `speed`: throughput halves of claims;
- `judge`: one claim -> one `Verdict` (rival named, alternatives shown, proxies labelled).
"""

from harness.claims.decide import Decision, decide
from harness.claims.evidence import record_per_cell
from harness.claims.judge import judge
from harness.claims.loading import CLAIM_DIR, claim_names, load_claim, load_claims
from harness.claims.model import QUANTIFIERS, VERDICTS, Claim, Comparison, Row, Verdict

__all__ = [
    "CLAIM_DIR",
    "QUANTIFIERS",
    "VERDICTS",
    "Claim",
    "Comparison",
    "Decision",
    "Row",
    "Verdict",
    "claim_names",
    "decide",
    "judge",
    "load_claim",
    "load_claims",
    "record_per_cell",
]
