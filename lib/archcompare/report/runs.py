"""Loading a profile's runs: complete ones with their files, incomplete ones with what they hold."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.spec import CIFAR10_CLASSES
from ..errors import RecordError, ReportError
from ..record import RunRecord, read_record

BASELINE = "resnet50"  # the architecture every other is compared with, when a profile has it


@dataclass(frozen=True, eq=False)
class RunResult:
    """One complete run: its summary, per-epoch history and final test-set predictions."""

    directory: Path
    record: RunRecord
    history: pd.DataFrame
    labels: np.ndarray  # test labels, in the order the run evaluated them
    probabilities: np.ndarray  # (test images, classes)
    papermill: dict[str, Any] | None  # train.ipynb's metadata["papermill"], when papermill ran it
    reused_from: str | None = None  # the run directory it was copied from (an identical run of another profile)

    @property
    def arch(self) -> str:
        return self.record.arch

    @property
    def seed(self) -> int:
        return self.record.seed

    @property
    def label(self) -> str:
        return f"{self.arch} seed {self.seed}"

    @property
    def older_code(self) -> str | None:
        """Why it counts as made by older training code than the current; None if not."""
        return self.record.older_code

    @cached_property
    def correct(self) -> np.ndarray:
        """Per test image: did the final model classify it correctly (computed once: the report reads it often)."""
        return self.probabilities.argmax(1) == self.labels


@dataclass(frozen=True)
class IncompleteRun:
    """A run directory without a usable result, and what it does hold."""

    name: str
    directory: Path
    state: str  # e.g. "history through epoch 3 of 10, checkpoint present"


@dataclass(frozen=True, eq=False)
class Runs:
    """Everything under a profile directory: complete runs, incomplete ones, and planned ones not started."""

    profile_dir: Path
    plan: dict[str, Any] | None
    complete: tuple[RunResult, ...]
    incomplete: tuple[IncompleteRun, ...]
    missing: tuple[str, ...]  # run names plan.json lists that have no directory

    @property
    def profile(self) -> str:
        return (self.plan or {}).get("profile") or self.profile_dir.name

    @property
    def architectures(self) -> list[str]:
        """Architectures with complete runs: the baseline first, then in plan order, then by name."""
        planned = list((self.plan or {}).get("architectures", []))

        def order(arch: str) -> tuple:
            return (arch != BASELINE, planned.index(arch) if arch in planned else len(planned), arch)

        return sorted({run.arch for run in self.complete}, key=order)

    def of(self, arch: str) -> list[RunResult]:
        """The complete runs of one architecture, by seed."""
        return sorted((run for run in self.complete if run.arch == arch), key=lambda run: run.seed)

    @property
    def cifar10(self) -> bool:
        """Whether every complete run has CIFAR-10's classes (torchvision's copy or an image-folder copy)."""
        return bool(self.complete) and all(run.record.classes == CIFAR10_CLASSES for run in self.complete)


def load_runs(profile_dir: str | Path) -> Runs:
    """Read every run directory under ``profile_dir/runs`` and the profile's ``plan.json`` if present.

    Incomplete and damaged directories are collected with a description instead of stopping the
    report, so a report made while runs are still going shows what exists and says what is not.
    """
    profile_dir = Path(profile_dir)
    plan_path = profile_dir / "plan.json"
    plan = json.loads(plan_path.read_text()) if plan_path.exists() else None
    runs_dir = profile_dir / "runs"
    if plan is None and not runs_dir.is_dir():
        raise ReportError(f"{runs_dir} does not exist and there is no {plan_path}: nothing to report on")
    directories = (
        sorted(p for p in runs_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) if runs_dir.is_dir() else []
    )
    complete, incomplete = [], []
    for directory in directories:
        result = _read_run(directory)
        if isinstance(result, RunResult):
            complete.append(result)
        else:
            incomplete.append(IncompleteRun(directory.name, directory, result))
    _refuse_duplicates(complete)
    present = {directory.name for directory in directories}
    missing = tuple(name for name in (plan or {}).get("runs", []) if name not in present)
    return Runs(profile_dir, plan, tuple(complete), tuple(incomplete), missing)


def _read_run(directory: Path) -> RunResult | str:
    """The run's result, or a description of why there is none."""
    summary_path = directory / "summary.json"
    if not summary_path.exists():
        return _describe_incomplete(directory)
    absent = [name for name in ("history.csv", "predictions.npz") if not (directory / name).exists()]
    if absent:
        return f"summary.json present but {' and '.join(absent)} missing: the directory is damaged; run it again"
    try:
        record = read_record(summary_path)
        history = pd.read_csv(directory / "history.csv")
        with np.load(directory / "predictions.npz") as predictions:
            labels, probabilities = predictions["labels"], predictions["probabilities"]
    except (OSError, ValueError, KeyError, RecordError) as error:
        return f"unreadable ({type(error).__name__}: {error}); run it again"
    notebook = directory / "train.ipynb"
    papermill = _papermill_metadata(notebook) if notebook.exists() else None
    reused = directory / "reused.json"
    reused_from = json.loads(reused.read_text()).get("from") if reused.exists() else None
    return RunResult(directory, record, history, labels, probabilities, papermill, reused_from)


def _papermill_metadata(notebook: Path) -> dict[str, Any] | None:
    try:
        return json.loads(notebook.read_text()).get("metadata", {}).get("papermill")
    except (OSError, ValueError):
        return None


def _describe_incomplete(directory: Path) -> str:
    parts = []
    history_path = directory / "history.csv"
    planned = _planned_epochs(directory)
    of_planned = f" of {planned}" if planned else ""
    if history_path.exists():
        try:
            epochs = pd.read_csv(history_path)["epoch"]
            parts.append(f"history through epoch {int(epochs.max())}{of_planned}" if len(epochs) else "empty history")
        except (OSError, ValueError, KeyError):
            parts.append("history.csv unreadable")
    else:
        parts.append(f"no finished epoch{of_planned}")
    parts.append("checkpoint present" if (directory / "checkpoint.pt").exists() else "no checkpoint")
    if (directory / "predictions.npz").exists():
        parts.append("predictions written but no summary.json")
    parts.extend(f"failed notebook {path.name}" for path in sorted(directory.glob("*.failed.ipynb")))
    papermill = _papermill_metadata(directory / "train.ipynb") if (directory / "train.ipynb").exists() else None
    if papermill and papermill.get("exception"):
        parts.append("train.ipynb recorded an exception")
    return ", ".join(parts)


def _planned_epochs(directory: Path) -> int | None:
    """The epochs a run was started with, from its parameter file or notebook, where either says."""
    import yaml

    sources = []
    if (directory / "params.yaml").exists():
        try:
            sources.append(yaml.safe_load((directory / "params.yaml").read_text()))
        except (OSError, yaml.YAMLError):
            pass
    papermill = _papermill_metadata(directory / "train.ipynb") if (directory / "train.ipynb").exists() else None
    if papermill:
        sources.append(papermill.get("parameters"))
    for source in sources:
        if isinstance(source, Mapping):
            for candidate in (source, source.get("parameters")):
                if isinstance(candidate, Mapping) and isinstance(candidate.get("epochs"), int):
                    return candidate["epochs"]
    return None


def _refuse_duplicates(complete: Sequence[RunResult]) -> None:
    seen: dict[tuple[str, int], Path] = {}
    for run in complete:
        key = (run.arch, run.seed)
        if key in seen:
            raise ReportError(
                f"two run directories hold {run.label}: {seen[key]} and {run.directory}; "
                "a seed must appear once per architecture, so remove or move one of them"
            )
        seen[key] = run.directory
