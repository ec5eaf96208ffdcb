"""Where a result came from: the training code's version, software, hardware and the git state.

What a run computes is identified by ``TRAINING_CODE_VERSION``, raised by hand when the computation
changes, and pinned by the golden run (``tests/golden.py``, ``make golden``): a refactor that keeps
the golden run identical keeps every published run current, while a change of the numbers fails the
golden test until the version is raised, which then flags the runs made before it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import platform
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_DIR = PACKAGE_DIR.parents[1]  # lib/archcompare -> the repository, for an editable install

# Raise by one when what training computes changes (the golden test fails until you do), then
# `make golden`. Version 1 is the computation of commit d2f782e (source fingerprint 30adcccf7de18a84).
TRAINING_CODE_VERSION = 1
# Runs recorded before versions existed carry a fingerprint of the training modules' source instead.
# Those whose code the golden run showed to compute version 1 map to it; any other is older.
LEGACY_SOURCE_FINGERPRINTS = {"30adcccf7de18a84": 1}
BEFORE_VERSIONS = 0  # the version of a legacy run whose fingerprint is not in the table above
# The source that makes up the training path; hashed for the record, never compared for staleness.
TRAINING_SOURCES = ("architectures.py", "config.py", "models.py", "metrics.py", "data", "training")


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def source_fingerprint() -> str:
    """sha256 prefix of the training path's source: which text ran, beside the version it computes."""
    digest = hashlib.sha256()
    for name in TRAINING_SOURCES:
        path = PACKAGE_DIR / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(str(file.relative_to(PACKAGE_DIR)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def legacy_code_version(fingerprint: str | None) -> int:
    """The version a run recorded with a source fingerprint (before versions) computes."""
    return LEGACY_SOURCE_FINGERPRINTS.get(fingerprint or "", BEFORE_VERSIONS)


def older_code_reason(code_version: int, source: str | None = None) -> str | None:
    """Why a run counts as made by an older version of the training code than the current one, or None."""
    if code_version >= TRAINING_CODE_VERSION:
        return None
    if code_version == BEFORE_VERSIONS:
        made = f"training code from before version 1 (source fingerprint {source})"
    else:
        made = f"training code version {code_version}"
    return f"trained by an older version of the training code: {made}, now version {TRAINING_CODE_VERSION}"


# Where a launcher that copies the working tree to another machine (whose .git may be an older
# snapshot) states the commit it copied, as "<sha> [dirty]" (tools/gpu_session.sh does).
LAUNCHER_COMMIT_VARIABLE = "ARCHCOMPARE_GIT_COMMIT"


def git_state(directory: Path = PACKAGE_DIR) -> dict[str, Any]:
    """The commit checked out and whether tracked code differs from it; None outside a repository."""
    stated = os.environ.get(LAUNCHER_COMMIT_VARIABLE)
    if stated:
        commit, _, dirty = stated.partition(" ")
        return {"git_commit": commit, "git_dirty": dirty == "dirty", "git_commit_stated_by_launcher": True}

    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", *args], cwd=directory, capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    # Only the code counts as dirty: results being written under outputs/ are not a code change.
    code = ("lib", "notebooks", "pyproject.toml", "requirements.txt", "Makefile")
    status = git("-C", str(REPO_DIR), "status", "--porcelain", "--untracked-files=no", "--", *code) if commit else None
    return {
        "git_commit": commit,
        "git_dirty": bool(status) if status is not None else None,
        "git_commit_stated_by_launcher": False,
    }


def environment(device: torch.device) -> dict[str, Any]:
    """Software and hardware facts for the run's record."""
    # Imported here, not at the top: the steps that only start a notebook or render the report
    # (`cli run`, `cli render`) import this module, and need no torch of their own.
    import torch
    import torchvision

    cuda = device.type == "cuda"
    return {
        **git_state(),
        "code_version": TRAINING_CODE_VERSION,
        "source_fingerprint": source_fingerprint(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "cuda": torch.version.cuda if cuda else None,
        "cudnn": torch.backends.cudnn.version() if cuda else None,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if cuda else cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "platform": platform.platform(),
        # The GPU a run was pinned to (make GPUS=...), as the run's process saw it.
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
    }


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
