"""The report's statistics on cases small enough to check by hand."""

import math

import numpy as np
import pytest
from scipy import stats

from archcompare.report.statistics import (
    accuracy,
    apply_temperature,
    cross_fitted_temperature_scaling,
    ensemble,
    expected_calibration_error,
    fit_temperature,
    holm_adjust,
    least_squares_slope,
    mcnemar_exact,
    mean_confidence_interval,
    negative_log_likelihood,
    reliability,
)


def test_mcnemar_exact_matches_the_binomial_tail():
    # 10 images only A gets right, 2 only B: p = 2 * P(X <= 2), X ~ Bin(12, 1/2) = 2 * 79 / 4096.
    a = np.array([1] * 10 + [0] * 2 + [1] * 50 + [0] * 5, bool)
    b = np.array([0] * 10 + [1] * 2 + [1] * 50 + [0] * 5, bool)
    result = mcnemar_exact(a, b)
    assert (result.only_a_correct, result.only_b_correct) == (10, 2)
    assert result.p_value == pytest.approx(2 * 79 / 4096, rel=1e-12)
    assert mcnemar_exact(a, a).p_value == 1.0
    assert mcnemar_exact(b, a).p_value == pytest.approx(result.p_value)


@pytest.mark.parametrize("only_a, only_b", [(60, 35), (3000, 2900)])
def test_mcnemar_counts_give_the_exact_binomial_p_not_a_normal_approximation(only_a, only_b):
    a = np.r_[np.ones(only_a, bool), np.zeros(only_b, bool)]
    b = np.r_[np.zeros(only_a, bool), np.ones(only_b, bool)]
    n = only_a + only_b
    exact = 2 * stats.binom.cdf(only_b, n, 0.5)
    normal = 2 * stats.norm.sf(abs(only_a - only_b) / math.sqrt(n))  # McNemar's chi-square without correction
    assert mcnemar_exact(a, b).p_value == pytest.approx(exact, rel=1e-9)
    assert mcnemar_exact(a, b).p_value != pytest.approx(normal, rel=1e-3)  # the test tells the two apart


def test_mean_confidence_interval_matches_the_t_table():
    interval = mean_confidence_interval(np.array([1.0, 2.0, 3.0]))
    half = 4.302653 * 1.0 / np.sqrt(3)  # t(0.975, 2) from the table
    assert interval.mean == 2.0
    assert (interval.low, interval.high) == pytest.approx((2 - half, 2 + half), abs=1e-5)
    assert not interval.excludes_zero()  # [-0.48, 4.48]
    assert mean_confidence_interval(np.array([2.0, 3.0, 4.0])).excludes_zero()  # [0.52, 5.48]
    with pytest.raises(ValueError):
        mean_confidence_interval(np.array([1.0]))


def test_holm_adjustment_on_a_textbook_case():
    # p = 0.01, 0.04, 0.03, 0.005 (m = 4): sorted 0.005, 0.01, 0.03, 0.04 -> x4, x3, x2, x1 = 0.02, 0.03, 0.06, 0.04,
    # then made monotone: 0.02, 0.03, 0.06, 0.06; returned in the input order.
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.5, 0.9]) == pytest.approx([1.0, 1.0])  # capped at 1
    assert holm_adjust([0.2]) == pytest.approx([0.2])


def test_least_squares_slope():
    assert least_squares_slope(np.array([0, 1, 2, 3]), np.array([1, 3, 5, 7])) == pytest.approx(2.0)
    # Points 0, 1, 5 at x = 0, 1, 2: slope = cov / var = (sum (x - 1)(y - 2)) / 2 = (2 + 0 + 3) / 2 = 2.5
    assert least_squares_slope(np.array([0, 1, 2]), np.array([0, 1, 5])) == pytest.approx(2.5)
    with pytest.raises(ValueError):
        least_squares_slope(np.array([1, 1]), np.array([0, 1]))


# A tiny probability table: 4 images, 2 classes, labels 0, 0, 1, 1.
LABELS = np.array([0, 0, 1, 1])
MODEL_A = np.array([[0.9, 0.1], [0.6, 0.4], [0.3, 0.7], [0.8, 0.2]])  # right, right, right, wrong
MODEL_B = np.array([[0.7, 0.3], [0.2, 0.8], [0.4, 0.6], [0.4, 0.6]])  # right, wrong, right, right


def test_ensemble_accuracy_and_nll_by_hand():
    mean = ensemble([MODEL_A, MODEL_B])
    np.testing.assert_allclose(mean, [[0.8, 0.2], [0.4, 0.6], [0.35, 0.65], [0.6, 0.4]])
    assert accuracy(MODEL_A, LABELS) == 0.75 and accuracy(MODEL_B, LABELS) == 0.75
    assert accuracy(mean, LABELS) == 0.5  # the ensemble gets images 0 and 2 right
    expected_nll = -(math.log(0.8) + math.log(0.4) + math.log(0.65) + math.log(0.4)) / 4
    assert negative_log_likelihood(mean, LABELS) == pytest.approx(expected_nll)


def test_expected_calibration_error_on_a_known_case():
    # Confidences 0.9 (right), 0.6 (right), 0.7 (right), 0.8 (wrong) fall in four different bins of 15:
    # ECE = (|1 - 0.9| + |1 - 0.6| + |1 - 0.7| + |0 - 0.8|) / 4 = (0.1 + 0.4 + 0.3 + 0.8) / 4 = 0.4
    assert expected_calibration_error(MODEL_A, LABELS) == pytest.approx(0.4)
    # One bin: two images at confidence 0.75, one right -> |0.5 - 0.75| = 0.25
    same_bin = np.array([[0.75, 0.25], [0.75, 0.25]])
    assert expected_calibration_error(same_bin, np.array([0, 1])) == pytest.approx(0.25)
    # Perfectly calibrated: confidence 1 and always right
    assert expected_calibration_error(np.eye(2), np.array([0, 1])) == 0.0
    bins = reliability(MODEL_A, LABELS)
    assert bins["count"].sum() == 4 and len(bins["centre"]) == 15


def test_temperature_scaling_is_fitted_without_the_images_it_scales():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 2000)
    logits = rng.normal(size=(2000, 10))
    logits[np.arange(2000), labels] += 2.0
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    overconfident = apply_temperature(probabilities, 1 / 3)  # logits x3
    # Whatever temperature suits the original, the sharpened one needs three times it.
    assert fit_temperature(overconfident, labels) == pytest.approx(3 * fit_temperature(probabilities, labels), rel=1e-3)
    scaled = cross_fitted_temperature_scaling(overconfident, labels)
    assert np.allclose(scaled.sum(1), 1)
    assert (scaled.argmax(1) == overconfident.argmax(1)).all()  # scaling never changes a prediction
    assert negative_log_likelihood(scaled, labels) < negative_log_likelihood(overconfident, labels)
    assert expected_calibration_error(scaled, labels) < expected_calibration_error(overconfident, labels)
