"""Per class: one architecture's accuracy minus the baseline's, and each architecture's confusions.

Ten or a hundred classes are as many tests at once, so each comparison's classes are one family,
Holm-adjusted; a class counts as resolved only by its adjusted p-value. With
:data:`.reference.MIN_VERDICT_SEEDS` or more paired seeds each class gets a t-interval and a t-test
over seeds; with fewer, an interval over 1 or 2 degrees of freedom is uninformative or spuriously
narrow, so the seeds' per-class McNemar counts are pooled instead: an exact McNemar test and a Wald
interval over the class's test images, which measure test-set noise only and speak of these trained
models, not of the architectures.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from ..runs import Runs
from .pairs import PairComparison
from .reference import ALPHA, CONFIDENCE, MIN_VERDICT_SEEDS
from .statistics import (
    holm_adjust,
    mcnemar_from_counts,
    mean_confidence_interval,
    one_sample_t_p_value,
    paired_wald_interval,
)


class PerClassMethod(Enum):
    """How each class's interval and test were made."""

    OVER_SEEDS = "over seeds"  # Student-t interval and one-sample t-test of the per-seed differences
    POOLED = "pooled"  # the seeds' discordant counts pooled: exact McNemar test, Wald interval


@dataclass(frozen=True)
class PerClassDifferences:
    """Per class (fractions): the mean difference over paired seeds, its interval, and its tests.

    The intervals are each at the 95 % level, unadjusted; the Holm-adjusted p-values decide which
    classes are resolved. Unpacks as ``means, lows, highs``.
    """

    means: np.ndarray
    lows: np.ndarray
    highs: np.ndarray
    p_values: np.ndarray  # per class, unadjusted
    p_adjusted: np.ndarray  # Holm over the classes of this comparison (one family)
    seeds: int
    method: PerClassMethod

    def __iter__(self):
        return iter((self.means, self.lows, self.highs))

    @property
    def resolved_classes(self) -> np.ndarray:
        """Per class: the Holm-adjusted p is below ALPHA (an undefined test resolves nothing)."""
        return np.nan_to_num(self.p_adjusted, nan=1.0) < ALPHA

    @property
    def untested(self) -> int:
        """Classes without a test: their per-seed differences were equal and not 0 (:func:`.statistics.one_sample_t_p_value`)."""
        return int(np.sum(np.isnan(self.p_values)))

    @property
    def above_zero(self) -> np.ndarray:
        """Per class: resolved, with other ahead."""
        return self.resolved_classes & (self.means > 0)

    @property
    def below_zero(self) -> np.ndarray:
        return self.resolved_classes & (self.means < 0)

    @property
    def resolved(self) -> int:
        """Classes whose Holm-adjusted p is below ALPHA."""
        return int(np.sum(self.resolved_classes))

    @property
    def largest(self) -> int:
        """The class with the largest mean difference (its index)."""
        return int(np.argsort(self.means)[-1])

    @property
    def smallest(self) -> int:
        return int(np.argsort(self.means)[0])


def per_class_differences(pair: PairComparison, runs: Runs) -> PerClassDifferences:
    """Per class: other minus baseline accuracy (fraction), mean over paired seeds, with its 95 % interval and tests.

    With MIN_VERDICT_SEEDS or more seeds: the t-interval and one-sample t-test over seeds. With fewer:
    the seeds' discordant counts within the class pooled, an exact McNemar test and the paired Wald
    interval over the class's images times seeds. Either way the p-values are Holm-adjusted over the classes.
    """
    base = {run.seed: run for run in runs.of(pair.baseline)}
    other = {run.seed: run for run in runs.of(pair.other)}
    seeds = [seed.seed for seed in pair.seeds]
    labels = base[seeds[0]].labels
    classes = int(base[seeds[0]].probabilities.shape[1])
    masks = [labels == c for c in range(classes)]
    per_seed = np.array(
        [[other[s].correct[mask].mean() - base[s].correct[mask].mean() for mask in masks] for s in seeds]
    )
    if len(seeds) >= MIN_VERDICT_SEEDS:
        intervals = [mean_confidence_interval(per_seed[:, c], CONFIDENCE) for c in range(classes)]
        p_values = [one_sample_t_p_value(per_seed[:, c]) for c in range(classes)]
        return PerClassDifferences(
            per_seed.mean(0),
            np.array([i.low for i in intervals]),
            np.array([i.high for i in intervals]),
            np.array(p_values),
            np.array(holm_adjust(p_values)),
            len(seeds),
            PerClassMethod.OVER_SEEDS,
        )
    means, lows, highs, p_values = [], [], [], []
    for mask in masks:
        only_a = sum(int((base[s].correct & ~other[s].correct & mask).sum()) for s in seeds)
        only_b = sum(int((other[s].correct & ~base[s].correct & mask).sum()) for s in seeds)
        mean, low, high = paired_wald_interval(only_a, only_b, int(mask.sum()) * len(seeds), CONFIDENCE)
        means.append(mean)
        lows.append(low)
        highs.append(high)
        p_values.append(mcnemar_from_counts(only_a, only_b).p_value)
    return PerClassDifferences(
        np.array(means),
        np.array(lows),
        np.array(highs),
        np.array(p_values),
        np.array(holm_adjust(p_values)),
        len(seeds),
        PerClassMethod.POOLED,
    )


def mean_confusion(runs: Runs, arch: str) -> np.ndarray:
    """The architecture's confusion matrix summed over seeds, each row divided by its total (true class)."""
    counts = np.sum([np.array(run.record.confusion_matrix, float) for run in runs.of(arch)], axis=0)
    totals = counts.sum(1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


def most_frequent_confusion(runs: Runs, arch: str) -> tuple[int, int, float]:
    """The off-diagonal cell of :func:`mean_confusion` with the largest share: (true class, predicted class, share)."""
    matrix = mean_confusion(runs, arch)  # a new array each call, so its diagonal is ours to zero
    np.fill_diagonal(matrix, 0)
    true, predicted = np.unravel_index(int(matrix.argmax()), matrix.shape)
    return int(true), int(predicted), float(matrix[true, predicted])
