"""The blog's timing conditions as `make bench` measured them (``outputs/bench/bench-<device>.json``).

The bench times both architectures at the blog's conditions (fp32, batch 32, default layout), each
with the device to itself; the runs' own timings are :mod:`.timing`'s. A file is named by its device
type (``bench-cuda``) and may hold step-mode rows measured on several device models (sessions on
different lent GPUs), so each row is grouped and labelled by the device model it records itself.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...paths import bench_results
from ..runs import BASELINE
from .reference import BLOG_POST, BLOG_TIMING_CONDITIONS, CONFIDENCE, OTHER, Reference
from .statistics import MeanInterval, ratio_interval
from .timing import Agreement, bottleneck_under, differences_from_blog, judge_slowdown

BENCH_STEP_MODES = ("eager", "cuda-graph")  # the step-mode rows set beside the blog (torch.compile's are not)


@dataclass(frozen=True)
class BenchTiming:
    """The blog's precision, batch and layout as `make bench` measured them on one device model, in one step mode."""

    baseline: str
    other: str
    device: str  # the device model the rows (or the file) record
    source: str  # the bench file and what was measured, in words
    step_mode: str
    bottleneck: str
    base_rate: float  # images/s, median of the timed samples
    other_rate: float
    base_samples: tuple[float, ...]  # images/s of each timed sample
    other_samples: tuple[float, ...]
    blog_differences: tuple[str, ...] = ()  # how it was timed otherwise than the blog's loop (its step mode), in words
    reference: Reference = BLOG_POST

    @property
    def time_ratio(self) -> float:
        """Other's time per image over the baseline's, from the medians."""
        return self.base_rate / self.other_rate

    @property
    def slowdown(self) -> float:
        return self.time_ratio - 1

    @property
    def slowdown_interval(self) -> MeanInterval | None:
        """The slowdown from the samples' geometric means, with Welch's interval on the log scale.

        Each architecture's samples were timed one after another, apart from the other's, so they are two
        independent samples, not pairs; their scatter is timing noise within the bench's process, not
        run-to-run variation. None without two samples of each.
        """
        if min(len(self.base_samples), len(self.other_samples)) < 2:
            return None
        ratio = ratio_interval(self.base_samples, self.other_samples, CONFIDENCE)
        return MeanInterval(ratio.mean - 1, ratio.low - 1, ratio.high - 1, ratio.n, ratio.confidence)

    @property
    def judged(self) -> bool:
        """Whether the blog's timing claim applies: the blog's pair, timed exactly as the blog's loop ran."""
        return self.reference.compares(self.baseline, self.other) and not self.blog_differences

    @property
    def agreement(self) -> Agreement:
        return judge_slowdown(self.slowdown_interval) if self.judged else Agreement.NOT_JUDGED


def at_blog_settings(row: Mapping[str, Any]) -> bool:
    """Whether a step-mode row was measured at the blog's precision, batch and layout, as the row records them."""
    return all(
        key in row and (bool(row[key]) if key == "channels_last" else row[key]) == value
        for key, value in BLOG_TIMING_CONDITIONS.items()
    )


def _samples(row: Mapping[str, Any]) -> tuple[float, ...]:
    return tuple(float(value) for value in row.get("samples", ()))


def _step_mode_timings(
    path: Path, bench: Mapping[str, Any], baseline: str, other: str, reference: Reference
) -> list[BenchTiming]:
    """One timing per device model and step mode among the file's rows at the blog's settings."""
    by_device: dict[tuple[str, str], dict[str, Mapping[str, Any]]] = {}
    for row in bench.get("step_modes", []):
        if isinstance(row, Mapping) and row.get("mode") in BENCH_STEP_MODES and at_blog_settings(row):
            device = row.get("device_name") or bench.get("device_name", path.stem)
            by_device.setdefault((device, row["mode"]), {})[row.get("arch")] = row
    result = []
    for (device, mode), by_arch in by_device.items():
        if baseline not in by_arch or other not in by_arch:
            continue
        base, oth = by_arch[baseline], by_arch[other]
        result.append(
            BenchTiming(
                baseline,
                other,
                device,
                f"{path.name}: the project loop's {mode} steps",
                mode,
                bottleneck_under(base.get("device", bench.get("device", "cpu")), mode, base["batch_size"]),
                base["images_per_second"],
                oth["images_per_second"],
                _samples(base),
                _samples(oth),
                differences_from_blog(base, mode),
                reference,
            )
        )
    return result


def _blog_loop_timing(
    path: Path, bench: Mapping[str, Any], baseline: str, other: str, reference: Reference
) -> BenchTiming | None:
    """The bench's run of the blog's own loop (eager), on the device model the file records."""
    architectures = bench.get("architectures", {})
    if baseline not in architectures or other not in architectures:
        return None
    base, oth = architectures[baseline], architectures[other]
    samples = [tuple(float(x) for x in arch.get("samples", {}).get("blog_loop", ())) for arch in (base, oth)]
    return BenchTiming(
        baseline,
        other,
        bench.get("device_name", path.stem),
        f"{path.name}: the blog's own loop (eager)",
        "eager",
        bottleneck_under(bench.get("device", "cpu"), "eager", reference.batch_size),
        base["blog_loop"],
        oth["blog_loop"],
        *samples,
        (),  # the blog's loop itself: fp32, batch 32, default layout, eager steps
        reference,
    )


def bench_timings(
    bench_dir: Path, baseline: str = BASELINE, other: str = OTHER, reference: Reference = BLOG_POST
) -> list[BenchTiming]:
    """The blog's conditions as `make bench` timed them (``bench-<device>.json``), one entry per device model and step mode.

    The step-mode rows measured at the blog's precision, batch and layout (as each row records them),
    eager and captured, grouped by the device model each row records; and, for a device model without
    such eager rows, the bench's run of the blog's own loop.
    """
    result: list[BenchTiming] = []
    for path in bench_results(Path(bench_dir)):  # not the quick checks of the machinery
        try:
            bench = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        rows = _step_mode_timings(path, bench, baseline, other, reference)
        result += rows
        loop = _blog_loop_timing(path, bench, baseline, other, reference)
        if loop is not None and not _has_eager(rows, loop.device):
            result.append(loop)
    return result


def _has_eager(timings: Sequence[BenchTiming], device: str) -> bool:
    return any(timing.device == device and timing.step_mode == "eager" for timing in timings)
