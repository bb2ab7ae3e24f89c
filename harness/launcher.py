"""Sweeps through submitit (a Slurm cluster, or local processes): one job per sweep point,
no job for a point whose cells all have records, and every failed job named with its job
id, state and log once all jobs have ended.

hydra-submitit-launcher submits every point and raises at the first failed job while the
others are still running. Hydra loads launchers only from the `hydra_plugins` package, so
the launcher classes live in hydra_plugins/claim_harness_launcher and do their work here.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hydra.core.singleton import Singleton
from hydra.core.utils import JobReturn, filter_overrides
from omegaconf import OmegaConf, open_dict

log = logging.getLogger(__name__)
POLL_SECONDS = 2  # how often job states are read (one `sacct` call) while waiting


@dataclass
class SweepPoint:
    index: int  # Hydra's job number: the sweep subdirectory
    overrides: list[str]
    label: str = ""  # the overrides that tell this point from the others: "model=gemma3_270m"


def sweep_points(job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[SweepPoint]:
    shown = [filter_overrides(list(overrides)) for overrides in job_overrides]
    common = set.intersection(*map(set, shown)) if len(shown) > 1 else set()
    return [
        SweepPoint(
            initial_job_idx + n, list(overrides), " ".join(o for o in shown[n] if o not in common) or " ".join(shown[n])
        )
        for n, overrides in enumerate(job_overrides)
    ]


@dataclass
class FailedJob:
    point: SweepPoint
    job_id: str
    state: str
    log: Path
    last_error: str

    def describe(self) -> str:
        why = f": {self.last_error}" if self.last_error else ""
        return f"job {self.job_id} ({self.point.label}) ended {self.state}{why}; log: {self.log}"


def unfinished_cells(launcher: Any, point: SweepPoint) -> int:
    """Cells the point's job would compute; bad input stops the sweep before any submission."""
    from harness import run  # lazy: pulls in torch and lm-eval
    from harness.schema import ConfigError, parse_run_config

    cfg = launcher.hydra_context.config_loader.load_sweep_config(launcher.config, point.overrides)
    with open_dict(cfg):
        del cfg["hydra"]  # its job fields (hydra.job.num...) exist only inside the job
    try:
        return run.unfinished_cells(parse_run_config(cfg))
    except ConfigError as error:
        sys.exit(f"error: {point.label}: {error}")


def executor_for(launcher: Any):
    """The submitit executor hydra-submitit-launcher would build, with the same parameters."""
    import submitit
    from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

    kind, params = launcher._EXECUTOR, dict(launcher.params)
    folder = params.pop("submitit_folder")
    timeouts = {f"{kind}_max_num_timeout": params.pop("max_num_timeout")} if "max_num_timeout" in params else {}
    executor = submitit.AutoExecutor(cluster=kind, folder=folder, **timeouts)
    shared = set(OmegaConf.structured(BaseQueueConf).keys())  # the rest are executor-specific
    executor.update_parameters(**{key if key in shared else f"{kind}_{key}": value for key, value in params.items()})
    return executor


def submit(launcher: Any, points: list[SweepPoint]) -> list:
    sweep_dir = Path(str(launcher.config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    if "mode" in launcher.config.hydra.sweep:
        os.chmod(sweep_dir, mode=int(str(launcher.config.hydra.sweep.mode), 8))
    arguments = [
        (p.overrides, "hydra.sweep.dir", p.index, f"job_id_for_{p.index}", Singleton.get_state()) for p in points
    ]
    jobs = executor_for(launcher).map_array(launcher, *zip(*arguments, strict=True))
    for point, job in zip(points, jobs, strict=True):
        log.info(f"\t#{point.index} : {point.label} -> job {job.job_id}, log {job.paths.stderr}")
    return jobs


def wait_for_all(jobs: list) -> None:
    pending = list(jobs)
    while pending:
        pending[0].done(force_check=True)  # one `sacct` call refreshes every job's state
        pending = [job for job in pending if not job.done()]
        if pending:
            time.sleep(POLL_SECONDS)


def last_error_line(path: Path) -> str:
    """The harness's own last error line in a job's log ("error: ..." or "FAILED ...")."""
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return ""
    # a logged line starts "[time logger] " (configs/hydra/job_logging/harness.yaml); sys.exit's does not
    messages = [re.sub(r"^\[[^\]]*\] ", "", line.strip()) for line in lines]
    ours = [line for line in messages if line.startswith(("FAILED ", "error: "))]
    return ours[-1].split(" ", 1)[1].removeprefix("error: ") if ours else ""


def outcome(point: SweepPoint, job) -> JobReturn | FailedJob:
    failed = FailedJob(point, str(job.job_id), job.state, Path(job.paths.stderr), "")
    if job.state != "COMPLETED" and not job.paths.result_pickle.exists():
        failed.last_error = last_error_line(failed.log)  # ended without output: nothing to wait for
        return failed
    from submitit.core.utils import UncompletedJobError

    try:
        return job.results()[0]
    except UncompletedJobError:  # the job's function raised (FailedJobError) or left no result
        failed.last_error = last_error_line(failed.log)
        return failed


def launch(launcher: Any, job_overrides: Sequence[Sequence[str]], initial_job_idx: int) -> list[JobReturn]:
    points = sweep_points(job_overrides, initial_job_idx)
    todo = []
    for point in points:
        if unfinished_cells(launcher, point):
            todo.append(point)
        else:
            log.info(f"\t#{point.index} : {point.label}: every cell has a record, no job submitted")
    if not todo:
        return []
    log.info(f"Submitit '{launcher._EXECUTOR}' sweep output dir : {launcher.config.hydra.sweep.dir}")
    jobs = submit(launcher, todo)
    wait_for_all(jobs)
    outcomes = [outcome(point, job) for point, job in zip(todo, jobs, strict=True)]
    failed = [o for o in outcomes if isinstance(o, FailedJob)]
    for job in failed:
        log.error(job.describe())
    if failed:
        sys.exit(
            f"error: {len(failed)} of {len(jobs)} jobs did not complete (listed above); the others' records "
            f"are written, and rerunning the same command computes only the missing cells"
        )
    return outcomes
