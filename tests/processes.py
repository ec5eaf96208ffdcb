"""Running the product as people do, from the tests: make, the planning CLI, and the processes
they start (make's process group, papermill's Jupyter kernels), with deadlines on every wait."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _make_command(args: tuple[str, ...], outputs: Path) -> list[str]:
    return ["make", "--no-print-directory", "-C", str(ROOT), *args, f"OUTPUTS={outputs}"]


def make(*args: str, outputs: Path, env: dict | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        _make_command(args, outputs),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def start_make(*args: str, outputs: Path, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        _make_command(args, outputs),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, so the test can kill all of it
        # Ctrl-C reaches a foreground command with SIGINT's default action; a suite started in the
        # background (`make test &`) inherits SIGINT ignored, which would make the Ctrl-C test meaningless.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env={**os.environ, **(env or {})},
    )


def kernel_pids(process: subprocess.Popen) -> list[int]:
    """The Jupyter kernels of a make started by start_make: children of its `archcompare.cli run` processes.

    A kernel runs in a session of its own, so signalling make's process group does not reach it.
    """
    runners = subprocess.run(
        ["pgrep", "-g", str(process.pid), "-f", "archcompare.cli run"], capture_output=True, text=True
    )
    return [
        int(pid)
        for parent in runners.stdout.split()
        for pid in subprocess.run(
            ["pgrep", "-P", parent, "-f", "ipykernel"], capture_output=True, text=True
        ).stdout.split()
    ]


def wait_gone(pids: list[int], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    for pid in pids:
        while Path(f"/proc/{pid}").exists() and "zombie" not in _state(pid):
            assert time.monotonic() < deadline, f"process {pid} still runs {timeout}s after it was stopped"
            time.sleep(0.1)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/status").read_text().split("State:")[1].split("\n")[0]
    except (OSError, IndexError):
        return "zombie"


def kill_group(process: subprocess.Popen, signum: int, kernels: str = "kill") -> str:
    """Signal make's process group; ``kernels="kill"`` also SIGKILLs its kernels, as a power cut would.

    Waits, with a deadline, until make has ended and its group and kernels are gone (make can end
    before the training process it started), so nothing trains on.
    """
    pids = kernel_pids(process)
    group = subprocess.run(["pgrep", "-g", str(process.pid)], capture_output=True, text=True).stdout.split()
    os.killpg(process.pid, signum)
    if kernels == "kill":
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
    output, _ = process.communicate(timeout=60)
    wait_gone(pids + [int(pid) for pid in group])
    return output


def finished_epochs(run_dir: Path) -> int:
    """The last epoch the checkpoint holds: what a resume continues from."""
    import torch

    return torch.load(run_dir / "checkpoint.pt", map_location="cpu", weights_only=True)["epoch"]


def inode(path: Path) -> int | None:
    return path.stat().st_ino if path.exists() else None


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 180, replacing: int | None = None) -> None:
    """Until ``path`` exists; with ``replacing`` (an inode), until a new file has been renamed over that one."""
    deadline = time.monotonic() + timeout
    while inode(path) in (None, replacing):
        assert process.poll() is None, f"make ended before {path} appeared:\n{process.stdout.read()}"
        assert time.monotonic() < deadline, f"{path} did not appear in {timeout}s"
        time.sleep(0.1)


LEARNING_COLUMNS = ("epoch", "lr", "train_loss", "train_acc", "test_loss", "test_acc")


def learning_history(run_dir: Path, columns: tuple[str, ...] | None = LEARNING_COLUMNS) -> list[dict[str, str]]:
    """A run's history.csv, a dict per epoch of its values as written (text): of ``columns``, or of every column
    (None). The default, the learning curve, leaves out the timings, which differ between two runs of one computation."""
    with open(run_dir / "history.csv") as f:
        rows = list(csv.DictReader(f))
    return rows if columns is None else [{k: row[k] for k in columns} for row in rows]


# Another process holding a run's lock while it "trains" for a while, as `archcompare.cli run` does.
HOLDER = """
import sys, time
from pathlib import Path
from archcompare.pipeline.locks import TRAINING, run_lock
with run_lock(Path(sys.argv[1]), TRAINING):
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def hold(run_dir: Path, seconds: float) -> subprocess.Popen:
    """A process in ``run_dir`` for ``seconds``, as a training would be: returned once it holds the lock."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_dir), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout.readline().strip() == "holding"
    return holder


def plan(profile: str, outputs: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    """`python -m archcompare.cli plan ...`, the step make runs first, called in this process.

    The same entry point and output as make's, without a new interpreter importing torch (3 s each).
    """
    from archcompare import cli

    saved_environment, saved_sigterm = dict(os.environ), signal.getsignal(signal.SIGTERM)
    os.environ.update({**env, "ARCHCOMPARE_OUTPUTS": str(outputs)})
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            status = cli.main(["plan", profile, *args])
    finally:
        os.environ.clear()
        os.environ.update(saved_environment)
        signal.signal(signal.SIGTERM, saved_sigterm)  # cli.main installs its own
    return subprocess.CompletedProcess(
        ["archcompare.cli", "plan", profile, *args], status, stdout.getvalue(), stderr.getvalue()
    )
