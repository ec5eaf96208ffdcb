"""The blog's timing conditions as `make bench` measured them (``outputs/bench/bench-<device>.json``).

The bench times both architectures at the blog's conditions (fp32, batch 32, default layout), each
with the device to itself; the runs' own timings are :mod:`.timing`'s.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...paths import bench_results
from ..runs import BASELINE
from .reference import BLOG_POST, CONFIDENCE, OTHER, Reference
from .statistics import MeanInterval, mean_confidence_interval
from .timing import Agreement, bottleneck_under, judge_slowdown


@dataclass(frozen=True)
class BenchTiming:
    """The blog's conditions (fp32, batch 32, default layout) as `make bench` measured them on one device."""

    baseline: str
    other: str
    device: str
    source: str  # the bench file and what was measured, in words
    step_mode: str
    bottleneck: str
    base_rate: float  # images/s, median of the repeats
    other_rate: float
    repeat_ratios: tuple[float, ...]  # per interleaved repeat: baseline's images/s over other's (a time ratio)
    reference: Reference = BLOG_POST

    @property
    def time_ratio(self) -> float:
        return self.base_rate / self.other_rate

    @property
    def slowdown(self) -> float:
        return self.time_ratio - 1

    @property
    def slowdown_interval(self) -> MeanInterval | None:
        if len(self.repeat_ratios) < 2:
            return None
        return mean_confidence_interval(np.array(self.repeat_ratios) - 1, CONFIDENCE)

    @property
    def agreement(self) -> Agreement:
        return judge_slowdown(self.slowdown_interval)


def bench_timings(
    bench_dir: Path, baseline: str = BASELINE, other: str = OTHER, reference: Reference = BLOG_POST
) -> list[BenchTiming]:
    """The blog's conditions as `make bench` timed them (``bench-<device>.json``), one entry per device and step mode.

    The step-mode rows (eager and captured, fp32, batch 32, default layout) when the bench has them;
    otherwise its run of the blog's own loop, whose interleaved repeats give an interval.
    """
    result = []
    for path in bench_results(Path(bench_dir)):  # not the quick checks of the machinery
        try:
            bench = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        device, kind = bench.get("device_name", path.stem), bench.get("device", "cpu")
        rows = [
            row
            for row in bench.get("step_modes", [])
            if str(row.get("condition", "")).startswith("blog") and row.get("mode") in ("eager", "cuda-graph")
        ]
        modes = {}
        for row in rows:
            modes.setdefault(row["mode"], {})[row["arch"]] = row
        for mode, by_arch in modes.items():
            if baseline in by_arch and other in by_arch:
                batch = by_arch[baseline].get("batch_size", reference.batch_size)
                result.append(
                    BenchTiming(
                        baseline,
                        other,
                        device,
                        f"{path.name}: the project loop's {mode} steps",
                        mode,
                        bottleneck_under(kind, mode, batch),
                        by_arch[baseline]["images_per_second"],
                        by_arch[other]["images_per_second"],
                        (),
                        reference,
                    )
                )
        architectures = bench.get("architectures", {})
        if "eager" not in modes and baseline in architectures and other in architectures:
            base, oth = architectures[baseline], architectures[other]
            samples = zip(base.get("samples", {}).get("blog_loop", []), oth.get("samples", {}).get("blog_loop", []))
            result.append(
                BenchTiming(
                    baseline,
                    other,
                    device,
                    f"{path.name}: the blog's own loop (eager), interleaved repeats",
                    "eager",
                    bottleneck_under(kind, "eager", reference.batch_size),
                    base["blog_loop"],
                    oth["blog_loop"],
                    tuple(x / y for x, y in samples),
                    reference,
                )
            )
    return result
