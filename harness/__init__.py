"""claim-harness: re-runnable checks of published LLM benchmark claims."""
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"
