"""Run untrusted, model-written code (HumanEval completions) with it contained.

Each program runs in its own process tree:
  - new PID, network and mount namespaces: no network at all (loopback down), the
    harness and its environment invisible (/proc is the sandbox's own), and when the
    sandbox's first process ends the kernel kills every process left in it;
  - fresh tmpfs on /tmp, /var/tmp and /dev/shm, so the empty working directory and any
    file the program writes vanish with it; the program runs as user `nobody`, so the
    rest of the file system is read-only to it;
  - CPU-time, memory, file-size, open-file and process-count limits; a minimal
    environment (no secrets from the parent); a wall-clock timeout that kills the whole
    tree; output capped;
  - python -I -S: no user site, no site-packages, no PYTHON* variables.
Namespaces need root (or a kernel that lets this user create them). Without them the run
refuses, unless the config accepts running with network and without isolation
(`accept_unisolated=True`), in which case only the limits, the timeout and a temporary
working directory apply.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
MS_REC, MS_PRIVATE = 0x4000, 1 << 18
NOBODY = 65534


# An interpreter user `nobody` may execute (the harness's own may sit under /root).
SANDBOX_PYTHONS = ("/usr/bin/python3", "/usr/local/bin/python3", "/bin/python3")


def sandbox_python() -> str | None:
    for candidate in SANDBOX_PYTHONS:
        real = os.path.realpath(candidate)
        if os.path.isfile(real) and _world_executable(real):
            return real
    return None


def _world_executable(path: str) -> bool:
    """Every directory on the way must be world-searchable and the file world-executable."""
    parts = path.split("/")
    for depth in range(2, len(parts)):
        if not os.stat("/".join(parts[:depth])).st_mode & 0o001:
            return False
    return bool(os.stat(path).st_mode & 0o001)


class SandboxUnavailable(RuntimeError):
    """Isolation is not possible here and the config did not accept running without it."""


@dataclass(frozen=True)
class Limits:
    wall_seconds: float = 10.0
    cpu_seconds: int = 5
    memory_mb: int = 512
    file_mb: int = 4
    processes: int = 32
    open_files: int = 64
    output_bytes: int = 64_000


@dataclass
class Outcome:
    passed: bool  # exit status 0 within the limits
    status: str  # "passed", "failed", "timeout", "output limit"
    returncode: int | None
    stdout: str
    stderr: str
    seconds: float


# The program that runs first inside the new namespaces (as root, before dropping to
# nobody): it forks the sandboxed process as PID 1 of the new PID namespace, so that when
# that process ends, everything it started is killed by the kernel.
INSIDE = r"""
import ctypes, os, resource, sys
libc = ctypes.CDLL(None, use_errno=True)
def mount(source, target, kind, flags, data):
    if libc.mount(source, target, kind, flags, data) != 0:
        raise OSError(ctypes.get_errno(), "mount " + target.decode())
limits = [int(x) for x in sys.argv[1:7]]
code = sys.stdin.buffer.read()
pid = os.fork()
if pid:
    _, status = os.waitpid(pid, 0)
    os._exit(os.waitstatus_to_exitcode(status) & 0xFF if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
mount(None, b"/", None, 0x4000 | (1 << 18), None)
mount(b"proc", b"/proc", b"proc", 0, None)
for path in (b"/tmp", b"/var/tmp", b"/dev/shm"):
    if os.path.isdir(path):
        mount(b"tmpfs", path, b"tmpfs", 0, b"size=16m,mode=1777")
os.mkdir("/tmp/work", 0o755)
with open("/tmp/work/main.py", "wb") as handle:
    handle.write(code)
os.chown("/tmp/work", 65534, 65534)
cpu, memory, files, processes, open_files, _ = limits
resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
resource.setrlimit(resource.RLIMIT_FSIZE, (files, files))
resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))
resource.setrlimit(resource.RLIMIT_NOFILE, (open_files, open_files))
resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
os.setgroups([]); os.setgid(65534); os.setuid(65534)
os.chdir("/tmp/work")
os.execve(sys.argv[7], [sys.argv[7], "-I", "-S", "main.py"],
          {"PATH": "/usr/bin:/bin", "HOME": "/tmp/work", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1"})
"""


def _unshare_namespaces() -> None:  # preexec: runs in the child between fork and exec
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET) != 0:
        os._exit(97)


@lru_cache(maxsize=1)
def isolation_available() -> tuple[bool, str]:
    """Whether namespaces and the drop to `nobody` work here (probed once)."""
    if os.geteuid() != 0:
        return False, "not running as root: cannot create PID/network/mount namespaces or switch to user nobody"
    if sandbox_python() is None:
        return False, f"no python3 that user nobody may run (looked at {', '.join(SANDBOX_PYTHONS)})"
    outcome = _run_isolated(b"print('ok')", Limits())
    if outcome.stdout.strip() != "ok":
        return False, f"namespace probe failed ({outcome.status}: {outcome.stderr.strip()[-200:]})"
    return True, "PID, network and mount namespaces; user nobody"


def _collect(process: subprocess.Popen, limits: Limits, started: float) -> tuple[str, bytes, bytes]:
    """Read stdout/stderr up to the cap; stop at the wall-clock limit."""
    chunks = {process.stdout: bytearray(), process.stderr: bytearray()}
    selector = selectors.DefaultSelector()
    for stream in chunks:
        selector.register(stream, selectors.EVENT_READ)
    status = "done"
    while selector.get_map():
        remaining = limits.wall_seconds - (time.monotonic() - started)
        if remaining <= 0:
            status = "timeout"
            break
        for key, _ in selector.select(timeout=remaining):
            data = os.read(key.fileobj.fileno(), 65536)
            if not data:
                selector.unregister(key.fileobj)
                continue
            chunks[key.fileobj] += data
            if sum(len(c) for c in chunks.values()) > limits.output_bytes:
                status = "output limit"
                break
        if status != "done":
            break
    selector.close()
    return status, bytes(chunks[process.stdout]), bytes(chunks[process.stderr])


def _finish(process: subprocess.Popen, status: str, out: bytes, err: bytes, started: float) -> Outcome:
    with contextlib.suppress(ProcessLookupError):  # the group may already be gone
        os.killpg(process.pid, signal.SIGKILL)  # the whole tree, whatever it started
    returncode = process.wait()
    if status == "done":
        status = "passed" if returncode == 0 else "failed"
    cap = lambda data: data[:4000].decode(errors="replace")  # noqa: E731
    return Outcome(status == "passed", status, returncode, cap(out), cap(err), round(time.monotonic() - started, 3))


def _run_isolated(code: bytes, limits: Limits) -> Outcome:
    started = time.monotonic()
    numbers = [limits.cpu_seconds, limits.memory_mb << 20, limits.file_mb << 20, limits.processes, limits.open_files, 0]
    process = subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", INSIDE, *map(str, numbers), sandbox_python()],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
        cwd="/",
        preexec_fn=_unshare_namespaces,
        start_new_session=True,
    )
    process.stdin.write(code)
    process.stdin.close()
    status, out, err = _collect(process, limits, started)
    return _finish(process, status, out, err, started)


def _run_unisolated(code: bytes, limits: Limits) -> Outcome:
    """Limits, timeout and a temporary directory only: network and file system stay reachable."""
    started = time.monotonic()

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb << 20,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb << 20,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

    with tempfile.TemporaryDirectory(prefix="harness-sandbox-") as work:
        with open(os.path.join(work, "main.py"), "wb") as handle:
            handle.write(code)
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", "main.py"],
            cwd=work,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            preexec_fn=limit,
            env={"PATH": "/usr/bin:/bin", "HOME": work, "LANG": "C.UTF-8"},
            start_new_session=True,
        )
        status, out, err = _collect(process, limits, started)
        return _finish(process, status, out, err, started)


def run_untrusted(code: str, limits: Limits = Limits(), accept_unisolated: bool = False) -> Outcome:
    """Run one program; its exit status says whether it passed."""
    available, why = isolation_available()
    if available:
        return _run_isolated(code.encode(), limits)
    if not accept_unisolated:
        raise SandboxUnavailable(
            f"cannot isolate generated code here ({why}); run as root, or set "
            f"sandbox_accept_unisolated=true to run it with network and without isolation"
        )
    return _run_unisolated(code.encode(), limits)
