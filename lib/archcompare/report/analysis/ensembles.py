"""Ensembles of saved test-set predictions: each architecture's seeds, and two models at equal cost.

Nothing is retrained: an ensemble is the mean of its members' softmax outputs (:mod:`.calibration`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from ...architectures import display_name
from ...errors import ReportError
from ..runs import RunResult, Runs
from .calibration import (
    TEMPERATURE_AGREEMENT,
    Change,
    accuracy,
    change,
    cross_fitted_temperature_scaling,
    ensemble,
    expected_calibration_error,
    negative_log_likelihood,
)
from .reference import ALPHA, BLOG_POST, Reference
from .statistics import McNemarResult, holm_adjust, mcnemar_exact


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
    def difference_vs_best_member(self) -> float | None:
        """The ensemble's accuracy minus its most accurate member's; None without that test."""
        if self.mcnemar_vs_best_member is None or self.best_member_accuracy is None:
            return None
        return self.accuracy - self.best_member_accuracy

    @property
    def significant_vs_best_member(self) -> bool:
        test = self.mcnemar_vs_best_member
        return test is not None and test.p_value < ALPHA

    @property
    def nll_scaling(self) -> Change:
        """What temperature scaling did to the NLL."""
        return change(self.nll, self.nll_scaled)

    @property
    def ece_scaling(self) -> Change:
        return change(self.ece, self.ece_scaled)

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

    def tests_of(self, arch: str) -> list[EqualCostTest]:
        """The tests against that architecture's two-seed ensembles."""
        return [test for test in self.tests if test.arch == arch]

    def verdict(self, arch: str) -> str:
        """'better' or 'worse' only when every test against that architecture's pairs says so; else 'undecided'."""
        tests = self.tests_of(arch)
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


@dataclass(frozen=True)
class ScoreSpread:
    """Several ensembles of one kind (every pair of runs): their accuracy's mean and range, and their mean NLL."""

    count: int
    accuracy_mean: float
    accuracy_low: float
    accuracy_high: float
    nll_mean: float


def spread(scores: Sequence[EnsembleScore]) -> ScoreSpread:
    accuracies = [score.accuracy for score in scores]
    return ScoreSpread(
        len(scores),
        float(np.mean(accuracies)),
        min(accuracies),
        max(accuracies),
        float(np.mean([score.nll for score in scores])),
    )
