"""The report's statistics on cases small enough to check by hand."""

import math

import numpy as np
import pytest
from scipy import stats

from archcompare.report.analysis.calibration import (
    accuracy,
    apply_temperature,
    cross_fitted_temperature_scaling,
    ensemble,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    reliability,
)
from archcompare.report.analysis.statistics import (
    holm_adjust,
    least_squares_fit,
    mcnemar_exact,
    mean_confidence_interval,
    one_sample_t_p_value,
    ratio_interval,
    welch_interval,
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


def test_least_squares_fit_gives_the_slope_and_intercept_of_the_line():
    fit = least_squares_fit(np.array([0, 1, 2, 3]), np.array([1, 3, 5, 7]))
    assert (fit.slope, fit.intercept) == pytest.approx((2.0, 1.0))
    # Points 0, 1, 5 at x = 0, 1, 2: slope = cov / var = (sum (x - 1)(y - 2)) / 2 = (2 + 0 + 3) / 2 = 2.5, and the
    # line passes through the means (1, 2): intercept 2 - 2.5 = -0.5.
    fit = least_squares_fit(np.array([0, 1, 2]), np.array([0, 1, 5]))
    assert (fit.slope, fit.intercept) == pytest.approx((2.5, -0.5))
    with pytest.raises(ValueError):
        least_squares_fit(np.array([1, 1, 1]), np.array([0, 1, 2]))


def test_equal_non_zero_values_give_an_undefined_t_test_that_holm_never_passes():
    # Three seeds each one image ahead in a class: no spread, so t is infinite; that is no evidence of a difference
    # known without error (the old p of 0 resolved such a class with a zero-width interval).
    assert math.isnan(one_sample_t_p_value(np.array([0.125, 0.125, 0.125])))
    assert one_sample_t_p_value(np.array([0.0, 0.0, 0.0])) == 1.0  # no difference anywhere
    adjusted = holm_adjust([0.01, float("nan"), 0.02])
    # The undefined test stays undefined and counts in the family as its largest p: 0.01 x 3, 0.02 x 2.
    assert adjusted[0] == pytest.approx(0.03) and adjusted[2] == pytest.approx(0.04) and math.isnan(adjusted[1])


def test_the_ratio_interval_is_welchs_on_the_log_scale():
    numerator, denominator = np.array([1400.0, 1450.0, 1390.0]), np.array([1700.0, 1650.0, 1690.0, 1660.0])
    result = ratio_interval(numerator, denominator)
    logs = welch_interval(np.log(denominator), np.log(numerator))
    geometric = np.exp(np.log(numerator).mean()) / np.exp(np.log(denominator).mean())
    assert result.mean == pytest.approx(geometric)
    assert (result.low, result.high) == pytest.approx((np.exp(logs.low), np.exp(logs.high)))
    assert result.low < geometric < result.high < 1  # the numerator is slower in every sample
    with pytest.raises(ValueError):
        ratio_interval(np.array([1.0]), denominator)  # one sample has no spread


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


def test_temperature_scaling_of_an_overconfident_model_lowers_nll_and_ece_and_keeps_its_predictions():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 2000)
    logits = rng.normal(size=(2000, 10))
    logits[np.arange(2000), labels] += 2.0
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    overconfident = apply_temperature(probabilities, 1 / 3)  # logits x3
    # Whatever temperature suits the original, the sharpened one needs three times it.
    assert fit_temperature(overconfident, labels) == pytest.approx(3 * fit_temperature(probabilities, labels), rel=1e-3)
    scaled = cross_fitted_temperature_scaling(overconfident, labels).probabilities
    assert np.allclose(scaled.sum(1), 1)
    assert (scaled.argmax(1) == overconfident.argmax(1)).all()  # scaling never changes a prediction
    assert negative_log_likelihood(scaled, labels) < negative_log_likelihood(overconfident, labels)
    assert expected_calibration_error(scaled, labels) < expected_calibration_error(overconfident, labels)


# --- calibration: cases where right and wrong ways of combining bins give different numbers ---

# Six images, two classes. Three fall in the confidence bin (0.6, 0.667] with different confidences
# (0.61, 0.63, 0.65; two right), one in (0.8, 0.867] (0.85, right) and two in (0.933, 1] (0.95 and 0.97,
# both wrong). Per bin |accuracy - mean confidence| weighted by the bin's share of images:
#   3/6 * |2/3 - 0.63| + 1/6 * |1 - 0.85| + 2/6 * |0 - 0.96| = 0.018333 + 0.025 + 0.32 = 0.363333
# The wrong combinations give other numbers: the unweighted mean over non-empty bins 0.382222, the
# mean per image |correct - confidence| 0.58, bin centres instead of mean confidences 0.366667.
ECE_CONFIDENCES = np.array([0.61, 0.63, 0.65, 0.85, 0.95, 0.97])
ECE_CORRECT = np.array([True, True, False, True, False, False])


def ece_case() -> tuple[np.ndarray, np.ndarray]:
    labels = np.zeros(len(ECE_CONFIDENCES), int)
    predicted = np.where(ECE_CORRECT, 0, 1)
    probabilities = np.empty((len(labels), 2))
    probabilities[np.arange(len(labels)), predicted] = ECE_CONFIDENCES
    probabilities[np.arange(len(labels)), 1 - predicted] = 1 - ECE_CONFIDENCES
    return probabilities, labels


def test_expected_calibration_error_weights_each_bins_gap_by_its_share_of_images():
    probabilities, labels = ece_case()
    expected = 3 / 6 * abs(2 / 3 - 0.63) + 1 / 6 * abs(1 - 0.85) + 2 / 6 * abs(0 - 0.96)
    assert expected == pytest.approx(0.363333, abs=1e-6)
    assert expected_calibration_error(probabilities, labels) == pytest.approx(expected, abs=1e-12)
    wrong = {
        "unweighted mean over bins": (abs(2 / 3 - 0.63) + abs(1 - 0.85) + abs(0 - 0.96)) / 3,
        "mean per image": float(np.mean(np.abs(ECE_CORRECT - ECE_CONFIDENCES))),
        "bin centres": 3 / 6 * abs(2 / 3 - 19 / 30) + 1 / 6 * abs(1 - 25 / 30) + 2 / 6 * abs(0 - 29 / 30),
    }
    for name, value in wrong.items():  # the case tells each wrong combination apart
        assert abs(value - expected) > 1e-3, name


def test_reliability_bins_hold_each_bins_count_accuracy_and_mean_confidence():
    probabilities, labels = ece_case()
    bins = reliability(probabilities, labels)
    filled = np.flatnonzero(bins["count"])
    assert filled.tolist() == [9, 12, 14]  # (0.6, 0.667], (0.8, 0.867], (0.933, 1] of 15 equal-width bins
    assert bins["count"][filled].tolist() == [3, 1, 2]
    np.testing.assert_allclose(bins["accuracy"][filled], [2 / 3, 1, 0])
    np.testing.assert_allclose(bins["confidence"][filled], [0.63, 0.85, 0.96])


def miscalibrated(seed: int = 0, n: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    """Probabilities whose best temperature differs between two random halves of the images.

    Images with even index are over-confident (logits x4), odd ones under-confident (logits x0.5), in
    unequal numbers, so that any split into halves gives each half its own best temperature.
    """
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    logits = rng.normal(size=(n, 10))
    logits[np.arange(n), labels] += 2.0
    sharpen = np.where(rng.random(n) < 0.7, 4.0, 0.5)[:, None]
    logits = logits * sharpen
    return np.exp(logits) / np.exp(logits).sum(1, keepdims=True), labels


def nll_minimising_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """An independent fit: scipy's bounded minimiser on NLL(T) of log-probabilities divided by T."""
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    log_p = np.log(probabilities)

    def nll(temperature: float) -> float:
        return -log_softmax(log_p / temperature, axis=1)[np.arange(len(labels)), labels].mean()

    return float(minimize_scalar(nll, bounds=(0.05, 20.0), method="bounded", options={"xatol": 1e-8}).x)


def test_temperature_scaling_scales_each_fold_by_a_temperature_fitted_only_on_the_other_fold():
    probabilities, labels = miscalibrated()
    result = cross_fitted_temperature_scaling(probabilities, labels)
    first, second = result.folds
    assert sorted(np.r_[first, second]) == list(range(len(labels)))  # a partition of the test images
    assert abs(len(first) - len(second)) <= 1
    for fold, other, temperature in ((first, second, result.temperatures[0]), (second, first, result.temperatures[1])):
        fitted_elsewhere = nll_minimising_temperature(probabilities[other], labels[other])
        fitted_on_itself = nll_minimising_temperature(probabilities[fold], labels[fold])
        fitted_on_all = nll_minimising_temperature(probabilities, labels)
        assert temperature == pytest.approx(fitted_elsewhere, rel=1e-3)
        # The case is built so that a leak would show: each fold's own best temperature differs.
        assert abs(fitted_on_itself - fitted_elsewhere) > 0.02 and abs(fitted_on_all - fitted_elsewhere) > 0.01
        np.testing.assert_allclose(
            result.probabilities[fold], apply_temperature(probabilities[fold], fitted_elsewhere), rtol=1e-3, atol=1e-6
        )
