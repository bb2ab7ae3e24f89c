"""The hub-dataset mirror: local copies of the Hugging Face datasets lm-eval's tasks read.

Layout (one directory, by hub id, so a task's `dataset_path`/`dataset_name` find their files):

    <mirror>/<hub id>/<config>/<split>.jsonl.gz   e.g. allenai/ai2_arc/ARC-Easy/test.jsonl.gz,
                                                  cais/mmlu/abstract_algebra/dev.jsonl.gz
                                                  (config "default" when lm-eval's dataset_name is null)
    <mirror>/MANIFEST.json                        every file's sha256 and row count, and per
                                                  dataset config its upstream source and license
    <mirror>/provenance/*.md                      how each copy was obtained and checked

The project ships one (harness/hub_mirror, built by scripts/build_mirror.py);
`python -m harness.prefetch` writes the same layout on a machine with internet. A run
reads a mirror file only after its sha256 matched the manifest. This module holds the
layout, the manifest, the checks and the rewrite of a task config onto the local files;
it does not import lm-eval (the adapter applies `redirect` to every task it builds).
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Optional

from harness.atomic import write_bytes
from harness.hashing import sha256_file

SHIPPED = Path(__file__).parent / "hub_mirror"
MANIFEST = "MANIFEST.json"
SCHEMA = "hub-mirror/1"
DEFAULT_CONFIG = "default"
SPLIT_KEYS = ("training_split", "validation_split", "test_split", "fewshot_split")
# `datasets` builders that read local files by format, not hub repositories
LOCAL_BUILDERS = {"json", "csv", "parquet", "text", "arrow", "pandas"}
ADD_HINT = (
    "add it to a mirror: `python -m harness.prefetch benchmark=[...] +out_dir=DIR` on a machine with "
    "internet, then mirror_dir=DIR (README: 'The hub-dataset mirror')"
)


class MirrorError(ValueError):
    """A mirror that cannot serve a task: missing data, a changed file, a bad manifest."""


@dataclass(frozen=True)
class MirrorFile:
    relpath: str  # inside the mirror, "/"-separated: stable across machines
    sha256: str  # of the file as stored (.jsonl.gz)
    rows: int
    content_sha256: str  # of the uncompressed JSONL (what PROVENANCE.md lists for the source)


@dataclass(frozen=True)
class MirrorDataset:
    """One (hub id, config) of a mirror: its split files and where they came from."""

    root: Path
    hub_id: str
    config: str
    splits: dict  # split -> MirrorFile
    upstream: str  # repository@commit and path of the copy
    license: str
    provenance: str = ""  # relpath of the PROVENANCE file
    notes: str = ""  # how the copy differs from the hub's, if it does

    def path(self, split: str) -> Path:
        return self.root / self.splits[split].relpath


@dataclass(frozen=True)
class Redirect:
    """How one lm-eval task reads its data from a mirror."""

    dataset: MirrorDataset
    used: tuple  # splits read
    dropped: tuple  # splits the task names but the mirror lacks (never read at this setting)

    def fingerprint(self) -> dict:
        """What a record keeps: the files' sha256 and their upstream source."""
        d = self.dataset
        return {
            "hub_id": d.hub_id,
            "config": d.config,
            "upstream": d.upstream,
            "license": d.license,
            "notes": d.notes,
            "dropped_splits": list(self.dropped),
            "files": {d.splits[s].relpath: d.splits[s].sha256 for s in self.used},
        }


def config_name(dataset_name) -> str:
    return dataset_name or DEFAULT_CONFIG


def file_relpath(hub_id: str, config: str, split: str) -> str:
    return f"{hub_id}/{config}/{split}.jsonl.gz"


# ----------------------------------------------------------------------------- reading


def read_manifest(root: Path) -> dict:
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise MirrorError(f"{root} is not a hub-dataset mirror (no {MANIFEST})") from None
    except (OSError, json.JSONDecodeError) as error:
        raise MirrorError(f"{path}: cannot read ({error})") from None
    if manifest.get("schema") != SCHEMA or not isinstance(manifest.get("datasets"), dict):
        raise MirrorError(f"{path}: not a {SCHEMA} manifest")
    return manifest


def _dataset(root: Path, key: str, entry: dict) -> MirrorDataset:
    hub_id, _, config = key.rpartition("/")
    splits = {split: MirrorFile(**f) for split, f in entry["splits"].items()}
    return MirrorDataset(
        root=root,
        hub_id=hub_id,
        config=config,
        splits=splits,
        upstream=entry["upstream"],
        license=entry["license"],
        provenance=entry.get("provenance", ""),
        notes=entry.get("notes", ""),
    )


@lru_cache(maxsize=16)
def _load(root: str, manifest_mtime_ns: int) -> dict:
    path = Path(root)
    return {key: _dataset(path, key, entry) for key, entry in read_manifest(path)["datasets"].items()}


@dataclass(frozen=True)
class Mirror:
    """One or more mirror directories; the first that holds a (hub id, config) serves it.
    A run's `mirror_dir` comes first, the shipped mirror last."""

    roots: tuple = field(default_factory=lambda: (SHIPPED,))

    @classmethod
    def for_run(cls, mirror_dir: Optional[str]) -> Mirror:
        if not mirror_dir:
            return cls()
        root = Path(mirror_dir).expanduser().resolve()
        read_manifest(root)  # a wrong directory fails here, with its path
        return cls((root, SHIPPED)) if root != SHIPPED.resolve() else cls()

    def datasets(self) -> dict:
        """(hub id, config) -> MirrorDataset over all roots, earlier roots winning."""
        found = {}
        for root in reversed(self.roots):
            manifest = Path(root) / MANIFEST
            stamp = manifest.stat().st_mtime_ns if manifest.exists() else 0
            found.update({(d.hub_id, d.config): d for d in _load(str(root), stamp).values()})
        return found

    def lookup(self, hub_id: str, dataset_name) -> Optional[MirrorDataset]:
        return self.datasets().get((hub_id, config_name(dataset_name)))


def verify(dataset: MirrorDataset, split: str) -> Path:
    """The split's file, after its sha256 matched the manifest (hashed once per unchanged file)."""
    path = dataset.path(split)
    expected = dataset.splits[split].sha256
    if not path.is_file():
        raise MirrorError(f"{path}: listed in {dataset.root / MANIFEST} but missing; rebuild or re-fetch the mirror")
    stat = path.stat()
    actual = _sha256_unchanged(str(path), stat.st_size, stat.st_mtime_ns)
    if actual != expected:
        raise MirrorError(
            f"{path}: sha256 {actual[:16]}... differs from the manifest's {expected[:16]}...; the file "
            f"changed since the mirror was built (rebuild it or restore the file)"
        )
    return path


@lru_cache(maxsize=1024)
def _sha256_unchanged(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(Path(path))


# ----------------------------------------------------------------------------- task configs


def is_hub_dataset(cfg: dict) -> bool:
    """Whether lm-eval would fetch this task's data from the Hugging Face Hub."""
    path = cfg.get("dataset_path")
    if not path or cfg.get("custom_dataset") or str(path) in LOCAL_BUILDERS:
        return False
    return not Path(str(path)).expanduser().exists()


def fewshot_source(cfg: dict) -> Optional[str]:
    """The split lm-eval draws few-shot examples from (None: inline examples in the config)."""
    fewshot = cfg.get("fewshot_config") or {}
    if cfg.get("fewshot_split"):
        return cfg["fewshot_split"]
    if fewshot.get("samples"):
        return None
    for key in ("training_split", "validation_split", "test_split"):
        if cfg.get(key):
            return cfg[key]
    return None


def plan(cfg: dict, mirror: Mirror, num_fewshot: Optional[int]) -> Optional[Redirect]:
    """How a task reads its data from the mirror; None when the mirror lacks its dataset.
    A task whose scored split, or few-shot split at this setting, is missing fails here."""
    if not is_hub_dataset(cfg):
        return None
    dataset = mirror.lookup(str(cfg["dataset_path"]), cfg.get("dataset_name"))
    if dataset is None:
        return None
    task, where = cfg.get("task", "?"), f"{cfg['dataset_path']} ({config_name(cfg.get('dataset_name'))})"
    named = [cfg[k] for k in SPLIT_KEYS if cfg.get(k)]
    missing = tuple(dict.fromkeys(s for s in named if s not in dataset.splits))
    scored = cfg.get("test_split") or cfg.get("validation_split")
    if scored in missing:
        raise MirrorError(
            f"task '{task}' scores split '{scored}' of {where}, which the mirror at {dataset.root} "
            f"does not hold; {ADD_HINT}"
        )
    shots = num_fewshot if num_fewshot is not None else cfg.get("num_fewshot") or 0
    source = fewshot_source(cfg)
    if shots > 0 and source in missing:
        raise MirrorError(
            f"task '{task}' draws its {shots}-shot examples from split '{source}' of {where}, which the "
            f"mirror at {dataset.root} does not hold; run it 0-shot or {ADD_HINT}"
        )
    used = tuple(dict.fromkeys(s for s in named if s not in missing))
    return Redirect(dataset=dataset, used=used, dropped=missing)


@dataclass(frozen=True)
class Sources:
    """Where each leaf task of a benchmark reads its data: the mirror, or the hub."""

    routes: dict  # task -> Redirect
    hub: dict  # task -> "hub id (config)" the mirror does not hold

    def files(self) -> dict:
        """Mirror file -> sha256, over all tasks (part of the cell key)."""
        return {path: sha for route in self.routes.values() for path, sha in route.fingerprint()["files"].items()}

    def source_of(self, task: str) -> Optional[dict]:
        route = self.routes.get(task)
        return route.fingerprint() if route else None


def resolve(leaf_configs: Iterable[dict], mirror: Mirror, num_fewshot: Optional[int], overrides: dict) -> Sources:
    """Plan every leaf task of a benchmark (configs as lm-eval indexes them, with the
    benchmark's task_overrides applied); every mirror file used is checked here."""
    routes, hub = {}, {}
    for cfg in leaf_configs:
        cfg = {**cfg, **overrides}
        route = plan(cfg, mirror, num_fewshot)
        if route is not None:
            for split in route.used:
                verify(route.dataset, split)
            routes[cfg["task"]] = route
        elif is_hub_dataset(cfg):
            hub[cfg["task"]] = f"{cfg['dataset_path']} ({config_name(cfg.get('dataset_name'))})"
    return Sources(routes, hub)


def hub_reachable() -> bool:
    """Whether the Hugging Face Hub answers (the offline switches say no without asking)."""
    import urllib.request

    if any(os.environ.get(v, "0").lower() not in ("0", "", "false") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")):
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    try:
        urllib.request.urlopen(f"{endpoint}/api/datasets?limit=1", timeout=5).close()
        return True
    except OSError:
        return False


def require_data(name: str, sources: Sources, mirror: Mirror) -> None:
    """A benchmark whose data is neither in the mirror nor reachable fails here, in one line."""
    if not sources.hub or hub_reachable():
        return
    task, dataset = next(iter(sources.hub.items()))
    where = ", ".join(str(r) for r in mirror.roots)
    raise MirrorError(
        f"benchmark '{name}': task '{task}' reads hub dataset {dataset}, which is not in the mirror "
        f"({where}) and the Hugging Face Hub is unreachable"
        f"{' (HF_HUB_OFFLINE is set)' if os.environ.get('HF_HUB_OFFLINE') else ''}; {ADD_HINT}"
    )


def redirect(cfg: dict, route: Redirect) -> dict:
    """The task's own config, reading the mirror's files instead of the hub: prompts,
    few-shot sampling, filters and metrics are untouched. Splits the mirror lacks (never
    read at this setting, see `plan`) are unset so lm-eval does not ask for them."""
    files = {split: str(verify(route.dataset, split)) for split in route.used}
    new = {**cfg, "dataset_path": "json", "dataset_name": None, "dataset_kwargs": {"data_files": files}}
    for key in SPLIT_KEYS:
        if new.get(key) in route.dropped:
            new[key] = None
    return new


# ----------------------------------------------------------------------------- writing


def gzip_bytes(data: bytes) -> bytes:
    """Deterministic gzip (no name, mtime 0): the same input always gives the same bytes."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0, compresslevel=9) as handle:
        handle.write(data)
    return buffer.getvalue()


def jsonl_bytes(rows: Iterable[dict]) -> bytes:
    return "".join(json.dumps(row, ensure_ascii=False, default=str) + "\n" for row in rows).encode()


def write_split(root: Path, hub_id: str, config: str, split: str, content: bytes) -> MirrorFile:
    """Store one split's JSONL content (gzipped) in the layout; returns its manifest entry."""
    relpath = file_relpath(hub_id, config, split)
    target = root / relpath
    target.parent.mkdir(parents=True, exist_ok=True)
    packed = gzip_bytes(content)
    write_bytes(target, packed)
    rows = sum(1 for line in content.splitlines() if line.strip())
    return MirrorFile(
        relpath=relpath,
        sha256=hashlib.sha256(packed).hexdigest(),
        rows=rows,
        content_sha256=hashlib.sha256(content).hexdigest(),
    )


def add_dataset(
    manifest: dict,
    hub_id: str,
    config: str,
    splits: dict,
    upstream: str,
    license: str,
    provenance: str = "",
    notes: str = "",
) -> None:
    """Record a written (hub id, config) in a manifest dict (see `write_manifest`)."""
    manifest.setdefault("schema", SCHEMA)
    manifest.setdefault("datasets", {})[f"{hub_id}/{config}"] = {
        "upstream": upstream,
        "license": license,
        "provenance": provenance,
        "notes": notes,
        "splits": {split: f.__dict__ for split, f in sorted(splits.items())},
    }


def write_manifest(root: Path, manifest: dict) -> Path:
    manifest = {"schema": SCHEMA, "datasets": dict(sorted(manifest.get("datasets", {}).items()))}
    path = root / MANIFEST
    write_bytes(path, (json.dumps(manifest, indent=1, sort_keys=False) + "\n").encode())
    return path


def existing_manifest(root: Path) -> dict:
    return read_manifest(root) if (root / MANIFEST).exists() else {"schema": SCHEMA, "datasets": {}}


def add_files(
    root: Path, hub_id: str, dataset_name, split_files: dict, upstream: str, license: str, notes: str = ""
) -> MirrorDataset:
    """Copy local JSONL files (one per split, the hub dataset's fields) into a mirror."""
    config = config_name(dataset_name)
    manifest = existing_manifest(root)
    files = {}
    for split, path in split_files.items():
        content = Path(path).expanduser().read_bytes()
        for number, line in enumerate(content.splitlines(), start=1):
            try:
                json.loads(line) if line.strip() else None
            except json.JSONDecodeError as error:
                raise MirrorError(f"{path}: line {number}: not valid JSON ({error.msg})") from None
        files[split] = write_split(root, hub_id, config, split, content)
    add_dataset(manifest, hub_id, config, files, upstream, license, notes=notes)
    write_manifest(root, manifest)
    return Mirror((root,)).lookup(hub_id, dataset_name)


def main(argv: Optional[list] = None) -> None:
    """`python -m harness.mirror list [DIR]` | `add DIR HUB_ID [--config C] --split test=FILE.jsonl ...`"""
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m harness.mirror", description="The hub-dataset mirror.")
    commands = parser.add_subparsers(dest="command", required=True)
    show = commands.add_parser("list", help="datasets a mirror holds (default: the shipped one)")
    show.add_argument("mirror_dir", nargs="?", default=str(SHIPPED))
    add = commands.add_parser("add", help="copy local JSONL files into a mirror as a hub dataset's splits")
    add.add_argument("mirror_dir")
    add.add_argument("hub_id", help="the task's dataset_path, e.g. openai/gsm8k")
    add.add_argument("--config", default=None, help="the task's dataset_name (omit when it is null)")
    add.add_argument("--split", action="append", required=True, metavar="SPLIT=FILE.jsonl")
    add.add_argument("--upstream", required=True, help="where the copy came from: repository@commit and path")
    add.add_argument("--license", required=True)
    add.add_argument("--notes", default="")
    args = parser.parse_args(argv)
    try:
        if args.command == "add":
            splits = dict(item.split("=", 1) for item in args.split)
            added = add_files(
                Path(args.mirror_dir), args.hub_id, args.config, splits, args.upstream, args.license, args.notes
            )
            print(
                f"added {added.hub_id} ({added.config}): "
                + ", ".join(f"{s} {f.rows} rows" for s, f in added.splits.items())
            )
            return
        for (hub_id, config), dataset in sorted(Mirror.for_run(args.mirror_dir).datasets().items()):
            print(f"{hub_id:28} {config:42} " + ", ".join(f"{s} {f.rows}" for s, f in dataset.splits.items()))
    except (MirrorError, OSError, ValueError) as error:
        sys.exit(f"error: {error}")


if __name__ == "__main__":
    main()
