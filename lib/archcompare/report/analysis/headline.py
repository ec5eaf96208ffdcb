"""Each architecture at a glance: accuracy over seeds and training cost per device model.

The headline table and the README's result block show the same numbers, so both read them here.
Costs are kept per device model, never pooled across models: that would mix hardware in. The blog's
"about 1.3x" is set only beside a time measured as the blog's loop ran (:func:`blog_condition_timings`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from ...errors import ReportError
from ...paths import BENCH_DIR
from ..runs import RunResult, Runs
from .bench import bench_timings
from .pairs import compare_pair
from .reference import BLOG_POST, Reference


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


@dataclass(frozen=True)
class BlogConditionTiming:
    """The reference pair's time ratio measured exactly as the blog's loop ran, on a device model these runs used."""

    device: str
    time_ratio: float  # the slower architecture's time per image over the faster one's
    source: str  # "these runs" or the bench file it comes from
    bottleneck: str  # what limits the loop under these conditions on that device, in words


def blog_condition_timings(runs: Runs, reference: Reference = BLOG_POST) -> list[BlogConditionTiming]:
    """Timings of the reference's pair under its exact conditions (fp32, batch 32, default layout, eager steps).

    Either these runs' own (a `blog` profile's, timed alike), or `make bench`'s rows on a device model
    one of these runs was trained on: bench files are named per device type (``bench-cuda``), so the
    match is by the device model each bench row records (the file's, for its run of the blog's loop),
    never by the file's name.
    """
    faster, slower = reference.faster, reference.slower
    if not runs.of(faster) or not runs.of(slower):
        return []
    result = []
    try:
        pair = compare_pair(runs, faster, slower, reference)
    except ReportError:
        pair = None
    for group in pair.timings if pair else ():
        if group.judged:
            result.append(BlogConditionTiming(group.device, group.time_ratio, "these runs", group.bottleneck))
    devices = {run.record.env.device_name for run in runs.complete}
    for timing in bench_timings(runs.profile_dir.parent / BENCH_DIR, faster, slower, reference):
        if timing.judged and timing.device in devices:
            result.append(
                BlogConditionTiming(
                    timing.device, timing.time_ratio, f"`make bench`, {timing.source}", timing.bottleneck
                )
            )
    return result
