"""Two architectures paired by seed: accuracy on the same test images, and its verdict.

The primary analysis is the seed-level paired difference: its mean over paired seeds and the
Student-t interval of that mean. The architecture verdict ("established" or "not established")
comes from that interval alone, and only with :data:`.reference.MIN_VERDICT_SEEDS` or more paired
seeds. McNemar's exact test per seed asks something else: whether *these two trained models* differ
on *this* test set (test-set noise only); its p-values are Holm-adjusted within the pair's seeds (one
family per pair) and never decide the verdict. The power analysis says how many seeds a difference of
a given size needs, over the interval of the spread it is planned from.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

import numpy as np
from scipy import stats

from ...errors import ReportError
from ..runs import BASELINE, Runs
from .reference import ALPHA, BLOG_POST, CONFIDENCE, MIN_VERDICT_SEEDS, OTHER, POWER, Reference
from .statistics import (
    McNemarResult,
    MeanInterval,
    holm_adjust,
    mcnemar_exact,
    mean_confidence_interval,
    sd_interval,
    seeds_needed,
    seeds_needed_range,
    welch_interval,
)
from .timing import Agreement, TimingGroup, timing_groups


class Significance(Enum):
    """The architecture verdict: from the paired t-interval over seeds alone, never from per-seed McNemar tests."""

    ESTABLISHED = "established"  # MIN_VERDICT_SEEDS or more paired seeds, and the interval excludes 0
    NOT_ESTABLISHED = "not established"  # MIN_VERDICT_SEEDS or more paired seeds, and the interval includes 0
    NO_VERDICT = "no verdict"  # fewer paired seeds: no verdict is possible


class AgainstReference(Enum):
    """These runs' paired difference against the reference's (the blog's other minus baseline)."""

    NO_INTERVAL = "no interval"  # one paired seed: nothing to set the reference's difference against
    NEITHER = "neither confirm nor contradict"  # the paired interval contains the reference's difference
    NO_VERDICT = "no verdict"  # the interval excludes it, but too few seeds for any verdict
    SAME_ORDERING = "same ordering"  # established, and the same sign as the reference's
    OPPOSITE_ORDERING = "opposite ordering"  # established, and the opposite sign
    UNLIKE = "unlike in size"  # not established (the interval includes 0), yet it excludes the reference's


@dataclass(frozen=True)
class SeedComparison:
    """The two architectures' runs with one seed, compared on the same test images."""

    seed: int
    baseline_acc: float
    other_acc: float
    difference: float  # other minus baseline, fraction
    mcnemar: McNemarResult  # only_a_correct: images only the baseline got right
    p_adjusted: float | None = None  # Holm-adjusted over the pair's seeds (one family); None with one seed

    @property
    def p_value(self) -> float:
        """The p-value the per-seed statement uses: Holm-adjusted within the pair when it has several seeds."""
        return self.mcnemar.p_value if self.p_adjusted is None else self.p_adjusted

    @property
    def significant(self) -> bool:
        """Whether these two trained models differ on this test set; no statement about the architectures."""
        return self.p_value < ALPHA


@dataclass(frozen=True)
class SeedsNeeded:
    """Paired seeds a paired t-test needs to resolve a difference of one size, over the spread's interval.

    The spread of the per-seed differences is itself an estimate: from 2 seeds (1 degree of freedom)
    its 95 % interval spans a factor of about 70, so the plan is a range, never one number.
    """

    size: str  # whose difference: "observed" (these runs' mean) or "reference" (the blog's)
    difference: float  # its magnitude, fraction
    fewest: int | None  # at the low end of the spread's interval; None: more than statistics.seeds_needed's limit
    most: int | None  # at the high end
    at_estimate: int | None  # at the measured spread itself


@dataclass(frozen=True)
class PairComparison:
    """Accuracy and training cost of ``other`` against ``baseline``, paired by seed."""

    baseline: str
    other: str
    seeds: tuple[SeedComparison, ...]
    unpaired: tuple[str, ...]  # runs without a partner of the same seed, left out of the paired tests
    test_images: int
    difference_interval: MeanInterval | None  # paired: of the mean difference over seeds; None with one seed
    welch_interval: MeanInterval | None  # unpaired: every run of each, Welch; None without two runs of each
    timings: tuple[TimingGroup, ...]  # one per device model and step mode
    timing_excluded: tuple[str, ...]  # paired seeds left out of every timing comparison, with the reason
    reference: Reference = BLOG_POST

    @property
    def is_reference_pair(self) -> bool:
        """Whether the two are the pair the reference compares (the blog's ResNet-50 and ResNeXt-50)."""
        return self.reference.compares(self.baseline, self.other)

    @property
    def judged(self) -> bool:
        return any(group.judged for group in self.timings)

    @property
    def agreement(self) -> Agreement:
        """The blog's timing claim against the groups timed under its conditions; they must agree to decide."""
        verdicts = {group.agreement for group in self.timings if group.judged}
        if not verdicts:
            return Agreement.NOT_JUDGED
        return verdicts.pop() if len(verdicts) == 1 else Agreement.UNDECIDED

    @property
    def agrees_with_reference(self) -> bool:
        return self.agreement is Agreement.AGREES

    @property
    def mean_difference(self) -> float:
        return float(np.mean([seed.difference for seed in self.seeds]))

    @property
    def difference_sd(self) -> float | None:
        """Seed-to-seed standard deviation of the paired differences; None with one seed."""
        if len(self.seeds) < 2:
            return None
        return float(np.std([seed.difference for seed in self.seeds], ddof=1))

    @property
    def baseline_mean(self) -> float:
        """The baseline's mean final-epoch test accuracy over the paired seeds."""
        return float(np.mean([seed.baseline_acc for seed in self.seeds]))

    @property
    def other_mean(self) -> float:
        return float(np.mean([seed.other_acc for seed in self.seeds]))

    @property
    def same_accuracy(self) -> bool:
        """No difference in mean accuracy (to 1e-9 points: float noise of a mean is no difference)."""
        return round(100 * self.mean_difference, 9) == 0

    @property
    def seeds_ahead(self) -> int:
        """Seeds in which the architecture ahead in the mean was ahead too."""
        ahead = self.mean_difference > 0
        return sum((seed.difference > 0) == ahead and seed.difference != 0 for seed in self.seeds)

    @property
    def difference_quantile(self) -> float | None:
        """The Student-t quantile of the paired interval (its degrees of freedom: seeds minus 1)."""
        interval = self.difference_interval
        if interval is None:
            return None
        return float(stats.t.ppf(0.5 + interval.confidence / 2, interval.n - 1))

    @property
    def reference_difference(self) -> float | None:
        """The reference's other minus baseline accuracy, when it gives both."""
        other, base = self.reference.test_acc.get(self.other), self.reference.test_acc.get(self.baseline)
        return None if other is None or base is None else other - base

    @property
    def difference_sd_interval(self) -> tuple[float, float] | None:
        """The chi-square confidence interval of :attr:`difference_sd`; None with one seed."""
        sd = self.difference_sd
        return None if sd is None else sd_interval(sd, len(self.seeds), CONFIDENCE)

    @property
    def power(self) -> tuple[SeedsNeeded, ...]:
        """Seeds needed for a difference of the observed size and of the reference's; none with one seed."""
        sd = self.difference_sd
        if sd is None:
            return ()
        sizes = [("observed", abs(self.mean_difference))]
        if self.reference_difference is not None:
            sizes.append(("reference", abs(self.reference_difference)))
        return tuple(
            SeedsNeeded(
                size,
                difference,
                *seeds_needed_range(difference, sd, len(self.seeds), CONFIDENCE, ALPHA, POWER),
                self.seeds_needed(difference),
            )
            for size, difference in sizes
        )

    def seeds_needed(self, difference: float) -> int | None:
        """Paired seeds a paired t-test needs to resolve ``difference`` (5 %, 80 % power) at the measured spread."""
        sd = self.difference_sd
        return None if sd is None else seeds_needed(difference, sd, ALPHA, POWER)

    @property
    def significant_seeds(self) -> int:
        """Seeds whose two trained models differ on this test set (McNemar, Holm within the pair): no verdict."""
        return sum(seed.significant for seed in self.seeds)

    @property
    def verdict_possible(self) -> bool:
        return len(self.seeds) >= MIN_VERDICT_SEEDS

    @property
    def significance(self) -> Significance:
        """The architecture verdict, from the paired t-interval alone and only with enough paired seeds."""
        interval = self.difference_interval
        if interval is None or not self.verdict_possible:
            return Significance.NO_VERDICT
        return Significance.ESTABLISHED if interval.excludes_zero() else Significance.NOT_ESTABLISHED

    @property
    def reference_in_interval(self) -> bool | None:
        """Whether the paired interval contains the reference's difference; None without either."""
        interval, reference = self.difference_interval, self.reference_difference
        if interval is None or reference is None:
            return None
        return interval.low <= reference <= interval.high

    @property
    def against_reference(self) -> AgainstReference | None:
        """What these runs say about the reference's difference; None when the reference gives none."""
        if self.reference_difference is None:
            return None
        if self.difference_interval is None:
            return AgainstReference.NO_INTERVAL
        if self.reference_in_interval:
            return AgainstReference.NEITHER
        significance = self.significance
        if significance is Significance.NO_VERDICT:
            return AgainstReference.NO_VERDICT
        if significance is Significance.NOT_ESTABLISHED:
            return AgainstReference.UNLIKE
        same = (self.mean_difference > 0) == (self.reference_difference > 0)
        return AgainstReference.SAME_ORDERING if same else AgainstReference.OPPOSITE_ORDERING


def compare_pair(
    runs: Runs, baseline: str = BASELINE, other: str = OTHER, reference: Reference = BLOG_POST
) -> PairComparison:
    """Pair the two architectures' runs by seed and compare them on identical test images.

    The t-interval over seeds asks whether the architectures differ beyond seed-to-seed variation (the
    verdict); McNemar's exact test per seed asks whether the two trained models differ on this test set,
    Holm-adjusted over the pair's seeds (one family).
    """
    base_runs = {run.seed: run for run in runs.of(baseline)}
    other_runs = {run.seed: run for run in runs.of(other)}
    for arch, members in ((baseline, base_runs), (other, other_runs)):
        if not members:
            raise ReportError(f"no complete run of {arch} under {runs.profile_dir}: there is nothing to compare")
    paired = sorted(base_runs.keys() & other_runs.keys())
    if not paired:
        raise ReportError(
            f"no seed has complete runs of both {baseline} (seeds {sorted(base_runs)}) and "
            f"{other} (seeds {sorted(other_runs)}): the paired comparison needs the same seed of each"
        )
    unpaired = tuple(
        run.label for members in (base_runs, other_runs) for seed, run in members.items() if seed not in paired
    )
    seeds = []
    for seed in paired:
        a, b = base_runs[seed], other_runs[seed]
        if a.labels.shape != b.labels.shape or not np.array_equal(a.labels, b.labels):
            raise ReportError(
                f"{a.label} ({a.directory}) and {b.label} ({b.directory}) were evaluated on different test labels "
                f"({len(a.labels)} vs {len(b.labels)} images, datasets {a.record.data.label!r} and "
                f"{b.record.data.label!r}): a paired test needs the same test images in the same order, so "
                "train both with the same dataset and test_per_class"
            )
        base_acc, other_acc = a.record.test_acc, b.record.test_acc
        seeds.append(
            SeedComparison(seed, base_acc, other_acc, other_acc - base_acc, mcnemar_exact(a.correct, b.correct))
        )
    if len(seeds) > 1:
        adjusted = holm_adjust([seed.mcnemar.p_value for seed in seeds])
        seeds = [replace(seed, p_adjusted=p) for seed, p in zip(seeds, adjusted)]
    differences = np.array([seed.difference for seed in seeds])
    interval = mean_confidence_interval(differences, CONFIDENCE) if len(seeds) >= 2 else None
    base_accs = np.array([run.record.test_acc for run in base_runs.values()])
    other_accs = np.array([run.record.test_acc for run in other_runs.values()])
    welch = welch_interval(base_accs, other_accs, CONFIDENCE) if min(len(base_accs), len(other_accs)) >= 2 else None
    timings, excluded = timing_groups(
        [(seed, base_runs[seed], other_runs[seed]) for seed in paired], baseline, other, reference
    )
    return PairComparison(
        baseline=baseline,
        other=other,
        seeds=tuple(seeds),
        unpaired=unpaired,
        test_images=len(base_runs[paired[0]].labels),
        difference_interval=interval,
        welch_interval=welch,
        timings=timings,
        timing_excluded=excluded,
        reference=reference,
    )


def compare_all(runs: Runs, reference: Reference = BLOG_POST) -> list[PairComparison]:
    """Every architecture against the baseline (ResNet-50 when present, else the first listed).

    Each pair's McNemar tests are one family, Holm-adjusted over its seeds (:func:`compare_pair`), which
    keeps the chance of any false "differ" among them at most ALPHA. Each pair's verdict stands on its
    own interval.
    """
    architectures = runs.architectures
    if len(architectures) < 2:
        return []
    baseline = architectures[0]  # Runs.architectures puts the baseline first
    pairs = []
    for other in architectures[1:]:
        try:
            pairs.append(compare_pair(runs, baseline, other, reference))
        except ReportError:
            continue  # no seed in common: the text says so through the unpaired runs
    return pairs
