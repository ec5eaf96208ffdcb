"""Comparisons between architectures: paired by seed, against the blog post's figures."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from types import MappingProxyType

import numpy as np

from ..architectures import cardinality_of, display_name
from ..errors import ReportError
from .runs import BASELINE, RunResult, Runs
from .statistics import (
    McNemarResult,
    MeanInterval,
    accuracy,
    cross_fitted_temperature_scaling,
    ensemble,
    expected_calibration_error,
    holm_adjust,
    least_squares_slope,
    mcnemar_exact,
    mean_confidence_interval,
    negative_log_likelihood,
)


@dataclass(frozen=True)
class Reference:
    """Published figures to set the measurements beside: inputs to the report, not results of it."""

    source: str
    test_acc: Mapping[str, float]  # final test accuracy (fraction) by architecture name
    epochs: int
    batch_size: int
    slower: str  # the architecture reported as slower to train
    faster: str
    slowdown: float  # the slower one's training time over the faster one's, minus 1


# The blog post whose claims this project checks: ResNet-50 reached 92.3 % and ResNeXt-50 (32x4d)
# 91.8 % CIFAR-10 test accuracy after 50 epochs at batch size 32, and ResNeXt-50 was "about 30 %
# slower" to train.
BLOG_POST = Reference(
    source="the blog post comparing ResNet-50 and ResNeXt-50 (32x4d) on CIFAR-10",
    test_acc=MappingProxyType({"resnet50": 0.923, "resnext50_32x4d": 0.918}),
    epochs=50,
    batch_size=32,
    slower="resnext50_32x4d",
    faster="resnet50",
    slowdown=0.30,
)
# "About 30 %" comes without a spread; a measured slowdown within 10 points of it counts as agreeing.
SLOWDOWN_AGREEMENT = (0.20, 0.40)
# The conditions the blog's timing claim was made under (its loop: fp32, batch 32, PyTorch's default
# memory layout). A slowdown measured otherwise (bf16, channels_last, another batch) is reported
# with its conditions and no verdict: grouped convolutions gain differently from those choices.
BLOG_TIMING_CONDITIONS = MappingProxyType({"precision": "fp32", "batch_size": 32, "channels_last": False})
ALPHA = 0.05  # significance level of the per-seed McNemar tests
CONFIDENCE = 0.95  # of the t-intervals over seeds: mean accuracy difference, mean slowdown
OTHER = "resnext50_32x4d"


class Significance(Enum):
    """Whether an accuracy gap is statistically meaningful, from the per-seed tests and the interval over seeds."""

    MEANINGFUL = "meaningful"  # p < ALPHA in every seed and the interval excludes 0
    MIXED = "mixed"  # some of the evidence says so and some does not
    NOT_MEANINGFUL = "not meaningful"  # no seed has p < ALPHA and the interval includes 0
    SUGGESTIVE = "suggestive"  # one seed, p < ALPHA: these two models differ, the architectures may not
    NOT_SHOWN = "not shown"  # one seed, p >= ALPHA


class Agreement(Enum):
    """The measured slowdown against the blog's "about 30 %"."""

    AGREES = "agrees"
    DISAGREES = "does not agree"
    UNDECIDED = "undecided"
    NOT_JUDGED = "not judged"  # not the blog's pair, or not timed under the blog's conditions


class Trend(Enum):
    """Accuracy against cardinality, judged on the interval of the slope over seeds."""

    RISES = "rises"
    FALLS = "falls"
    UNDECIDED = "undecided"


# --- the paired comparison ------------------------------------------------------------------------


@dataclass(frozen=True)
class SeedComparison:
    """The two architectures' runs with one seed, compared on the same test images."""

    seed: int
    baseline_acc: float
    other_acc: float
    difference: float  # other minus baseline, fraction
    mcnemar: McNemarResult  # only_a_correct: images only the baseline got right
    p_adjusted: float | None = None  # Holm-adjusted over every test of the report; None when there is one test

    @property
    def p_value(self) -> float:
        """The p-value the verdict uses: Holm-adjusted when several tests are made."""
        return self.mcnemar.p_value if self.p_adjusted is None else self.p_adjusted

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA


@dataclass(frozen=True)
class PairComparison:
    """Accuracy and training cost of ``other`` against ``baseline``, paired by seed."""

    baseline: str
    other: str
    seeds: tuple[SeedComparison, ...]
    unpaired: tuple[str, ...]  # runs without a partner of the same seed, left out of the paired tests
    test_images: int
    difference_interval: MeanInterval | None  # of the mean difference over seeds; None with one seed
    time_ratio: float  # other's mean seconds per epoch over the baseline's
    throughput_ratio: float  # baseline's mean images/s over other's: above 1 means other is slower
    timing_devices: tuple[str, ...]  # device names the timings come from
    seed_devices: tuple[tuple[int, str, str], ...]  # per paired seed: (seed, baseline's device, other's device)
    reference: Reference
    seed_slowdowns: tuple[float, ...]  # per paired seed: other's seconds per epoch over the baseline's, minus 1
    epoch_slowdowns: tuple[float, ...]  # the same per epoch, over every paired seed (within-run spread)
    timing_conditions: str = ""  # device, precision, batch size and layout the timings were measured under
    blog_conditions: bool = False  # whether those match the blog's (BLOG_TIMING_CONDITIONS)

    @property
    def slowdown(self) -> float:
        """How much longer ``other`` takes per epoch, as a fraction of the baseline's time."""
        return self.time_ratio - 1

    @property
    def throughput_slowdown(self) -> float:
        return self.throughput_ratio - 1

    @property
    def agreement_rule(self) -> str:
        low, high = SLOWDOWN_AGREEMENT
        return (
            f"the measured slowdown ({self.other}'s seconds per epoch over {self.baseline}'s, minus 1) agrees with "
            f'the blog\'s "about {self.reference.slowdown:.0%}" when the {CONFIDENCE:.0%} interval of its mean over seeds '
            f"lies within {low:.0%} to {high:.0%}, and disagrees when the interval lies wholly outside that band"
        )

    @property
    def slowdown_interval(self) -> MeanInterval | None:
        """t-interval of the mean per-seed slowdown; None with fewer than two paired seeds."""
        if len(self.seed_slowdowns) < 2:
            return None
        return mean_confidence_interval(np.array(self.seed_slowdowns), CONFIDENCE)

    @property
    def agreement(self) -> Agreement:
        """Judged on the interval of the slowdown over seeds when there is one.

        One timed run per architecture gives no estimate of how much the time of a run varies
        (machine load changes between runs trained one after the other), so it is undecided
        however its single ratio falls.
        """
        low, high = SLOWDOWN_AGREEMENT
        interval = self.slowdown_interval
        if not self.judged:
            return Agreement.NOT_JUDGED
        if interval is None:
            return Agreement.UNDECIDED
        if low <= interval.low and interval.high <= high:
            return Agreement.AGREES
        if interval.high < low or interval.low > high:
            return Agreement.DISAGREES
        return Agreement.UNDECIDED

    @property
    def judged(self) -> bool:
        """Whether the blog's timing claim applies: the blog's pair, timed under the blog's conditions."""
        pair = {self.baseline, self.other} == {self.reference.faster, self.reference.slower}
        return pair and self.blog_conditions

    @property
    def agrees_with_reference(self) -> bool:
        return self.agreement is Agreement.AGREES

    @property
    def mean_difference(self) -> float:
        return float(np.mean([seed.difference for seed in self.seeds]))

    @property
    def significant_seeds(self) -> int:
        return sum(seed.significant for seed in self.seeds)

    @property
    def significance(self) -> Significance:
        """The accuracy verdict: the per-seed McNemar tests and, with two or more seeds, the t-interval."""
        significant = self.significant_seeds
        interval = self.difference_interval
        if interval is None:
            return Significance.SUGGESTIVE if significant else Significance.NOT_SHOWN
        excludes = interval.excludes_zero()
        if excludes and significant == len(self.seeds):
            return Significance.MEANINGFUL
        if excludes or significant:
            return Significance.MIXED
        return Significance.NOT_MEANINGFUL


def compare_pair(
    runs: Runs, baseline: str = BASELINE, other: str = OTHER, reference: Reference = BLOG_POST
) -> PairComparison:
    """Pair the two architectures' runs by seed and compare them on identical test images.

    McNemar's exact test per seed asks whether the two trained models differ on this test set; the
    t-interval over seeds asks whether the architectures differ beyond seed-to-seed variation.
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
    differences = np.array([seed.difference for seed in seeds])
    interval = mean_confidence_interval(differences, CONFIDENCE) if len(seeds) >= 2 else None
    timed = [*base_runs.values(), *other_runs.values()]
    seed_slowdowns = tuple(
        other_runs[seed].record.timing.seconds_per_epoch / base_runs[seed].record.timing.seconds_per_epoch - 1
        for seed in paired
    )
    epoch_slowdowns = tuple(
        float(slowdown) for seed in paired for slowdown in _epoch_slowdowns(base_runs[seed], other_runs[seed])
    )

    def mean_of(members: dict[int, RunResult], key: str) -> float:
        return float(np.mean([getattr(run.record.timing, key) for run in members.values()]))

    return PairComparison(
        baseline=baseline,
        other=other,
        seeds=tuple(seeds),
        unpaired=unpaired,
        test_images=len(base_runs[paired[0]].labels),
        difference_interval=interval,
        time_ratio=mean_of(other_runs, "seconds_per_epoch") / mean_of(base_runs, "seconds_per_epoch"),
        throughput_ratio=mean_of(base_runs, "images_per_second") / mean_of(other_runs, "images_per_second"),
        timing_devices=tuple(dict.fromkeys(run.record.env.device_name for run in timed)),
        seed_devices=tuple(
            (seed, base_runs[seed].record.env.device_name, other_runs[seed].record.env.device_name) for seed in paired
        ),
        reference=reference,
        seed_slowdowns=seed_slowdowns,
        epoch_slowdowns=epoch_slowdowns,
        timing_conditions=timing_conditions(timed),
        blog_conditions=all(
            all(_resolved(run, key) == value for key, value in BLOG_TIMING_CONDITIONS.items()) for run in timed
        ),
    )


def _resolved(run: RunResult, key: str):
    """A setting as the run used it: the resolved precision, the configured rest."""
    return run.record.env.precision if key == "precision" else run.record.config.get(key)


def timing_conditions(runs_timed: list[RunResult]) -> str:
    """'NVIDIA H200, bf16, batch 512, channels_last': what the timings depend on besides the model."""
    parts = []
    for describe in (
        lambda run: run.record.env.device_name,
        lambda run: run.record.env.precision,
        lambda run: f"batch {run.record.config.get('batch_size')}",
        lambda run: "channels_last" if run.record.config.get("channels_last") else "default (NCHW) layout",
    ):
        parts.append(" / ".join(dict.fromkeys(describe(run) for run in runs_timed)))
    return ", ".join(parts)


def compare_all(runs: Runs, reference: Reference = BLOG_POST) -> list[PairComparison]:
    """Every architecture against the baseline (ResNet-50 when present, else the first listed).

    With more than one McNemar test in the report (several architectures, several seeds), the
    p-values are Holm-adjusted over all of them, which keeps the chance of any false "significant"
    at ALPHA.
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
    tests = [seed.mcnemar.p_value for pair in pairs for seed in pair.seeds]
    if len(tests) < 2:
        return pairs
    adjusted = iter(holm_adjust(tests))
    return [
        replace(pair, seeds=tuple(replace(seed, p_adjusted=next(adjusted)) for seed in pair.seeds)) for pair in pairs
    ]


def _epoch_slowdowns(base: RunResult, other: RunResult) -> np.ndarray:
    """Per epoch both runs recorded: other's seconds over the baseline's, minus 1."""
    merged = base.history[["epoch", "epoch_seconds"]].merge(
        other.history[["epoch", "epoch_seconds"]], on="epoch", suffixes=("_base", "_other")
    )
    merged = merged[(merged["epoch_seconds_base"] > 0) & (merged["epoch_seconds_other"] > 0)]
    return (merged["epoch_seconds_other"] / merged["epoch_seconds_base"] - 1).to_numpy()


# --- cardinality ----------------------------------------------------------------------------------

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


@dataclass(frozen=True)
class CardinalityTrend:
    points: tuple[CardinalityPoint, ...]  # by cardinality
    seed_slopes: tuple[float, ...]  # per seed: least-squares slope of accuracy (fraction) on log2(cardinality)
    slope_interval: MeanInterval | None  # of the mean per-seed slope; None with fewer than two seeds

    @property
    def verdict(self) -> Trend:
        """Judged on the interval of the slope over seeds, not on the means."""
        interval = self.slope_interval
        if interval is None or not interval.excludes_zero():
            return Trend.UNDECIDED
        return Trend.RISES if interval.low > 0 else Trend.FALLS


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
            slopes.append(least_squares_slope(np.array(xs), np.array(ys)))
    interval = mean_confidence_interval(np.array(slopes), confidence) if len(slopes) > 1 else None
    return CardinalityTrend(tuple(points), tuple(slopes), interval)


# --- ensembles ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EnsembleScore:
    """Accuracy, NLL and ECE of one model or of the mean of several models' softmax outputs."""

    name: str
    members: tuple[str, ...]  # run labels
    accuracy: float
    nll: float
    ece: float
    nll_scaled: float  # after temperature scaling, 2-fold cross-fitted on the test set
    ece_scaled: float
    mcnemar_vs_best_member: McNemarResult | None = None  # ensembles of two or more only

    @property
    def size(self) -> int:
        return len(self.members)


def score_ensemble(name: str, members: list[RunResult]) -> EnsembleScore:
    labels = members[0].labels
    for run in members[1:]:
        if not np.array_equal(run.labels, labels):
            raise ReportError(f"{run.label} and {members[0].label} were evaluated on different test images")
    probabilities = ensemble([run.probabilities for run in members])
    scaled = cross_fitted_temperature_scaling(probabilities, labels).probabilities
    mcnemar = None
    if len(members) > 1:
        best = max(members, key=lambda run: run.record.test_acc)
        mcnemar = mcnemar_exact(probabilities.argmax(1) == labels, best.correct)
    return EnsembleScore(
        name=name,
        members=tuple(run.label for run in members),
        accuracy=accuracy(probabilities, labels),
        nll=negative_log_likelihood(probabilities, labels),
        ece=expected_calibration_error(probabilities, labels),
        nll_scaled=negative_log_likelihood(scaled, labels),
        ece_scaled=expected_calibration_error(scaled, labels),
        mcnemar_vs_best_member=mcnemar,
    )


def mean_single_model(name: str, members: list[RunResult]) -> EnsembleScore:
    """The average of the members' own scores: what one model of the architecture gives."""
    singles = [score_ensemble(run.label, [run]) for run in members]
    return EnsembleScore(
        name=name,
        members=(f"mean of {len(singles)} single models",),
        accuracy=float(np.mean([s.accuracy for s in singles])),
        nll=float(np.mean([s.nll for s in singles])),
        ece=float(np.mean([s.ece for s in singles])),
        nll_scaled=float(np.mean([s.nll_scaled for s in singles])),
        ece_scaled=float(np.mean([s.ece_scaled for s in singles])),
    )


def seed_ensembles(runs: Runs) -> dict[str, list[EnsembleScore]]:
    """For each architecture with two or more seeds: one model (mean), then ensembles of its first 2..k seeds."""
    result = {}
    for arch in runs.architectures:
        members = runs.of(arch)
        if len(members) < 2:
            continue
        rows = [mean_single_model(f"{display_name(arch)}, 1 model", members)]
        rows += [score_ensemble(f"{display_name(arch)}, {k} seeds", members[:k]) for k in range(2, len(members) + 1)]
        result[arch] = rows
    return result


def architecture_ensembles(runs: Runs, reference: Reference = BLOG_POST) -> list[EnsembleScore]:
    """Two-member ensembles at equal cost: one seed of each architecture, against two seeds of one.

    The first seed both architectures have is the mixed ensemble's; each architecture's two-seed
    ensemble uses its first two seeds.
    """
    pair = [arch for arch in (reference.faster, reference.slower) if arch in runs.architectures]
    if len(pair) < 2:
        return []
    first, second = ({run.seed: run for run in runs.of(arch)} for arch in pair)
    common = sorted(first.keys() & second.keys())
    rows = []
    if common:
        seed = common[0]
        name = f"{display_name(pair[0])} + {display_name(pair[1])} (seed {seed} each)"
        rows.append(score_ensemble(name, [first[seed], second[seed]]))
    for arch in pair:
        members = runs.of(arch)
        if len(members) >= 2:
            seeds = f"seeds {members[0].seed} and {members[1].seed}"
            rows.append(score_ensemble(f"{display_name(arch)} x2 ({seeds})", members[:2]))
    return rows if len(rows) > 1 else []
