import numpy as np
import pytest

from archcompare.metrics import (
    confusion_matrix,
    mcnemar_exact,
    mean_confidence_interval,
    per_class_accuracy,
    student_t_cdf,
    student_t_quantile,
)


def test_confusion_matrix_and_per_class_accuracy():
    labels = np.array([0, 0, 1, 1, 2, 2])
    predictions = np.array([0, 1, 1, 1, 0, 2])
    confusion = confusion_matrix(labels, predictions, 3)
    assert confusion.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert per_class_accuracy(confusion).tolist() == [0.5, 1.0, 0.5]


def test_mcnemar_exact_matches_the_binomial_tail():
    # 10 images only A gets right, 2 only B: p = 2 * P(X <= 2), X ~ Bin(12, 1/2) = 2 * 79 / 4096.
    a = np.array([1] * 10 + [0] * 2 + [1] * 50 + [0] * 5, bool)
    b = np.array([0] * 10 + [1] * 2 + [1] * 50 + [0] * 5, bool)
    result = mcnemar_exact(a, b)
    assert (result.only_a_correct, result.only_b_correct) == (10, 2)
    assert result.p_value == pytest.approx(2 * 79 / 4096)
    assert mcnemar_exact(a, a).p_value == 1.0
    assert mcnemar_exact(b, a).p_value == pytest.approx(result.p_value)


def test_mcnemar_large_counts_do_not_underflow():
    a = np.r_[np.ones(3000, bool), np.zeros(2900, bool)]
    b = np.r_[np.zeros(3000, bool), np.ones(2900, bool)]
    assert 0.1 < mcnemar_exact(a, b).p_value < 1.0


@pytest.mark.parametrize(
    "df, quantile", [(1, 12.7062), (2, 4.3027), (3, 3.1824), (4, 2.7764), (9, 2.2622), (30, 2.0423)]
)
def test_student_t_quantiles_match_tables(df, quantile):
    assert student_t_quantile(0.975, df) == pytest.approx(quantile, abs=1e-3)
    assert student_t_cdf(quantile, df) == pytest.approx(0.975, abs=1e-5)
    assert student_t_cdf(-quantile, df) == pytest.approx(0.025, abs=1e-5)


def test_mean_confidence_interval():
    interval = mean_confidence_interval(np.array([1.0, 2.0, 3.0]))
    half = 4.3027 * 1.0 / np.sqrt(3)
    assert interval.mean == 2.0
    assert (interval.low, interval.high) == pytest.approx((2 - half, 2 + half), abs=1e-3)
    with pytest.raises(ValueError):
        mean_confidence_interval(np.array([1.0]))
