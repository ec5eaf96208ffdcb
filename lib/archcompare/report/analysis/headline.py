"""Each architecture at a glance: accuracy over seeds and training cost per device model.

The headline table and the README's result block show the same numbers, so both read them here.
Costs are kept per device model, never pooled across models: that would mix hardware in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ..runs import RunResult, Runs


@dataclass(frozen=True)
class ArchitectureSummary:
    arch: str
    seeds: int
    accuracy_mean: float  # final-epoch test accuracy (fraction), mean over seeds
    accuracy_sd: float | None  # sample standard deviation over seeds; None with one seed
    seconds_per_epoch: Mapping[str, float]  # per device model: the mean over its runs
    images_per_second: Mapping[str, float]
    time_vs_baseline: Mapping[
        str, float
    ]  # per device model both were timed on: mean seconds per epoch over the baseline's


def _devices(members: list[RunResult]) -> dict[str, list[RunResult]]:
    devices: dict[str, list[RunResult]] = {}
    for run in members:
        devices.setdefault(run.record.env.device_name, []).append(run)
    return devices


def _per_device(members: list[RunResult], value: Callable[[RunResult], float]) -> dict[str, float]:
    return {device: float(np.mean([value(run) for run in runs])) for device, runs in _devices(members).items()}


def summarise(runs: Runs, baseline: str | None) -> list[ArchitectureSummary]:
    """One summary per architecture, in the runs' order; times relative to ``baseline``'s on the same device model."""
    base = _per_device(runs.of(baseline), lambda run: run.record.timing.seconds_per_epoch) if baseline else {}
    result = []
    for arch in runs.architectures:
        members = runs.of(arch)
        accuracies = np.array([run.record.test_acc for run in members])
        seconds = _per_device(members, lambda run: run.record.timing.seconds_per_epoch)
        result.append(
            ArchitectureSummary(
                arch=arch,
                seeds=len(members),
                accuracy_mean=float(accuracies.mean()),
                accuracy_sd=float(accuracies.std(ddof=1)) if len(accuracies) > 1 else None,
                seconds_per_epoch=seconds,
                images_per_second=_per_device(members, lambda run: run.record.timing.images_per_second),
                time_vs_baseline={device: seconds[device] / base[device] for device in seconds if device in base},
            )
        )
    return result
