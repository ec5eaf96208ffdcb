"""One process at a time in a run directory: training it, removing its results, or reading it for the report.

Two ``make report`` commands started together in one clone (or two Slurm array tasks on a shared
file system) would otherwise both train a run into the same directory, each replacing the other's
files. Granularity, kept simple:

- training (``execute``) holds its run's lock for the whole run; a second process that wants the
  same run says so in one line, waits, and then uses the result instead of training again;
- ``plan`` holds a run's lock while it removes that run's out-of-date results or copies a reused
  run into it, one run at a time;
- rendering holds the locks of every run of the profile, taken in name order, so a report never
  reads a run that is being written. Every other holder takes one lock only, so no two processes
  can wait on each other.

The lock is ``filelock.FileLock``: ``flock`` on ``<outputs>/<profile>/.locks/<run>.lock``, which the
operating system releases when its holder ends, also when it is killed (kill -9, the OOM killer).
On a network file system it holds across machines only where the server's lock manager works:
NFS clients emulate ``flock`` with byte-range locks, which need NLM (NFSv3) or NFSv4, and a mount
with ``nolock`` keeps each machine's locks to itself. The holder writes its pid, host and activity
to ``<run>.owner`` beside the lock, so that a waiting process can say who it waits for.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from ..files import write_text

LOCKS = ".locks"  # per profile, beside runs/ (not in it: runs/ holds run directories only)
# What a holder is doing, as "another process is ...".
TRAINING = "training it"
REMOVING = "removing its out-of-date results"
COPYING = "copying a reused run into it"
RENDERING = "rendering the profile's report from it"


def lock_file(run_dir: Path) -> Path:
    """The lock of a run directory ``<profile>/runs/<run>``: ``<profile>/.locks/<run>.lock``."""
    run_dir = Path(run_dir)
    return run_dir.parent.parent / LOCKS / f"{run_dir.name}.lock"


def run_label(run_dir: Path) -> str:
    run_dir = Path(run_dir)
    return f"{run_dir.parent.parent.name}/{run_dir.name}"


@contextmanager
def run_lock(run_dir: Path, doing: str, log: Callable[[str], None] = print) -> Iterator[bool]:
    """Hold the lock of ``run_dir`` while ``doing`` (one of the activities above) to it.

    When another process holds it, logs one line naming the run, that process's pid and what it
    does, then waits for it. Yields whether it waited.
    """
    from filelock import FileLock

    path = lock_file(run_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path)
    waited = not _taken(lock, timeout=0) and _wait_for_holder(lock, path, run_label(run_dir), log)
    owner = _owner_file(path)
    try:
        write_text(owner, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "doing": doing}) + "\n")
        yield waited
    finally:
        owner.unlink(missing_ok=True)  # before the release: a waiter never reads a finished holder's file
        lock.release()


@contextmanager
def profile_runs_locked(profile_dir: Path, doing: str, log: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the lock of every run directory of a profile, taken in name order (see the module)."""
    runs = profile_dir / "runs"
    with ExitStack() as stack:
        for run_dir in sorted(p for p in runs.iterdir() if p.is_dir()) if runs.is_dir() else []:
            stack.enter_context(run_lock(run_dir, doing, log))
        yield


def holder(path: Path) -> str | None:
    """Who holds a lock and what it does, from the holder's side file: "another process (pid 123) is training it".

    None while the holder has not written its file yet, or when the file names a process of this
    machine that has ended (a holder killed before it could remove its file).
    """
    try:
        owner = json.loads(_owner_file(path).read_text())
        pid, host, doing = int(owner["pid"]), str(owner["host"]), str(owner["doing"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if host != socket.gethostname():
        return f"another process (pid {pid} on {host}) is {doing}"
    return f"another process (pid {pid}) is {doing}" if _alive(pid) else None


def _wait_for_holder(lock, path: Path, label: str, log: Callable[[str], None]) -> bool:
    """Take a lock another process holds, after one line saying who that is; False when it was free again at once."""
    # The holder names itself in its side file just after it took the lock: give it a moment (2 s).
    for _ in range(20):
        who = holder(path)
        if who is not None:
            break
        if _taken(lock, timeout=0.1):
            return False
    log(f"{label}: {who or 'another process (pid unknown) is using it'}; waiting for it to finish")
    lock.acquire()
    return True


def _taken(lock, timeout: float) -> bool:
    from filelock import Timeout

    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        return False
    return True


def _owner_file(path: Path) -> Path:
    return path.with_suffix(".owner")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
