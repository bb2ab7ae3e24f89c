"""claim-harness: re-runnable checks of published LLM benchmark claims."""

from pathlib import Path

# configs/ at the top of the checkout is the source; harness/_configs is a symlink to it in a
# checkout and the copy the wheel carries, so a checkout and an installed wheel find their
# configs the same way.
CONFIG_DIR = Path(__file__).resolve().parent / "_configs"
