"""claim-harness: re-runnable checks of published LLM benchmark claims."""

import os
from pathlib import Path

# OpenMP threads spin while they wait by default. On a small CPU shared with other jobs
# (CI, a background sweep) that spinning made torch 5x slower here (PIQA 1.1 -> 5 items/s
# with PASSIVE on 2 cores). Set before torch loads its OpenMP runtime; the user's value wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# configs/ at the top of the checkout is the source; harness/_configs is a symlink to it in a
# checkout and the copy the wheel carries, so a checkout and an installed wheel find their
# configs the same way.
CONFIG_DIR = Path(__file__).resolve().parent / "_configs"
