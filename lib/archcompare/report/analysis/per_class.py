"""Per class: one architecture's accuracy minus the baseline's, and each architecture's confusions."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats

from ..runs import Runs
from .pairs import PairComparison
from .reference import CONFIDENCE
from .statistics import mean_confidence_interval


class PerClassDifferences(NamedTuple):
    """Per class (fractions): the mean difference over paired seeds and its interval's bounds."""

    means: np.ndarray
    lows: np.ndarray
    highs: np.ndarray

    @property
    def above_zero(self) -> np.ndarray:
        """Per class: the interval lies above 0 (other ahead)."""
        return self.lows > 0

    @property
    def below_zero(self) -> np.ndarray:
        return self.highs < 0

    @property
    def resolved(self) -> int:
        """Classes whose interval excludes 0."""
        return int(np.sum(self.above_zero | self.below_zero))

    @property
    def largest(self) -> int:
        """The class with the largest mean difference (its index)."""
        return int(np.argsort(self.means)[-1])

    @property
    def smallest(self) -> int:
        return int(np.argsort(self.means)[0])


def per_class_differences(pair: PairComparison, runs: Runs) -> PerClassDifferences:
    """Per class: other minus baseline accuracy (fraction), mean over paired seeds, with its 95 % interval.

    With two or more seeds the interval is the t-interval over seeds; with one, the paired binomial
    (Wald) interval from the images of that class that only one of the two models got right.
    """
    base = {run.seed: run for run in runs.of(pair.baseline)}
    other = {run.seed: run for run in runs.of(pair.other)}
    seeds = [seed.seed for seed in pair.seeds]
    labels = base[seeds[0]].labels
    classes = int(base[seeds[0]].probabilities.shape[1])
    per_seed = np.array(
        [
            [other[s].correct[labels == c].mean() - base[s].correct[labels == c].mean() for c in range(classes)]
            for s in seeds
        ]
    )
    means = per_seed.mean(0)
    if len(seeds) >= 2:
        intervals = [mean_confidence_interval(per_seed[:, c], CONFIDENCE) for c in range(classes)]
        return PerClassDifferences(means, np.array([i.low for i in intervals]), np.array([i.high for i in intervals]))
    z = float(stats.norm.ppf(0.5 + CONFIDENCE / 2))
    a, b = base[seeds[0]].correct, other[seeds[0]].correct
    lows, highs = [], []
    for c in range(classes):
        mask = labels == c
        n = int(mask.sum())
        only_b, only_a = int((b & ~a & mask).sum()), int((a & ~b & mask).sum())
        variance = max(only_a + only_b - (only_b - only_a) ** 2 / n, 0.0) / n**2 if n else 0.0
        lows.append(means[c] - z * np.sqrt(variance))
        highs.append(means[c] + z * np.sqrt(variance))
    return PerClassDifferences(means, np.array(lows), np.array(highs))


def mean_confusion(runs: Runs, arch: str) -> np.ndarray:
    """The architecture's confusion matrix summed over seeds, each row divided by its total (true class)."""
    counts = np.sum([np.array(run.record.confusion_matrix, float) for run in runs.of(arch)], axis=0)
    totals = counts.sum(1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def most_frequent_confusion(runs: Runs, arch: str) -> tuple[int, int, float]:
    """The off-diagonal cell of :func:`mean_confusion` with the largest share: (true class, predicted class, share)."""
    matrix = mean_confusion(runs, arch).copy()
    np.fill_diagonal(matrix, 0)
    true, predicted = np.unravel_index(int(matrix.argmax()), matrix.shape)
    return int(true), int(predicted), float(matrix[true, predicted])
