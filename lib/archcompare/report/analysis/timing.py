"""Training time compared by seed: timing groups (runs timed alike), their slowdowns, and wall times.

Timings from different device models or step modes measure different things (the hardware, or what
limits the loop), so they are never pooled; the blog's "about 30 % slower" is judged only on
timings made under its conditions (:data:`.reference.BLOG_TIMING_CONDITIONS`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from ..runs import RunResult, Runs
from .recipe import run_setting
from .reference import (
    BLOG_POST,
    BLOG_STEP_MODE,
    BLOG_TIMING_CONDITIONS,
    CONFIDENCE,
    SCATTER_FACTOR,
    SLOWDOWN_AGREEMENT,
    Reference,
)
from .statistics import MeanInterval, mean_confidence_interval


class Agreement(Enum):
    """The measured slowdown against the blog's "about 30 %"."""

    AGREES = "agrees"
    DISAGREES = "does not agree"
    UNDECIDED = "undecided"
    NOT_JUDGED = "not judged"  # not the blog's pair, or not timed under the blog's conditions


def judge_slowdown(interval: MeanInterval | None) -> Agreement:
    """A slowdown's interval against the blog's "about 30 %" band; one measurement cannot decide."""
    low, high = SLOWDOWN_AGREEMENT
    if interval is None:
        return Agreement.UNDECIDED
    if low <= interval.low and interval.high <= high:
        return Agreement.AGREES
    if interval.high < low or interval.low > high:
        return Agreement.DISAGREES
    return Agreement.UNDECIDED


class BandPosition(Enum):
    """Where one measured slowdown falls against the blog's band (:data:`.reference.SLOWDOWN_AGREEMENT`)."""

    ABOVE = "above"
    BELOW = "below"
    INSIDE = "inside"


def band_position(slowdown: float) -> BandPosition:
    low, high = SLOWDOWN_AGREEMENT
    return BandPosition.ABOVE if slowdown > high else BandPosition.BELOW if slowdown < low else BandPosition.INSIDE


@dataclass(frozen=True)
class EpochScatter:
    """A run whose epoch times scatter: some epoch took more than SCATTER_FACTOR times its median epoch.

    On a shared or loaded machine one epoch can take several times the others; the run's seconds per
    epoch (from its median epoch) and every ratio made from it then carry that load.
    """

    label: str
    median_seconds: float
    slow_epochs: tuple[tuple[int, float], ...]  # (epoch, seconds) of each epoch above the factor


def epoch_scatter(run: RunResult, factor: float = SCATTER_FACTOR) -> EpochScatter | None:
    """The run's epochs above ``factor`` times its median epoch; None when there is none (or no epoch time)."""
    history = run.history
    if "epoch_seconds" not in history:
        return None
    timed = history[history["epoch_seconds"] > 0]
    if timed.empty:
        return None
    median = float(timed["epoch_seconds"].median())
    slow = timed[timed["epoch_seconds"] > factor * median]
    if slow.empty:
        return None
    return EpochScatter(
        run.label,
        median,
        tuple((int(epoch), float(seconds)) for epoch, seconds in zip(slow["epoch"], slow["epoch_seconds"])),
    )


@dataclass(frozen=True)
class TimingGroup:
    """Paired seeds whose two runs were timed alike: one device model, one step mode, the GPU to themselves.

    Timings from different device models or step modes measure different things (the hardware, or
    what limits the loop), so they are never pooled into one ratio or interval; runs that shared
    their device with other runs are in no group at all.
    """

    baseline: str
    other: str
    device: str
    step_mode: str
    conditions: str  # device, precision, batch size, layout and step mode
    bottleneck: str  # what limits the loop under these conditions, in words
    blog_differences: tuple[str, ...]  # how the conditions differ from the blog's loop, in words; () when they do not
    seeds: tuple[int, ...]
    base_seconds: tuple[float, ...]  # per seed: seconds per epoch
    other_seconds: tuple[float, ...]
    base_rates: tuple[float, ...]  # per seed: training images per second
    other_rates: tuple[float, ...]
    epoch_slowdowns: tuple[float, ...]  # per epoch of every seed: other's seconds over the baseline's, minus 1
    reference: Reference = BLOG_POST
    scattered: tuple[tuple[int, EpochScatter], ...] = ()  # (seed, run) for each run whose epoch times scatter

    @property
    def time_ratio(self) -> float:
        """Other's mean seconds per epoch over the baseline's."""
        return float(np.mean(self.other_seconds) / np.mean(self.base_seconds))

    @property
    def slowdown(self) -> float:
        return self.time_ratio - 1

    @property
    def throughput_ratio(self) -> float:
        """Other's mean images/s over the baseline's: below 1 means fewer images per second."""
        return float(np.mean(self.other_rates) / np.mean(self.base_rates))

    @property
    def epoch_slowdown_range(self) -> tuple[float, float] | None:
        """The lowest and highest slowdown of one epoch over another; None without per-epoch times."""
        return (min(self.epoch_slowdowns), max(self.epoch_slowdowns)) if self.epoch_slowdowns else None

    @property
    def seed_slowdowns(self) -> tuple[float, ...]:
        return tuple(o / b - 1 for o, b in zip(self.other_seconds, self.base_seconds))

    @property
    def slowdown_interval(self) -> MeanInterval | None:
        """t-interval of the mean per-seed slowdown over every seed; None with fewer than two seeds in the group."""
        if len(self.seeds) < 2:
            return None
        return mean_confidence_interval(np.array(self.seed_slowdowns), CONFIDENCE)

    @property
    def scattered_seeds(self) -> tuple[int, ...]:
        """Seeds with a run whose epoch times scatter (:class:`EpochScatter`)."""
        return tuple(dict.fromkeys(seed for seed, _ in self.scattered))

    @property
    def steady_seeds(self) -> tuple[int, ...]:
        return tuple(seed for seed in self.seeds if seed not in self.scattered_seeds)

    @property
    def steady_slowdown_interval(self) -> MeanInterval | None:
        """The interval without the seeds whose runs' epoch times scatter; None without such seeds or two others."""
        steady = self.steady_seeds
        if not self.scattered or len(steady) < 2:
            return None
        slowdowns = [slowdown for seed, slowdown in zip(self.seeds, self.seed_slowdowns) if seed in steady]
        return mean_confidence_interval(np.array(slowdowns), CONFIDENCE)

    @property
    def judged_interval(self) -> MeanInterval | None:
        """The interval the blog's claim is judged on: without runs whose epoch times scatter, when there are any."""
        return self.steady_slowdown_interval if self.scattered else self.slowdown_interval

    @property
    def judged(self) -> bool:
        """Whether the blog's timing claim applies: the blog's pair, timed exactly as the blog's loop ran
        (:data:`.reference.BLOG_TIMING_CONDITIONS` and eager steps): no condition differs."""
        return self.reference.compares(self.baseline, self.other) and not self.blog_differences

    @property
    def agreement(self) -> Agreement:
        """Judged on the interval over seeds: one timed run per architecture gives no estimate of how
        much the time of a run varies (machine load changes between runs), so it is undecided however
        its single ratio falls. Runs whose epoch times scatter are left out of the interval judged."""
        return judge_slowdown(self.judged_interval) if self.judged else Agreement.NOT_JUDGED


def _timing_key(run: RunResult) -> tuple:
    """What a training time depends on besides the model: device model, step mode, precision, batch, layout."""
    return (
        run.record.env.device_name,
        run.record.env.step_mode,
        run.record.env.precision,
        run.record.config.get("batch_size"),
        bool(run.record.config.get("channels_last")),
    )


def timing_groups(
    paired: list[tuple[int, RunResult, RunResult]], baseline: str, other: str, reference: Reference
) -> tuple[tuple[TimingGroup, ...], tuple[str, ...]]:
    groups: dict[tuple, list[tuple[int, RunResult, RunResult]]] = {}
    excluded = []
    for seed, a, b in paired:
        shared = [run for run in (a, b) if run.record.env.device_shared_by > 1]
        if shared:
            excluded.append(
                f"seed {seed}: "
                + ", ".join(
                    f"{run.label} shared its device with {run.record.env.device_shared_by - 1} other run(s)"
                    for run in shared
                )
            )
        elif _timing_key(a) != _timing_key(b):
            differ = [
                name
                for name, x, y in zip(
                    ("device", "step mode", "precision", "batch", "layout"), _timing_key(a), _timing_key(b)
                )
                if x != y
            ]
            excluded.append(f"seed {seed}: its two runs were timed under different {' and '.join(differ)}")
        else:
            groups.setdefault(_timing_key(a), []).append((seed, a, b))
    result = []
    for (device, step_mode, *_), members in groups.items():
        timed = [run for _, a, b in members for run in (a, b)]
        result.append(
            TimingGroup(
                baseline=baseline,
                other=other,
                device=device,
                step_mode=step_mode,
                conditions=timing_conditions(timed),
                bottleneck=bottleneck(timed[0]),
                blog_differences=blog_differences(timed[0]),  # one group: one device, step mode, precision, ...
                seeds=tuple(seed for seed, _, _ in members),
                base_seconds=tuple(a.record.timing.seconds_per_epoch for _, a, _ in members),
                other_seconds=tuple(b.record.timing.seconds_per_epoch for _, _, b in members),
                base_rates=tuple(a.record.timing.images_per_second for _, a, _ in members),
                other_rates=tuple(b.record.timing.images_per_second for _, _, b in members),
                epoch_slowdowns=tuple(float(x) for _, a, b in members for x in epoch_slowdowns(a, b)),
                reference=reference,
                scattered=tuple(
                    (seed, scatter)
                    for seed, a, b in members
                    for scatter in (epoch_scatter(a), epoch_scatter(b))
                    if scatter is not None
                ),
            )
        )
    return tuple(result), tuple(excluded)


def blog_differences(run: RunResult) -> tuple[str, ...]:
    """How a run was timed otherwise than the blog's loop ran, in words (:func:`differences_from_blog`)."""
    return differences_from_blog(
        {key: run_setting(run, key) for key in BLOG_TIMING_CONDITIONS}, run.record.env.step_mode
    )


def differences_from_blog(settings: Mapping[str, Any], step_mode: str) -> tuple[str, ...]:
    """How a timing's conditions differ from the blog's loop (fp32, batch 32, default layout, eager steps), in
    words: ``("bf16", "batch 512", "channels_last")``; empty when it was timed exactly as that loop ran.

    ``settings`` are a run's or a bench row's precision (as resolved), batch size and layout; a layout
    not recorded counts as the default one, as :func:`_timing_key` groups it.
    """
    differences = []
    for key, blog in BLOG_TIMING_CONDITIONS.items():
        value = bool(settings.get(key)) if key == "channels_last" else settings.get(key)
        if value != blog:
            words = {"batch_size": f"batch {value}", "channels_last": "channels_last" if value else "default layout"}
            differences.append(words.get(key, str(value)))
    if step_mode != BLOG_STEP_MODE:
        differences.append(f"{step_mode} steps")
    return tuple(differences)


# Below this batch an eager CUDA step is bound by Python dispatch and kernel launches, not by the GPU:
# on the H200, ResNet-50's bare forward and backward ran no faster per image at batch 32 than the
# whole loop did (outputs/bench/bench-cuda.md), a tenth of its rate at batch 512.
DISPATCH_BOUND_BATCH = 64


def bottleneck(run: RunResult) -> str:
    """What limits the training loop under a run's conditions, in words."""
    return bottleneck_under(run.record.env.device, run.record.env.step_mode, run.record.config.get("batch_size") or 0)


def bottleneck_under(device: str, step_mode: str, batch_size: int) -> str:
    if device != "cuda":
        return "bound by the CPU's arithmetic"
    if "cuda-graph" in step_mode:
        return "captured steps (CUDA graphs): bound by the GPU's arithmetic, not by dispatch"
    if batch_size <= DISPATCH_BOUND_BATCH:
        return f"eager steps at batch {batch_size}: bound by Python dispatch and kernel launches, not by the GPU"
    return f"eager steps at batch {batch_size}: mostly bound by the GPU's arithmetic"


def timing_conditions(runs_timed: list[RunResult]) -> str:
    """'NVIDIA H200, bf16, batch 512, channels_last': what the timings depend on besides the model."""
    parts = []
    for describe in (
        lambda run: run.record.env.device_name,
        lambda run: run.record.env.precision,
        lambda run: f"batch {run.record.config.get('batch_size')}",
        lambda run: "channels_last" if run.record.config.get("channels_last") else "default (NCHW) layout",
        lambda run: f"{run.record.env.step_mode} steps" if run.record.env.step_mode != "eager" else "",
    ):
        parts.append(" / ".join(dict.fromkeys(describe(run) for run in runs_timed)))
    return ", ".join(part for part in parts if part)


def epoch_slowdowns(base: RunResult, other: RunResult) -> np.ndarray:
    """Per epoch both runs recorded: other's seconds over the baseline's, minus 1."""
    merged = base.history[["epoch", "epoch_seconds"]].merge(
        other.history[["epoch", "epoch_seconds"]], on="epoch", suffixes=("_base", "_other")
    )
    merged = merged[(merged["epoch_seconds_base"] > 0) & (merged["epoch_seconds_other"] > 0)]
    return (merged["epoch_seconds_other"] / merged["epoch_seconds_base"] - 1).to_numpy()


@dataclass(frozen=True)
class WallTime:
    """How long the runs trained on one device model took, wall time including data loading and evaluation."""

    device: str
    runs: int
    total_minutes: float
    minutes: Mapping[str, tuple[float, ...]]  # per architecture with runs on the device: each run's minutes


def wall_times(runs: Runs) -> list[WallTime]:
    """Per device model, in the order the runs name them; a reused run was copied, not trained, so it took no time here."""
    devices: dict[str, list[RunResult]] = {}
    for run in runs.complete:
        if not run.reused_from:
            devices.setdefault(run.record.env.device_name, []).append(run)
    result = []
    for device, members in devices.items():
        minutes = {
            arch: tuple(run.record.timing.wall_seconds / 60 for run in members if run.arch == arch)
            for arch in runs.architectures
        }
        total = sum(run.record.timing.wall_seconds for run in members) / 60
        result.append(WallTime(device, len(members), total, {arch: m for arch, m in minutes.items() if m}))
    return result
