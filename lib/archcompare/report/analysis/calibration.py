"""Calibration: the members' mean softmax output, NLL, ECE, reliability bins and temperature scaling.

Ensembles average their members' softmax outputs; they are judged by accuracy, negative
log-likelihood and expected calibration error with 15 equal-width bins (Guo et al. 2017; the
binning of google/uncertainty-baselines), before and after temperature scaling, since rankings by
NLL and ECE can change once over-confidence is removed (Ashukha et al. 2020).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum

import numpy as np
from scipy import optimize

from ..runs import RunResult, Runs

ECE_BINS = 15
# Two halves of the test set whose fitted temperatures differ by more than this factor disagree on
# the model's calibration: the test set is then too small to fit one temperature reliably.
TEMPERATURE_AGREEMENT = 1.10


def ensemble(probabilities: list[np.ndarray]) -> np.ndarray:
    """The members' mean softmax output."""
    return np.mean(np.stack(probabilities), axis=0)


def accuracy(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(probabilities.argmax(1) == labels))


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p(true class); probabilities are clipped at 1e-12 so a confident miss stays finite."""
    return float(-np.mean(np.log(np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, None))))


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Sum over equal-width confidence bins of |accuracy - confidence| weighted by the bin's share."""
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == labels
    # Bins are (lo, hi]: confidence 1.0 falls in the last; the lowest possible confidence is 1/classes > 0.
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    error = 0.0
    for b in range(bins):
        members = which == b
        if members.any():
            error += members.mean() * abs(correct[members].mean() - confidence[members].mean())
    return float(error)


def reliability(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> dict[str, np.ndarray]:
    """Per equal-width confidence bin: its centre, mean confidence, accuracy and count."""
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == labels
    which = np.clip(np.ceil(confidence * bins).astype(int) - 1, 0, bins - 1)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_confidence = np.bincount(which, confidence, minlength=bins) / count
        accuracy_in_bin = np.bincount(which, correct.astype(float), minlength=bins) / count
    return {
        "centre": (np.arange(bins) + 0.5) / bins,
        "confidence": mean_confidence,
        "accuracy": accuracy_in_bin,
        "count": count,
    }


def apply_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    """Softmax(log p / T): for a single model the same as dividing its logits by T."""
    logits = np.log(np.clip(probabilities, 1e-12, None)) / temperature
    logits -= logits.max(1, keepdims=True)
    scaled = np.exp(logits)
    return scaled / scaled.sum(1, keepdims=True)


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising NLL on these images (bounded search over log T)."""
    result = optimize.minimize_scalar(
        lambda log_t: negative_log_likelihood(apply_temperature(probabilities, float(np.exp(log_t))), labels),
        bounds=(np.log(0.05), np.log(20.0)),
        method="bounded",
    )
    return float(np.exp(result.x))


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
    NLL and ECE after scaling are not optimistic. The split is a fixed permutation of the images.
    """
    order = np.random.default_rng(seed).permutation(len(labels))
    folds = (order[: len(order) // 2], order[len(order) // 2 :])
    scaled = np.empty_like(probabilities, dtype=float)
    temperatures = []
    for apply_to, fit_on in (folds, folds[::-1]):
        temperature = fit_temperature(probabilities[fit_on], labels[fit_on])
        scaled[apply_to] = apply_temperature(probabilities[apply_to], temperature)
        temperatures.append(temperature)
    return CrossFittedScaling(scaled, folds, (temperatures[0], temperatures[1]))


class Change(Enum):
    """What temperature scaling did to a score (NLL or ECE)."""

    LOWERED = "lowered"
    RAISED = "raised"
    UNCHANGED = "left"


def change(before: float, after: float) -> Change:
    return Change.LOWERED if after < before else Change.RAISED if after > before else Change.UNCHANGED


@dataclass(frozen=True, eq=False)
class ReliabilityPanel:
    """One reliability diagram: a single model (one run) or an ensemble of an architecture's seeds."""

    arch: str
    members: tuple[RunResult, ...]
    bins: Mapping[str, np.ndarray]  # :func:`reliability` of the members' mean softmax output
    ece: float

    @property
    def single(self) -> bool:
        return len(self.members) == 1


def reliability_panels(runs: Runs, ensembles: Mapping[str, object]) -> list[ReliabilityPanel]:
    """Each architecture's first seed alone and, where it has a seed ensemble, the ensemble of all its seeds."""
    panels = []
    for arch in runs.architectures:
        members = runs.of(arch)
        chosen = [[members[0]]]
        if arch in ensembles and len(members) > 1:
            chosen.append(members)
        for group in chosen:
            probabilities = ensemble([run.probabilities for run in group])
            labels = group[0].labels
            panels.append(
                ReliabilityPanel(
                    arch,
                    tuple(group),
                    reliability(probabilities, labels),
                    expected_calibration_error(probabilities, labels),
                )
            )
    return panels
