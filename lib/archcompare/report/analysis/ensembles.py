"""Ensembles of saved test-set predictions: each architecture's seeds, and two models of each kind.

Nothing is retrained: an ensemble is the mean of its members' softmax outputs (:mod:`.calibration`).
McNemar's tests here compare *these trained models and ensembles* on this test set: their noise is
the test images', not the seeds', so they say nothing about the architectures in general.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ...architectures import display_name
from ...errors import ReportError
from ..runs import RunResult, Runs
from .calibration import (
    ECE_SHOWN,
    HALVINGS,
    NLL_SHOWN,
    TEMPERATURE_AGREEMENT,
    Change,
    ReliabilityPanel,
    accuracy,
    calibration_error,
    change,
    cross_fitted_temperature_scaling,
    ensemble,
    error_of_bins,
    halves,
    negative_log_likelihood,
    reliability,
    reliability_panel,
    scaled_scores_over_halvings,
)
from .reference import ALPHA, BLOG_POST, Reference
from .statistics import McNemarResult, holm_adjust, mcnemar_exact


@dataclass(frozen=True)
class MemberComparison:
    """An ensemble against its best member, the member chosen on the other half of the test images.

    Choosing the best member on the images the test then uses favours the member (its lead there is
    partly luck on those images), so the choice is cross-fitted like the temperatures: each half of
    the images compares the ensemble with the member most accurate on the other half, and one
    McNemar test takes every image, each against its half's member.
    """

    chosen: tuple[str, str]  # the member compared on each half (chosen on the other half)
    ensemble_accuracy: float
    member_accuracy: float  # of the chosen members, each on the half it was compared on
    mcnemar: McNemarResult  # only_a_correct: images only the ensemble got right
    p_adjusted: float  # Holm, within the family of this architecture's ensemble-vs-member tests
    family: int  # how many tests that family holds

    @property
    def difference(self) -> float:
        return self.ensemble_accuracy - self.member_accuracy

    @property
    def significant(self) -> bool:
        return self.p_adjusted < ALPHA

    @property
    def verdict(self) -> str:
        """'better' or 'worse' only when the Holm-adjusted test is significant; else 'undecided'."""
        if not self.significant or self.difference == 0:
            return "undecided"
        return "better" if self.difference > 0 else "worse"


def compare_with_best_member(ensemble_correct: np.ndarray, members: Sequence[RunResult]) -> MemberComparison:
    """The ensemble against the member most accurate on the other half (ties: the lowest seed), unadjusted."""
    folds = halves(len(ensemble_correct))
    member_correct = np.empty_like(ensemble_correct)
    chosen = []
    for compare_on, choose_on in (folds, folds[::-1]):
        best = max(members, key=lambda run: int(run.correct[choose_on].sum()))  # max keeps the first of ties
        member_correct[compare_on] = best.correct[compare_on]
        chosen.append(best.label)
    test = mcnemar_exact(ensemble_correct, member_correct)
    return MemberComparison(
        (chosen[0], chosen[1]),
        float(ensemble_correct.mean()),
        float(member_correct.mean()),
        test,
        test.p_value,
        1,
    )


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
    calibration_gaps: tuple[float, ...] = ()  # per model scored: accuracy minus mean confidence (count-weighted)
    ece_scaled_halvings: tuple[float, ...] = ()  # the scaled ECE over seeded random halvings (the first is ece_scaled)
    nll_scaled_halvings: tuple[float, ...] = ()  # the scaled NLL over the same halvings (the first is nll_scaled)
    versus_member: MemberComparison | None = None  # seed ensembles of two or more only
    correct: np.ndarray | None = field(default=None, repr=False, compare=False)  # per test image
    bins: Mapping[str, np.ndarray] | None = field(default=None, repr=False, compare=False)  # its reliability bins
    singles: tuple[EnsembleScore, ...] = field(default=(), repr=False, compare=False)  # a mean's single models

    @property
    def size(self) -> int:
        return len(self.members)

    @property
    def mcnemar_vs_best_member(self) -> McNemarResult | None:
        return self.versus_member.mcnemar if self.versus_member else None

    @property
    def significant_vs_best_member(self) -> bool:
        return self.versus_member is not None and self.versus_member.significant

    @property
    def nll_scaling(self) -> Change:
        """What temperature scaling did to the NLL, judged against its range over the random halvings."""
        return change(self.nll, self.nll_scaled, NLL_SHOWN, self.nll_scaled_range)

    @property
    def ece_scaling(self) -> Change:
        return change(self.ece, self.ece_scaled, ECE_SHOWN, self.ece_scaled_range)

    @property
    def ece_scaled_range(self) -> tuple[float, float] | None:
        """The lowest and highest temperature-scaled ECE over the random halvings; None without them."""
        values = self.ece_scaled_halvings
        return (min(values), max(values)) if values else None

    @property
    def nll_scaled_range(self) -> tuple[float, float] | None:
        values = self.nll_scaled_halvings
        return (min(values), max(values)) if values else None

    @property
    def confidence(self) -> str:
        """Which way the model errs, where both measures agree: the fitted temperatures and the count-weighted gap.

        'under-confident' when every fitted temperature is below 1 (scaling sharpens the outputs) and
        accuracy is above mean confidence, 'over-confident' when every temperature is above 1 and
        accuracy below mean confidence; otherwise 'neither clearly'. The gap weights each reliability
        bin by its images, so a few sparse bins below the diagonal do not decide it.
        """
        temperatures, gaps = self.temperatures, self.calibration_gaps
        if temperatures and gaps and max(temperatures) < 1 and min(gaps) > 0:
            return "under-confident"
        if temperatures and gaps and min(temperatures) > 1 and max(gaps) < 0:
            return "over-confident"
        return "neither clearly over- nor under-confident"

    @property
    def temperatures_agree(self) -> bool:
        """Whether the two halves of each scoring fitted nearly the same temperature."""
        halves_ = list(zip(self.temperatures[::2], self.temperatures[1::2]))
        return all(max(a, b) / min(a, b) <= TEMPERATURE_AGREEMENT for a, b in halves_)


def _mean_output(members: Sequence[RunResult]) -> tuple[np.ndarray, np.ndarray]:
    """The members' mean softmax output (float64) and the test labels they share; an error if they differ."""
    labels = members[0].labels
    for run in members[1:]:
        if not np.array_equal(run.labels, labels):
            raise ReportError(f"{run.label} and {members[0].label} were evaluated on different test images")
    return ensemble([run.probabilities for run in members]), labels


def score_ensemble(name: str, members: list[RunResult], halvings: int = 0) -> EnsembleScore:
    """One ensemble's scores; ``halvings`` > 0 also gives the scaled ECE and NLL over that many random halvings
    (seed 0's is the scaling reported; the others' seeds are 1, 2, ...)."""
    probabilities, labels = _mean_output(members)
    scaling = cross_fitted_temperature_scaling(probabilities, labels)
    bins = reliability(probabilities, labels)
    error = error_of_bins(bins)
    ece_scaled = calibration_error(scaling.probabilities, labels).ece
    nll_scaled = negative_log_likelihood(scaling.probabilities, labels)
    others = scaled_scores_over_halvings(probabilities, labels, range(1, halvings)) if halvings else []
    over_halvings = [(ece_scaled, nll_scaled), *others] if halvings else []
    return EnsembleScore(
        name=name,
        members=tuple(run.label for run in members),
        accuracy=accuracy(probabilities, labels),
        nll=negative_log_likelihood(probabilities, labels),
        ece=error.ece,
        nll_scaled=nll_scaled,
        ece_scaled=ece_scaled,
        temperatures=scaling.temperatures,
        calibration_gaps=(error.gap,),
        ece_scaled_halvings=tuple(ece for ece, _ in over_halvings),
        nll_scaled_halvings=tuple(nll for _, nll in over_halvings),
        correct=probabilities.argmax(1) == labels,
        bins=bins,
    )


@dataclass(frozen=True)
class TwoModelScore:
    """Accuracy and NLL of two models' mean softmax output: what the equal-model-count comparison reads.

    Those ensembles are compared by accuracy (McNemar on ``correct``) and NLL only, so nothing more is
    computed: :func:`score_ensemble`'s temperature fits, reliability bins and ECE would go unread.
    """

    name: str
    members: tuple[str, str]  # run labels
    accuracy: float
    nll: float
    correct: np.ndarray = field(repr=False, compare=False)  # per test image


def score_two_models(name: str, first: RunResult, second: RunResult) -> TwoModelScore:
    """The mean of two models' softmax outputs, scored as :func:`score_ensemble` scores it (same float64 path)."""
    probabilities, labels = _mean_output([first, second])
    return TwoModelScore(
        name=name,
        members=(first.label, second.label),
        accuracy=accuracy(probabilities, labels),
        nll=negative_log_likelihood(probabilities, labels),
        correct=probabilities.argmax(1) == labels,
    )


def mean_single_model(name: str, members: list[RunResult], halvings: int = 0) -> EnsembleScore:
    """The average of the members' own scores: what one model of the architecture gives."""
    singles = [score_ensemble(run.label, [run], halvings) for run in members]
    return EnsembleScore(
        name=name,
        members=(f"mean of {len(singles)} single models",),
        accuracy=float(np.mean([s.accuracy for s in singles])),
        nll=float(np.mean([s.nll for s in singles])),
        ece=float(np.mean([s.ece for s in singles])),
        nll_scaled=float(np.mean([s.nll_scaled for s in singles])),
        ece_scaled=float(np.mean([s.ece_scaled for s in singles])),
        temperatures=tuple(t for s in singles for t in s.temperatures),
        calibration_gaps=tuple(g for s in singles for g in s.calibration_gaps),
        # Per halving, the mean over the single models scaled with that halving.
        ece_scaled_halvings=_mean_per_halving([s.ece_scaled_halvings for s in singles]),
        nll_scaled_halvings=_mean_per_halving([s.nll_scaled_halvings for s in singles]),
        singles=tuple(singles),
    )


def _mean_per_halving(values: list[tuple[float, ...]]) -> tuple[float, ...]:
    return tuple(float(v) for v in np.mean(values, axis=0)) if values and values[0] else ()


def seed_ensembles(runs: Runs, halvings: int = HALVINGS) -> dict[str, list[EnsembleScore]]:
    """For each architecture with two or more seeds: one model (mean), then ensembles of its first 2..k seeds.

    Each ensemble is compared with its best member (:func:`compare_with_best_member`); the tests of
    one architecture form one family, Holm-adjusted.
    """
    result = {}
    for arch in runs.architectures:
        members = runs.of(arch)
        if len(members) < 2:
            continue
        ensembles = [
            score_ensemble(f"{display_name(arch)}, {k} seeds", members[:k], halvings)
            for k in range(2, len(members) + 1)
        ]
        raw = [compare_with_best_member(score.correct, members[: score.size]) for score in ensembles]
        adjusted = holm_adjust([comparison.mcnemar.p_value for comparison in raw])
        ensembles = [
            dataclasses.replace(score, versus_member=dataclasses.replace(comparison, p_adjusted=p, family=len(raw)))
            for score, comparison, p in zip(ensembles, raw, adjusted)
        ]
        result[arch] = [mean_single_model(f"{display_name(arch)}, 1 model", members, halvings), *ensembles]
    return result


def reliability_panels(runs: Runs, ensembles: Mapping[str, Sequence[EnsembleScore]]) -> list[ReliabilityPanel]:
    """Each architecture's first seed alone and, where it has a seed ensemble, the ensemble of all its seeds.

    The bins :func:`seed_ensembles` made are reused: its first single model and its largest ensemble.
    """
    panels = []
    for arch in runs.architectures:
        members = runs.of(arch)
        scores = ensembles.get(arch) or ()
        single = scores[0].singles[0] if scores and scores[0].singles else None
        panels.append(reliability_panel(arch, members[:1], single.bins if single else None))
        if arch in ensembles and len(members) > 1:
            largest = scores[-1] if scores and scores[-1].size == len(members) else None
            panels.append(reliability_panel(arch, members, largest.bins if largest else None))
    return panels


def training_seconds(run: RunResult) -> float:
    """What training a run cost: its epochs times the seconds of its median epoch (robust to a slowed epoch)."""
    return run.record.epochs * run.record.timing.seconds_per_epoch


@dataclass(frozen=True)
class TrainingCompute:
    """What one kind of two-model ensemble cost to train: its members' summed training seconds, over its pairs."""

    mean_seconds: float
    low_seconds: float
    high_seconds: float
    devices: tuple[str, ...]  # the device models its members were timed on


def training_compute(members: Sequence[Sequence[RunResult]]) -> TrainingCompute:
    sums = [sum(training_seconds(run) for run in group) for group in members]
    devices = tuple(dict.fromkeys(run.record.env.device_name for group in members for run in group))
    return TrainingCompute(float(np.mean(sums)), min(sums), max(sums), devices)


@dataclass(frozen=True)
class EqualCountTest:
    """One mixed two-model ensemble against one two-seed ensemble of a single architecture."""

    mixed: str
    same: str
    arch: str  # the single architecture of ``same``
    difference: float  # mixed's accuracy minus same's
    mcnemar: McNemarResult  # only_a_correct: images only the mixed ensemble got right
    p_adjusted: float  # Holm, within the family of the tests against ``arch``'s two-seed ensembles

    @property
    def significant(self) -> bool:
        return self.p_adjusted < ALPHA


@dataclass(frozen=True)
class EqualModelCount:
    """Two models each: every pair of one run of each architecture against every two-seed pair of one.

    Equal model count, not equal compute: the architectures' epochs cost different times, so each
    kind's training compute is given beside it. Every pair is used, not one chosen pair: which seeds
    go together is arbitrary, and one pair's accuracy can sit on either side of another's by chance.
    Each architecture's tests are one family, Holm-adjusted.
    """

    mixed: tuple[TwoModelScore, ...]
    same: Mapping[str, tuple[TwoModelScore, ...]]  # architecture -> its two-seed ensembles
    tests: tuple[EqualCountTest, ...]  # McNemar, Holm-adjusted within each architecture's family
    compute: Mapping[str, TrainingCompute]  # "mixed", or an architecture: what that kind cost to train

    def tests_of(self, arch: str) -> list[EqualCountTest]:
        """The family of tests against that architecture's two-seed ensembles."""
        return [test for test in self.tests if test.arch == arch]

    def ahead(self, arch: str) -> int:
        """How many of the family's comparisons have the mixed ensemble ahead."""
        return sum(test.difference > 0 for test in self.tests_of(arch))

    def behind(self, arch: str) -> int:
        return sum(test.difference < 0 for test in self.tests_of(arch))

    def significant(self, arch: str) -> int:
        return sum(test.significant for test in self.tests_of(arch))

    def verdict(self, arch: str) -> str:
        """'better' or 'worse' only when every test of the family says so after Holm; else 'undecided'."""
        tests = self.tests_of(arch)
        if tests and all(test.significant and test.difference > 0 for test in tests):
            return "better"
        if tests and all(test.significant and test.difference < 0 for test in tests):
            return "worse"
        return "undecided"


def architecture_ensembles(runs: Runs, reference: Reference = BLOG_POST) -> EqualModelCount | None:
    """Two-member ensembles at equal model count: one run of each architecture, against two seeds of one."""
    pair = [arch for arch in (reference.faster, reference.slower) if arch in runs.architectures]
    if len(pair) < 2:
        return None
    first, second = runs.of(pair[0]), runs.of(pair[1])
    mixed_members = [(a, b) for a in first for b in second]
    mixed = tuple(
        score_two_models(f"{display_name(pair[0])} seed {a.seed} + {display_name(pair[1])} seed {b.seed}", a, b)
        for a, b in mixed_members
    )
    same_members = {
        arch: [(a, b) for i, a in enumerate(members) for b in members[i + 1 :]]
        for arch, members in ((pair[0], first), (pair[1], second))
    }
    same_members = {arch: pairs for arch, pairs in same_members.items() if pairs}
    if not same_members:
        return None
    same = {
        arch: tuple(score_two_models(f"{display_name(arch)} seeds {a.seed} + {b.seed}", a, b) for a, b in pairs)
        for arch, pairs in same_members.items()
    }
    tests = []
    for arch, scores in same.items():
        raw = [(m, s, mcnemar_exact(m.correct, s.correct)) for m in mixed for s in scores]
        adjusted = holm_adjust([test.p_value for *_, test in raw])
        tests += [
            EqualCountTest(m.name, s.name, arch, m.accuracy - s.accuracy, t, p) for (m, s, t), p in zip(raw, adjusted)
        ]
    compute = {"mixed": training_compute(mixed_members)}
    compute.update({arch: training_compute(pairs) for arch, pairs in same_members.items()})
    return EqualModelCount(mixed, MappingProxyType(same), tuple(tests), MappingProxyType(compute))


@dataclass(frozen=True)
class ScoreSpread:
    """Several ensembles of one kind (every pair of runs): their accuracy's mean and range, and their mean NLL."""

    count: int
    accuracy_mean: float
    accuracy_low: float
    accuracy_high: float
    nll_mean: float


def spread(scores: Sequence[TwoModelScore]) -> ScoreSpread:
    accuracies = [score.accuracy for score in scores]
    return ScoreSpread(
        len(scores),
        float(np.mean(accuracies)),
        min(accuracies),
        max(accuracies),
        float(np.mean([score.nll for score in scores])),
    )
