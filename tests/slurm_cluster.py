"""A real single-node Slurm cluster on localhost for the test session.

munged, MariaDB, slurmdbd, slurmctld and slurmd run from a temp directory with their own
ports, sockets and config (SLURM_CONF), so nothing in /etc is used and two sessions do not
collide. Accounting goes through slurmdbd into MariaDB: submitit polls plain `sacct` to see
a job end without output (cancelled, failed), and on Slurm 22.05 slurmdbd is the only
accounting storage `sacct` reads (`jobcomp/filetxt` feeds only `sacct --completion`).

Every daemon is a child of the test process (foreground mode), stopped by its handle at
teardown and sent SIGTERM by the kernel if the test process dies first (PR_SET_PDEATHSIG).
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

PACKAGES = "slurm-wlm slurmdbd munge mariadb-server"
PROGRAMS = (
    "munged",
    "mungekey",
    "mariadbd",
    "mariadb-install-db",
    "slurmdbd",
    "slurmctld",
    "slurmd",
    "sbatch",
    "sacct",
    "scontrol",
    "scancel",
    "squeue",
)
PARTITION = "harness"
# The node's one GPU is Slurm bookkeeping only (a gres whose device file is /dev/null), so a
# hardware config's gpus_per_node can be submitted and read back; nothing runs on it.
GPUS = 1


class SlurmUnavailable(RuntimeError):
    pass


def missing_programs() -> list[str]:
    return [name for name in PROGRAMS if shutil.which(name) is None]


def require_slurm() -> None:
    """Skip (or, with HARNESS_REQUIRE_SLURM=1 as in CI, fail) when a cluster cannot run here."""
    problem = None
    if missing_programs():
        problem = f"Slurm is not installed (missing {', '.join(missing_programs())}): apt-get install {PACKAGES}"
    elif importlib.util.find_spec("hydra_plugins.hydra_submitit_launcher") is None:
        problem = "hydra-submitit-launcher is not installed: pip install -e '.[slurm]'"
    elif os.geteuid() != 0:
        problem = "the local Slurm cluster needs root (slurmd starts jobs as their user)"
    if problem and os.environ.get("HARNESS_REQUIRE_SLURM") == "1":
        pytest.fail(problem + " (HARNESS_REQUIRE_SLURM=1)")
    if problem:
        pytest.skip(problem)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def die_with_parent() -> None:
    """Runs in the child before exec: SIGTERM it when the test process dies."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def node_hardware() -> dict[str, str]:
    """CPUs and memory as slurmd itself detects them (`slurmd -C`), so the node validates."""
    line = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    facts = dict(item.split("=", 1) for item in line.split())
    return {key: facts[key] for key in ("CPUs", "RealMemory")}


@dataclass
class SlurmCluster:
    root: Path
    hostname: str = field(default_factory=lambda: socket.gethostname().split(".")[0])
    daemons: dict[str, subprocess.Popen] = field(default_factory=dict)
    ports: dict[str, int] = field(
        default_factory=lambda: {name: free_port() for name in ("slurmctld", "slurmd", "slurmdbd", "mariadb")}
    )

    @property
    def conf(self) -> Path:
        return self.root / "slurm.conf"

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "SLURM_CONF": str(self.conf)}

    # ---- commands ---------------------------------------------------------------------
    def run(self, *command: str, check: bool = True) -> str:
        result = subprocess.run(command, check=False, capture_output=True, text=True, env=self.env, timeout=60)
        if check and result.returncode != 0:
            raise SlurmUnavailable(f"{' '.join(command)} failed: {result.stderr.strip()}")
        return result.stdout

    def sacct(self) -> dict[str, str]:
        """Every job of this cluster (array tasks as 12_0, 12_1) -> its final or current state."""
        out = self.run(
            "sacct",
            "--allusers",
            "--noheader",
            "--parsable2",
            "--starttime",
            "2000-01-01",
            "--format",
            "JobID,State",
            "-X",
        )
        return {job: state.split()[0] for job, state in (line.split("|") for line in out.splitlines() if line)}

    def show_job(self, job_id: str) -> dict[str, str]:
        """`scontrol show job` as key -> value (jobs stay visible for MinJobAge after they end)."""
        out = self.run("scontrol", "show", "job", "--oneliner", job_id)
        return dict(item.split("=", 1) for item in out.split() if "=" in item)

    def queue(self) -> list[str]:
        return self.run("squeue", "--noheader", "--format", "%i").split()

    def wait_for(self, condition, what: str, timeout: float = 60, every: float = 0.5):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = condition()
            if value:
                return value
            time.sleep(every)
        raise SlurmUnavailable(f"timed out after {timeout:.0f}s waiting for {what}; logs in {self.root}")

    # ---- lifecycle --------------------------------------------------------------------
    def start(self) -> SlurmCluster:
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # munged insists that everyone may reach its socket
        self.write_configs()
        self.start_munge()
        self.start_mariadb()
        self.spawn("slurmdbd", ["slurmdbd", "-D"])
        self.wait_for(lambda: self.port_open("slurmdbd"), "slurmdbd to listen")
        self.spawn("slurmctld", ["slurmctld", "-D", "-i", "-f", str(self.conf)])
        self.wait_for(lambda: self.port_open("slurmctld"), "slurmctld to listen")
        self.spawn("slurmd", ["slurmd", "-D", "-f", str(self.conf)])
        self.wait_for(
            lambda: "idle" in self.run("sinfo", "--noheader", "--format", "%T", check=False), "the node to be idle"
        )
        return self

    def stop(self) -> None:
        """Cancel what still runs, then stop the daemons in reverse order of start."""
        if "slurmctld" in self.daemons and self.daemons["slurmctld"].poll() is None:
            try:
                jobs = self.queue()
                if jobs:
                    self.run("scancel", "--full", *jobs, check=False)
                    self.wait_for(lambda: not self.queue(), "cancelled jobs to end", timeout=30)
            except (SlurmUnavailable, subprocess.TimeoutExpired):
                pass  # stop the daemons regardless
        for process in reversed(list(self.daemons.values())):
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        shutil.rmtree(self.root / "mariadb", ignore_errors=True)  # ~100 MB of InnoDB files

    def spawn(self, name: str, command: list[str]) -> None:
        with open(self.root / f"{name}.out", "ab") as log:  # the child keeps its own copy of the fd
            self.daemons[name] = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=self.env, cwd=self.root, preexec_fn=die_with_parent
            )  # noqa: PLW1509
        time.sleep(0.2)
        if self.daemons[name].poll() is not None:
            raise SlurmUnavailable(f"{name} exited at start; see {self.root / (name + '.out')} and {name}.log")

    def port_open(self, name: str) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.ports[name])) == 0

    def start_munge(self) -> None:
        key = self.root / "munge.key"
        subprocess.run(["mungekey", "--create", f"--keyfile={key}"], check=True, capture_output=True)
        self.spawn(
            "munged",
            [
                "munged",
                "--foreground",
                "--force",
                f"--key-file={key}",
                f"--socket={self.root / 'munge.socket'}",
                f"--pid-file={self.root / 'munged.pid'}",
                f"--log-file={self.root / 'munged.log'}",
                f"--seed-file={self.root / 'munged.seed'}",
            ],
        )
        self.wait_for(lambda: (self.root / "munge.socket").exists(), "munged's socket")

    def start_mariadb(self) -> None:
        data = self.root / "mariadb"
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={data}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
        )
        self.spawn(
            "mariadb",
            [
                "mariadbd",
                "--no-defaults",
                f"--datadir={data}",
                "--user=root",
                "--bind-address=127.0.0.1",
                f"--port={self.ports['mariadb']}",
                f"--socket={self.root / 'mariadb.sock'}",
                f"--pid-file={self.root / 'mariadb.pid'}",
                f"--log-error={self.root / 'mariadb.log'}",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
            ],
        )
        self.wait_for(lambda: self.port_open("mariadb"), "MariaDB to listen")

    def write_configs(self) -> None:
        root, munge = self.root, self.root / "munge.socket"
        for directory in ("state", "spool"):
            (root / directory).mkdir(exist_ok=True)
        dbd = root / "slurmdbd.conf"  # slurmdbd finds it beside SLURM_CONF; it must be private
        dbd.write_text(
            "\n".join(
                [
                    "AuthType=auth/munge",
                    f"AuthInfo=socket={munge}",
                    "DbdHost=localhost",
                    "DbdAddr=127.0.0.1",
                    f"DbdPort={self.ports['slurmdbd']}",
                    "SlurmUser=root",
                    f"LogFile={root / 'slurmdbd.log'}",
                    f"PidFile={root / 'slurmdbd.pid'}",
                    "StorageType=accounting_storage/mysql",
                    "StorageHost=127.0.0.1",
                    f"StoragePort={self.ports['mariadb']}",
                    "StorageUser=root",
                    "StorageLoc=slurm_acct_db",
                    "",
                ]
            )
        )
        dbd.chmod(0o600)
        (root / "gres.conf").write_text(f"NodeName={self.hostname} Name=gpu File=/dev/null\n")
        node = node_hardware()
        self.conf.write_text(
            "\n".join(
                [
                    "ClusterName=harness",
                    f"SlurmctldHost={self.hostname}(127.0.0.1)",
                    f"SlurmctldPort={self.ports['slurmctld']}",
                    f"SlurmdPort={self.ports['slurmd']}",
                    "SlurmUser=root",
                    "AuthType=auth/munge",
                    f"AuthInfo=socket={munge}",
                    f"StateSaveLocation={root / 'state'}",
                    f"SlurmdSpoolDir={root / 'spool'}",
                    f"SlurmctldPidFile={root / 'slurmctld.pid'}",
                    f"SlurmdPidFile={root / 'slurmd.pid'}",
                    f"SlurmctldLogFile={root / 'slurmctld.log'}",
                    f"SlurmdLogFile={root / 'slurmd.log'}",
                    # no cgroups: processes tracked by parent pid, no CPU binding
                    "ProctrackType=proctrack/linuxproc",
                    "TaskPlugin=task/none",
                    "MpiDefault=none",
                    "SelectType=select/cons_tres",
                    "SelectTypeParameters=CR_Core_Memory",
                    "JobAcctGatherType=jobacct_gather/none",
                    "AccountingStorageType=accounting_storage/slurmdbd",
                    "AccountingStorageHost=127.0.0.1",
                    f"AccountingStoragePort={self.ports['slurmdbd']}",
                    f"AccountingStoragePass={munge}",  # the munge socket for talking to slurmdbd
                    # scancel: SIGTERM, then SIGKILL after KillWait (submitit ignores SIGTERM); keep it short
                    "KillWait=2",
                    "MinJobAge=600",
                    "ReturnToService=2",
                    "GresTypes=gpu",
                    (
                        f"NodeName={self.hostname} NodeAddr=127.0.0.1 CPUs={node['CPUs']} RealMemory={node['RealMemory']} "
                        f"Gres=gpu:{GPUS} State=UNKNOWN"
                    ),
                    f"PartitionName={PARTITION} Nodes={self.hostname} Default=YES MaxTime=INFINITE State=UP",
                    "",
                ]
            )
        )
