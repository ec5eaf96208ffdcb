"""Calibration: the members' mean softmax output, NLL, ECE, reliability bins and temperature scaling.

Ensembles average their members' softmax outputs; they are judged by accuracy, negative
log-likelihood and expected calibration error with 15 equal-width bins (Guo et al. 2017; the
binning of google/uncertainty-baselines), before and after temperature scaling, since rankings by
NLL and ECE can change once over-confidence is removed (Ashukha et al. 2020).

Every score is computed in float64: the runs store their probabilities as float32, whose sums over
10,000 images carry errors near the last digit the report shows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum

import numpy as np
from scipy import optimize, special

from ..format import ECE_DIGITS, NLL_DIGITS, number
from ..runs import RunResult, Runs

ECE_BINS = 15
# Two halves of the test set whose fitted temperatures differ by more than this factor disagree on
# the model's calibration: the test set is then too small to fit one temperature reliably.
TEMPERATURE_AGREEMENT = 1.10
# How many random halvings of the test set the temperature-scaled ECE and NLL are recomputed over (seeds 0 to
# HALVINGS - 1; seed 0 gives the reported value): on 1,000 images it moves by about a point with the halves.
HALVINGS = 10
# The decimals the report shows each score to (format.py's one rounding): a change below them is none.
NLL_SHOWN = NLL_DIGITS
ECE_SHOWN = ECE_DIGITS + 2  # ECE is a fraction shown as a percentage to ECE_DIGITS decimals
# A reliability bin is sparse below 1 % of the images or below 20 images: 20 images give an accuracy
# whose binomial standard error is up to 11 points, too wide to place a bar against the diagonal.
SPARSE_SHARE = 0.01
SPARSE_COUNT = 20


def as_float64(probabilities: np.ndarray) -> np.ndarray:
    return np.asarray(probabilities, dtype=np.float64)


def ensemble(probabilities: list[np.ndarray]) -> np.ndarray:
    """The members' mean softmax output, in float64."""
    return np.mean(np.stack([as_float64(p) for p in probabilities]), axis=0)


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(probabilities.argmax(1) == labels))


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p(true class) in float64; probabilities are clipped at 1e-12 so a confident miss stays finite."""
    true_class = as_float64(probabilities)[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.clip(true_class, 1e-12, None))))


def _bins(probabilities: np.ndarray, labels: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each image's confidence (float64), correctness and equal-width bin, bins being (lo, hi]."""
    probabilities = as_float64(probabilities)
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == labels
    # Confidence 1.0 falls in the last bin; the lowest possible confidence is 1/classes > 0.
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    return confidence, correct, which


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Per equal-width confidence bin: its centre, mean confidence, accuracy, count and share of the images."""
    confidence, correct, which = _bins(probabilities, labels, bins)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, confidence, minlength=bins) / count
        accuracy_in_bin = np.bincount(which, correct.astype(np.float64), minlength=bins) / count
    return {
        "centre": (np.arange(bins) + 0.5) / bins,
        "confidence": mean_confidence,
        "accuracy": accuracy_in_bin,
        "count": count,
        "share": count / len(labels),
    }


@dataclass(frozen=True)
class CalibrationError:
    """The ECE split by the side of the diagonal each bin lies on, and the count-weighted gap.

    ``under + over`` is the ECE. ``gap`` is accuracy minus mean confidence over all images: each bin's
    signed gap weighted by its share, so positive means under-confident where the images are.
    """

    under: float  # from bins whose accuracy is above their confidence
    over: float  # from bins whose accuracy is below it
    gap: float

    @property
    def ece(self) -> float:
        return self.under + self.over


def calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> CalibrationError:
    """ECE (Guo et al. 2017): the sum over bins of |accuracy - confidence| weighted by the bin's share."""
    return error_of_bins(reliability(probabilities, labels, bins))


def error_of_bins(table: Mapping[str, np.ndarray]) -> CalibrationError:
    """:func:`calibration_error` from the :func:`reliability` bins already made."""
    filled = table["count"] > 0
    signed = table["share"][filled] * (table["accuracy"][filled] - table["confidence"][filled])
    return CalibrationError(
        under=float(signed[signed > 0].sum()), over=float(-signed[signed < 0].sum()), gap=float(signed.sum())
    )


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Sum over equal-width confidence bins of |accuracy - confidence| weighted by the bin's share."""
    return calibration_error(probabilities, labels, bins).ece


def _log_probabilities(probabilities: np.ndarray) -> np.ndarray:
    return np.log(np.clip(as_float64(probabilities), 1e-12, None))


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax(log p / T) in float64: for a single model the same as dividing its logits by T."""
    return special.softmax(_log_probabilities(probabilities) / temperature, axis=1)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising NLL on these images (bounded search over log T)."""
    log_p = _log_probabilities(probabilities)
    true_class = log_p[np.arange(len(labels)), labels]

    def nll(log_t: float) -> float:
        temperature = float(np.exp(log_t))
        return float(np.mean(special.logsumexp(log_p / temperature, axis=1) - true_class / temperature))

    result = optimize.minimize_scalar(nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded")
    return float(np.exp(result.x))


def halves(images: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two halves of the test images (index arrays), from a seeded permutation: the cross-fitting's folds."""
    order = np.random.default_rng(seed).permutation(images)
    return order[: images // 2], order[images // 2 :]


@dataclass(frozen=True)
class CrossFittedScaling:
    """Temperature-scaled probabilities and how they were made: the two folds and each fold's temperature."""

    probabilities: np.ndarray
    folds: tuple[np.ndarray, np.ndarray]  # image indices of the two halves
    temperatures: tuple[float, float]  # the temperature applied to each fold, fitted on the other one


def cross_fitted_temperature_scaling(
    probabilities: np.ndarray, labels: np.ndarray, seed: int = 0
) -> CrossFittedScaling:
    """Temperature-scaled probabilities, each half scaled by a temperature fitted on the other half.

    2-fold cross-fitting on the test set: no image is scaled by a temperature fitted on itself, so
    NLL and ECE after scaling are not optimistic. The split is :func:`halves` of the images.
    """
    folds = halves(len(labels), seed)
    scaled = np.empty_like(probabilities, dtype=np.float64)
    temperatures = []
    for apply_to, fit_on in (folds, folds[::-1]):
        temperature = fit_temperature(probabilities[fit_on], labels[fit_on])
        scaled[apply_to] = apply_temperature(probabilities[apply_to], temperature)
        temperatures.append(temperature)
    return CrossFittedScaling(scaled, folds, (temperatures[0], temperatures[1]))


def scaled_scores_over_halvings(
    probabilities: np.ndarray, labels: np.ndarray, seeds: range = range(HALVINGS)
) -> list[tuple[float, float]]:
    """The temperature-scaled ECE and NLL for each seeded random halving of the test images."""
    scores = []
    for seed in seeds:
        scaled = cross_fitted_temperature_scaling(probabilities, labels, seed).probabilities
        scores.append((expected_calibration_error(scaled, labels), negative_log_likelihood(scaled, labels)))
    return scores


class Change(Enum):
    """What temperature scaling did to a score (NLL or ECE), as far as the evidence shows."""

    LOWERED = "lowered"
    RAISED = "raised"
    UNCHANGED = "unchanged"  # the same to the digits the report shows
    WITHIN_NOISE = "unchanged within the noise"  # the unscaled score lies within the scaled one's range over halvings


def change(before: float, after: float, digits: int, spread: tuple[float, float] | None = None) -> Change:
    """Lowered or raised only where the report's digits show a change and every random halving agrees on it.

    ``digits``: the decimals the report shows the score to (:mod:`..format`'s one rounding). ``spread``:
    the scaled score's range over the random halvings; when the unscaled score lies within it, some
    halvings of the images move the score one way and some the other, so the direction is the choice of
    halves, not the scaling's.
    """

    def shown(value: float) -> Decimal:
        return Decimal(number(value, digits).replace(",", ""))

    if shown(before) == shown(after):
        return Change.UNCHANGED
    if spread is not None and shown(min(spread)) <= shown(before) <= shown(max(spread)):
        return Change.WITHIN_NOISE
    return Change.LOWERED if after < before else Change.RAISED


def label_smoothing(runs: Runs) -> dict[float, tuple[str, ...]]:
    """Each label smoothing the complete runs were trained with (their config's ``label_smoothing``), with its runs.

    A record without the field was trained without it (the config's default is 0).
    """
    values: dict[float, list[str]] = {}
    for run in runs.complete:
        values.setdefault(float(run.record.config.get("label_smoothing", 0.0)), []).append(run.label)
    return {value: tuple(labels) for value, labels in values.items()}


@dataclass(frozen=True, eq=False)
class ReliabilityPanel:
    """One reliability diagram: a single model (one run) or an ensemble of an architecture's seeds."""

    arch: str
    members: tuple[RunResult, ...]
    bins: Mapping[str, np.ndarray]  # :func:`reliability` of the members' mean softmax output
    error: CalibrationError

    @property
    def ece(self) -> float:
        return self.error.ece

    @property
    def single(self) -> bool:
        return len(self.members) == 1

    @property
    def sparse(self) -> np.ndarray:
        """Per bin: whether it holds images, but too few to place its accuracy (:data:`SPARSE_SHARE`, :data:`SPARSE_COUNT`)."""
        count = self.bins["count"]
        return (count > 0) & ((self.bins["share"] < SPARSE_SHARE) | (count < SPARSE_COUNT))

    @property
    def dense(self) -> np.ndarray:
        return (self.bins["count"] > 0) & ~self.sparse

    @property
    def fullest_share(self) -> float:
        """The share of the images in the fullest bin."""
        return float(self.bins["share"].max())

    def _side(self, below: bool) -> np.ndarray:
        """Per bin: whether it holds images and its accuracy lies below (or above) its mean confidence."""
        filled = self.bins["count"] > 0
        with np.errstate(invalid="ignore"):
            gap = self.bins["accuracy"] - self.bins["confidence"]
        return filled & ((gap < 0) if below else (gap > 0))

    @property
    def bars_below(self) -> int:
        """Drawn bins (sparse or not) whose accuracy is below their mean confidence: over-confident bins."""
        return int(self._side(below=True).sum())

    @property
    def bars_above(self) -> int:
        return int(self._side(below=False).sum())

    def share_on_side(self, below: bool) -> float:
        """The share of the images in the bins below (or above) the diagonal."""
        return float(self.bins["share"][self._side(below)].sum())


def reliability_panel(
    arch: str, members: Sequence[RunResult], bins: Mapping[str, np.ndarray] | None = None
) -> ReliabilityPanel:
    """The panel of one model or of the mean of several; ``bins`` when they were made already (an ensemble's score)."""
    if bins is None:
        bins = reliability(ensemble([run.probabilities for run in members]), members[0].labels)
    return ReliabilityPanel(arch, tuple(members), bins, error_of_bins(bins))
