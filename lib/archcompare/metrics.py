"""Metrics and the statistics the comparison rests on, in plain numpy and math.

McNemar's exact test compares two classifiers on the same test images (Dietterich 1998,
"Approximate Statistical Tests for Comparing Supervised Classification Learning Algorithms").
The mean difference over seeds gets a Student-t confidence interval; the t quantile is computed
here (a closed form for integer degrees of freedom) rather than adding scipy for one function.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts with true classes as rows and predicted classes as columns."""
    return np.bincount(
        np.asarray(labels) * num_classes + np.asarray(predictions), minlength=num_classes * num_classes
    ).reshape(num_classes, num_classes)


def per_class_accuracy(confusion: np.ndarray) -> np.ndarray:
    totals = confusion.sum(1)
    return np.divide(np.diag(confusion), totals, out=np.zeros(len(totals)), where=totals > 0)


@dataclass(frozen=True)
class McNemarResult:
    only_a_correct: int  # test images model A got right and model B got wrong
    only_b_correct: int
    p_value: float  # two-sided exact binomial p-value


def mcnemar_exact(correct_a: np.ndarray, correct_b: np.ndarray) -> McNemarResult:
    """Two-sided exact McNemar test on paired per-image correctness."""
    correct_a, correct_b = np.asarray(correct_a, bool), np.asarray(correct_b, bool)
    if correct_a.shape != correct_b.shape:
        raise ValueError(f"paired predictions differ in shape: {correct_a.shape} vs {correct_b.shape}")
    b = int(np.sum(correct_a & ~correct_b))
    c = int(np.sum(~correct_a & correct_b))
    n = b + c
    if n == 0:
        return McNemarResult(b, c, 1.0)
    k = min(b, c)
    # P(X <= k) for X ~ Binomial(n, 1/2), summed in log space so large n does not underflow.
    log_terms = [
        math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) - n * math.log(2) for i in range(k + 1)
    ]
    top = max(log_terms)
    tail = math.exp(top) * sum(math.exp(t - top) for t in log_terms)
    return McNemarResult(b, c, min(1.0, 2 * tail))


def student_t_cdf(t: float, df: int) -> float:
    """CDF of Student's t for integer df (Abramowitz & Stegun 26.7.3 and 26.7.4)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be at least 1, got {df}")
    theta = math.atan(abs(t) / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2 == 1:
        series, term = 0.0, 1.0
        for k in range(1, (df - 1) // 2 + 1):
            series += term
            term *= c2 * (2 * k) / (2 * k + 1)
        inside = (2 / math.pi) * (theta + math.sin(theta) * math.cos(theta) * series) if df > 1 else 2 * theta / math.pi
    else:
        series, term = 0.0, 1.0
        for k in range(1, df // 2 + 1):
            series += term
            term *= c2 * (2 * k - 1) / (2 * k)
        inside = math.sin(theta) * series
    # `inside` is P(|T| < |t|).
    return 0.5 + 0.5 * inside if t >= 0 else 0.5 - 0.5 * inside


def student_t_quantile(p: float, df: int) -> float:
    """Inverse of :func:`student_t_cdf` by bisection (monotone, so 200 halvings are exact enough)."""
    if not 0 < p < 1:
        raise ValueError(f"p must be in (0, 1), got {p}")
    low, high = -1e6, 1e6
    for _ in range(200):
        middle = (low + high) / 2
        if student_t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2


@dataclass(frozen=True)
class MeanInterval:
    mean: float
    low: float
    high: float
    n: int
    confidence: float


def mean_confidence_interval(values: np.ndarray, confidence: float = 0.95) -> MeanInterval:
    """Student-t interval for the mean of ``values``; needs at least two values."""
    values = np.asarray(values, float)
    n = len(values)
    if n < 2:
        raise ValueError("a confidence interval needs at least two values")
    mean = float(values.mean())
    half_width = student_t_quantile(0.5 + confidence / 2, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    return MeanInterval(mean, mean - half_width, mean + half_width, n, confidence)
