"""Where a result came from: code version, software, hardware and data identity.

Also the small file helpers every artifact goes through: a file is written to a temporary name
in its own directory and renamed into place, so a reader never sees half of one.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import os
import platform
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parents[1]  # lib/archcompare -> the repository, for an editable install

TRAINING_CODE_VERSION = 1  # raise when what training computes changes (tests/golden.py says when)

# The modules whose code decides what a training run computes. A change to any of them makes
# existing runs out of date; report and benchmark code does not.
TRAINING_MODULES = ("config.py", "data.py", "models.py", "training.py", "metrics.py")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def code_fingerprint() -> str:
    """sha256 prefix of the training modules' source."""
    digest = hashlib.sha256()
    for name in TRAINING_MODULES:
        digest.update(name.encode())
        digest.update((PACKAGE_DIR / name).read_bytes())
    return digest.hexdigest()[:16]


def git_state(directory: Path = PACKAGE_DIR) -> dict[str, Any]:
    """The commit checked out and whether tracked files differ from it; None outside a repository."""

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    # A launcher that copies the working tree to another machine, where .git may be an older
    # snapshot, states the commit it copied (tools/gpu_session.sh does): record that one.
    stated = os.environ.get("ARCHCOMPARE_GIT_COMMIT")
    if stated:
        commit, dirty = stated.split(" ", 1) if " " in stated else (stated, "")
        return {"git_commit": commit, "git_dirty": dirty == "dirty", "git_commit_stated_by_launcher": True}
    commit = git("rev-parse", "HEAD")
    # Only the code counts as dirty: results being written under outputs/ are not a code change.
    code = ("lib", "notebooks", "pyproject.toml", "requirements.txt", "Makefile")
    status = git("-C", str(REPO_DIR), "status", "--porcelain", "--untracked-files=no", "--", *code) if commit else None
    return {"git_commit": commit, "git_dirty": bool(status) if status is not None else None}


def environment(device: torch.device) -> dict[str, Any]:
    """Software and hardware facts for the run's summary."""
    # Imported here, not at the top: the steps that only start a notebook or render the report
    # (`cli run`, `cli render`) import this module, and need no torch of their own.
    import torch
    import torchvision

    cuda = device.type == "cuda"
    return {
        **git_state(),
        "code_fingerprint": code_fingerprint(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if cuda else _cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "platform": platform.platform(),
        # The GPU a run was pinned to (make GPUS=...), as the run's process saw it.
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "trained_by": os.environ.get("ARCHCOMPARE_TRAINED_BY", "direct call of archcompare.training.train"),
    }


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_atomic(path: str | os.PathLike, write: Callable[[Any], None], binary: bool = False) -> None:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600 files; give them the usual mode
    try:
        with os.fdopen(handle, "wb" if binary else "w") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


@functools.cache
def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_json(path: str | os.PathLike, value: Any) -> None:
    write_atomic(path, lambda file: json.dump(value, file, indent=2, sort_keys=True, default=_json_default))


def _json_default(value: Any) -> Any:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in JSON")
