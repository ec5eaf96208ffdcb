"""The ResNeXt paper's cardinality sweep at equal complexity: accuracy and cost against cardinality."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType

import numpy as np

from ...architectures import cardinality_of
from ..runs import Runs
from .reference import CONFIDENCE, MIN_VERDICT_SEEDS
from .statistics import MeanInterval, SlopeFit, least_squares_fit, mean_confidence_interval


class Trend(Enum):
    """Accuracy against cardinality, judged on the interval of the per-seed slopes over seeds.

    As for the architecture verdict, a trend verdict needs MIN_VERDICT_SEEDS or more seeds of every
    variant; with fewer there is none (NO_VERDICT), whatever a fitted line's own interval says.
    """

    RISES = "rises"
    FALLS = "falls"
    UNDECIDED = "undecided"  # enough seeds, and the interval over seeds includes 0
    NO_VERDICT = "no verdict"  # fewer than MIN_VERDICT_SEEDS seeds of some variant


# ImageNet-1k top-1 error (%) of ResNeXt-50 at equal complexity by cardinality (Xie et al. 2017,
# "Aggregated Residual Transformations for Deep Neural Networks", Table 3, 224x224 single crop):
# 1x64d (ResNet-50) 23.9, 2x40d 23.0, 4x24d 22.6, 8x14d 22.3, 32x4d 22.2. A reference from another
# dataset, shown beside the measurements and never mixed into them.
IMAGENET_TOP1_ERROR_BY_CARDINALITY = MappingProxyType({1: 23.9, 2: 23.0, 4: 22.6, 8: 22.3, 32: 22.2})
MIN_CARDINALITY_VARIANTS = 3  # fewer than three points show no trend


@dataclass(frozen=True)
class CardinalityPoint:
    arch: str
    cardinality: int
    width: int  # channels per group in the first stage (the "d" of CxDd)
    params: int
    macs: int
    accuracies: tuple[float, ...]  # final test accuracy per seed, by seed
    accuracy_interval: MeanInterval | None  # over seeds; None with one seed
    seconds_per_epoch: float  # mean over seeds
    imagenet_top1_error: float | None

    @property
    def mean_accuracy(self) -> float:
        return float(np.mean(self.accuracies))


@dataclass(frozen=True)
class CardinalityTrend:
    points: tuple[CardinalityPoint, ...]  # by cardinality
    seed_slopes: tuple[float, ...]  # per seed: least-squares slope of accuracy (fraction) on log2(cardinality)
    slope_interval: MeanInterval | None  # of the mean per-seed slope; None with fewer than two seeds
    fit: SlopeFit | None = None  # one least-squares line through every run: a description, never the verdict

    @property
    def fewest_seeds(self) -> int:
        """The fewest seeds any variant has."""
        return min(len(point.accuracies) for point in self.points)

    @property
    def verdict_possible(self) -> bool:
        return self.fewest_seeds >= MIN_VERDICT_SEEDS and len(self.seed_slopes) >= MIN_VERDICT_SEEDS

    @property
    def verdict(self) -> Trend:
        """Judged on the interval of the slope over seeds, not on the means, and only with enough seeds."""
        interval = self.slope_interval
        if interval is None or not self.verdict_possible:
            return Trend.NO_VERDICT
        if not interval.excludes_zero():
            return Trend.UNDECIDED
        return Trend.RISES if interval.low > 0 else Trend.FALLS

    @property
    def fitted_accuracies(self) -> np.ndarray | None:
        """At each point: the least-squares line through every run (:attr:`fit`), the one the text describes.

        With every variant at the same seeds its slope is the mean of the per-seed slopes; with unequal
        seeds the two differ, and the figure draws this line, as its caption says.
        """
        if self.fit is None:
            return None
        return self.fit.intercept + self.fit.slope * np.log2([point.cardinality for point in self.points])

    @property
    def params_range(self) -> tuple[int, int]:
        params = [point.params for point in self.points]
        return min(params), max(params)

    @property
    def macs_range(self) -> tuple[int, int]:
        macs = [point.macs for point in self.points]
        return min(macs), max(macs)

    @property
    def params_spread(self) -> float:
        """The largest variant's parameters over the smallest's, minus 1: how nearly equal their size is."""
        low, high = self.params_range
        return high / low - 1

    @property
    def macs_spread(self) -> float:
        low, high = self.macs_range
        return high / low - 1


def cardinality_trend(runs: Runs, confidence: float = CONFIDENCE) -> CardinalityTrend | None:
    """Accuracy and cost against cardinality, when the runs hold three or more ResNeXt-50 variants."""
    variants = {}
    for arch in runs.architectures:
        shape = cardinality_of(arch)
        if shape is not None and shape[0] not in variants:  # resnet50 and resnext50_1x64d are one point
            variants[shape[0]] = (arch, shape[1])
    if len(variants) < MIN_CARDINALITY_VARIANTS:
        return None
    points = []
    for cardinality, (arch, width) in sorted(variants.items()):
        members = runs.of(arch)
        accuracies = tuple(run.record.test_acc for run in members)
        points.append(
            CardinalityPoint(
                arch=arch,
                cardinality=cardinality,
                width=width,
                params=members[0].record.params,
                macs=members[0].record.macs,
                accuracies=accuracies,
                accuracy_interval=mean_confidence_interval(np.array(accuracies), confidence)
                if len(accuracies) > 1
                else None,
                seconds_per_epoch=float(np.mean([run.record.timing.seconds_per_epoch for run in members])),
                imagenet_top1_error=IMAGENET_TOP1_ERROR_BY_CARDINALITY.get(cardinality),
            )
        )
    slopes = []
    for seed in sorted({run.seed for point in points for run in runs.of(point.arch)}):
        xs, ys = [], []
        for point in points:
            run = next((run for run in runs.of(point.arch) if run.seed == seed), None)
            if run is not None:
                xs.append(np.log2(point.cardinality))
                ys.append(run.record.test_acc)
        if len(xs) >= MIN_CARDINALITY_VARIANTS:
            slopes.append(least_squares_fit(np.array(xs), np.array(ys), confidence).slope)
    interval = mean_confidence_interval(np.array(slopes), confidence) if len(slopes) > 1 else None
    runs_x = [np.log2(point.cardinality) for point in points for _ in point.accuracies]
    runs_y = [accuracy for point in points for accuracy in point.accuracies]
    fit = least_squares_fit(np.array(runs_x), np.array(runs_y), confidence) if len(runs_x) >= 3 else None
    return CardinalityTrend(tuple(points), tuple(slopes), interval, fit)
