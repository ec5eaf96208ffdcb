"""Error consistency: do two models get the same test images wrong, beyond what their accuracies imply?

Cohen's kappa of per-image correctness (Geirhos et al. 2020, "Beyond accuracy: quantifying
trial-by-trial behaviour of CNNs and humans by measuring error consistency"): with observed
agreement c_obs (the share of images both models get right or both get wrong) and the agreement
chance alone would give two independent models of these accuracies,
c_exp = p1 p2 + (1 - p1)(1 - p2), kappa = (c_obs - c_exp) / (1 - c_exp). It is 1 when the two
models are right on exactly the same images, about 0 when their errors fall independently.

Between the architectures per paired seed, and between seeds of one architecture. Descriptive:
a percentile bootstrap interval over the test images, no test and no verdict. It describes these
trained models on this test set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ...errors import ReportError
from ..runs import RunResult, Runs
from .reference import CONFIDENCE

RESAMPLES = 2000  # bootstrap resamples of the test images
BOOTSTRAP_SEED = 0


def kappa_from_rates(observed: np.ndarray, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Chance agreement and kappa from the observed agreement and the two accuracies (arrays alike).

    Kappa is undefined (NaN) where chance agreement is 1: both models all right, or both all wrong.
    """
    expected = first * second + (1 - first) * (1 - second)
    with np.errstate(invalid="ignore", divide="ignore"):
        kappa = np.where(expected < 1, (observed - expected) / (1 - expected), np.nan)
    return expected, kappa


@dataclass(frozen=True)
class PairConsistency:
    """Two models' per-image agreement: observed, expected by chance, and kappa with its bootstrap interval."""

    first: str  # run labels
    second: str
    first_accuracy: float
    second_accuracy: float
    observed: float  # c_obs: the share of images both got right or both got wrong
    expected: float  # c_exp: what independent errors at these accuracies would give
    kappa: float  # NaN when undefined
    interval: tuple[float, float]  # percentile bootstrap over the test images
    images: int


@dataclass(frozen=True)
class ConsistencyGroup:
    """Several pairs of one kind: between two architectures (paired seeds) or between seeds of one."""

    kind: str  # "between" or "within"
    archs: tuple[str, ...]  # the two architectures compared, or the one whose seeds are
    pairs: tuple[PairConsistency, ...]
    mean_kappa: float
    interval: tuple[float, float]  # of the mean over the pairs, every model's answers resampled together


@dataclass(frozen=True)
class ErrorConsistency:
    """Every group: each architecture against the baseline, then each architecture's seeds."""

    between: tuple[ConsistencyGroup, ...]
    within: tuple[ConsistencyGroup, ...]
    resamples: int
    seed: int
    confidence: float

    @property
    def groups(self) -> tuple[ConsistencyGroup, ...]:
        return self.between + self.within


class _Bootstrap:
    """Kappa of any pair of the given models, on the test images and on bootstrap resamples of them.

    Resampling the images with replacement and counting each pattern of right and wrong answers (one
    bit per model) is the same as drawing the patterns' counts from a multinomial with the observed
    shares: kappa depends on the images only through those counts. So every model's answers on an
    image are resampled together, and 10,000 images cost no more than the few patterns they show.
    """

    def __init__(self, correct: Sequence[np.ndarray], resamples: int, seed: int):
        matrix = np.stack([np.asarray(c, bool) for c in correct])
        self.images = matrix.shape[1]
        weights = 1 << np.arange(len(correct), dtype=np.int64)
        patterns, counts = np.unique(weights @ matrix, return_counts=True)
        self.bits = (patterns[None, :] >> np.arange(len(correct))[:, None]) & 1  # (models, patterns)
        observed = counts / self.images
        draws = np.random.default_rng(seed).multinomial(self.images, observed, size=resamples) / self.images
        self.shares = np.vstack([observed, draws])  # row 0: the test set itself; then the resamples

    def kappa(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Per row of :attr:`shares`: accuracy of a, of b, observed agreement, chance agreement, kappa."""
        first, second = self.shares @ self.bits[a], self.shares @ self.bits[b]
        observed = self.shares @ (self.bits[a] == self.bits[b])
        expected, kappa = kappa_from_rates(observed, first, second)
        return first, second, observed, expected, kappa


def _interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.nanpercentile(values, [tail, 100 - tail]) if np.isfinite(values).any() else (np.nan, np.nan)
    return float(low), float(high)


def cohen_kappa(first: np.ndarray, second: np.ndarray) -> tuple[float, float, float]:
    """Observed agreement, chance agreement and kappa of two models' per-image correctness (kappa NaN if undefined)."""
    first, second = np.asarray(first, bool), np.asarray(second, bool)
    observed = np.mean(first == second)
    expected, kappa = kappa_from_rates(observed, np.mean(first), np.mean(second))
    return float(observed), float(expected), float(kappa)


def consistency_group(
    kind: str,
    archs: tuple[str, ...],
    correct: Mapping[str, np.ndarray],
    pairs: Sequence[tuple[str, str]],
    resamples: int = RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> ConsistencyGroup:
    """Kappa of each pair of models (named in ``correct``: per-image correctness), and their mean, with intervals.

    One bootstrap serves the whole group: every model's answers on a resampled image come together,
    so the interval of the mean keeps the pairs' dependence (they share models and images).
    """
    names = list(dict.fromkeys(name for pair in pairs for name in pair))
    bootstrap = _Bootstrap([correct[name] for name in names], resamples, seed)
    results, kappas = [], []
    for a, b in pairs:
        first, second, observed, expected, kappa = bootstrap.kappa(names.index(a), names.index(b))
        kappas.append(kappa)
        results.append(
            PairConsistency(
                a,
                b,
                float(first[0]),
                float(second[0]),
                float(observed[0]),
                float(expected[0]),
                float(kappa[0]),
                _interval(kappa[1:], CONFIDENCE),
                bootstrap.images,
            )
        )
    mean = np.mean(kappas, axis=0)
    return ConsistencyGroup(kind, archs, tuple(results), float(mean[0]), _interval(mean[1:], CONFIDENCE))


def _group(
    kind: str, archs: tuple[str, ...], pairs: Sequence[tuple[RunResult, RunResult]], resamples: int, seed: int
) -> ConsistencyGroup:
    runs = list(dict.fromkeys(run for pair in pairs for run in pair))
    for run in runs[1:]:
        if not np.array_equal(run.labels, runs[0].labels):
            raise ReportError(f"{run.label} and {runs[0].label} were evaluated on different test images")
    correct = {run.label: run.correct for run in runs}
    return consistency_group(kind, archs, correct, [(a.label, b.label) for a, b in pairs], resamples, seed)


def error_consistency(runs: Runs, resamples: int = RESAMPLES, seed: int = BOOTSTRAP_SEED) -> ErrorConsistency | None:
    """Kappa between each architecture and the baseline (per paired seed), and between each architecture's seeds.

    None when there is nothing to pair: one architecture with one seed.
    """
    archs = runs.architectures
    between = []
    if archs:
        baseline = {run.seed: run for run in runs.of(archs[0])}
        for arch in archs[1:]:
            pairs = [(baseline[run.seed], run) for run in runs.of(arch) if run.seed in baseline]
            if pairs:
                between.append(_group("between", (archs[0], arch), pairs, resamples, seed))
    within = []
    for arch in archs:
        members = runs.of(arch)
        pairs = [(a, b) for i, a in enumerate(members) for b in members[i + 1 :]]
        if pairs:
            within.append(_group("within", (arch,), pairs, resamples, seed))
    if not between and not within:
        return None
    return ErrorConsistency(tuple(between), tuple(within), resamples, seed, CONFIDENCE)
