"""The tests and intervals the comparisons rest on; distributions come from scipy.stats.

- McNemar's exact test compares two classifiers on the same test images (Dietterich 1998,
  "Approximate Statistical Tests for Comparing Supervised Classification Learning Algorithms").
- Means over seeds get Student-t confidence intervals; several comparisons at once get Holm's
  step-down adjustment (Holm 1979), which controls the family-wise error without assuming
  independence.
- Power: how many paired seeds a paired t-test needs, from the noncentral t distribution, over the
  chi-square interval of the spread it is planned from (one spread from two seeds is no plan).
- Per-class differences: a one-sample t-test over seeds, or the Wald interval of pooled discordant counts.
- A least-squares line's slope with its interval, as a description of one fit.
- The ratio of two independent samples' geometric means, with Welch's interval on the log scale.

Calibration (NLL, ECE, temperature scaling) is :mod:`.calibration`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


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
    return mcnemar_from_counts(int(np.sum(correct_a & ~correct_b)), int(np.sum(~correct_a & correct_b)))


def mcnemar_from_counts(only_a: int, only_b: int) -> McNemarResult:
    """Two-sided exact McNemar test from the discordant counts: items only A got right, and only B."""
    if only_a + only_b == 0:
        return McNemarResult(only_a, only_b, 1.0)
    return McNemarResult(
        only_a, only_b, float(stats.binomtest(only_a, only_a + only_b, 0.5, alternative="two-sided").pvalue)
    )


@dataclass(frozen=True)
class MeanInterval:
    mean: float
    low: float
    high: float
    n: int
    confidence: float

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0


def mean_confidence_interval(values: np.ndarray, confidence: float = 0.95) -> MeanInterval:
    """Student-t interval for the mean of ``values``; needs at least two values."""
    values = np.asarray(values, float)
    n = len(values)
    if n < 2:
        raise ValueError("a confidence interval needs at least two values")
    mean = float(values.mean())
    half_width = float(stats.t.ppf(0.5 + confidence / 2, n - 1)) * float(values.std(ddof=1)) / np.sqrt(n)
    return MeanInterval(mean, mean - half_width, mean + half_width, n, confidence)


def holm_adjust(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values, in the order given.

    An undefined p-value (NaN: a test that could not be made) stays undefined and counts in the family
    as its largest p-value would, so it makes no other test easier to pass.
    """
    p = np.asarray(p_values, float)
    m = len(p)
    order = np.argsort(p)  # NaN last
    adjusted = np.full(m, np.nan)
    running = 0.0
    for rank, index in enumerate(order):
        if np.isnan(p[index]):
            break
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return adjusted.tolist()


# --- intervals and power beside the paired comparison ---------------------------------------


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson's score interval of a binomial proportion (an accuracy on ``trials`` test images).

    It stays inside [0, 1] and keeps its coverage near 0 and 1, where the normal (Wald) interval
    does not (Brown, Cai and DasGupta 2001).
    """
    if trials <= 0:
        raise ValueError("a binomial interval needs at least one trial")
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = successes / trials
    centre = (p + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * np.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def welch_interval(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> MeanInterval:
    """Welch's interval of mean(b) - mean(a) for two independent samples (unequal variances allowed)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or len(b) < 2:
        raise ValueError("Welch's interval needs at least two values in each sample")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = float(np.sqrt(va + vb))
    mean = float(b.mean() - a.mean())
    if se == 0:
        return MeanInterval(mean, mean, mean, len(a) + len(b), confidence)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.5 + confidence / 2, df)) * se
    return MeanInterval(mean, mean - half, mean + half, len(a) + len(b), confidence)


def ratio_interval(numerator: np.ndarray, denominator: np.ndarray, confidence: float = 0.95) -> MeanInterval:
    """The ratio of two independent samples' geometric means, with Welch's interval taken on the log scale.

    For positive measurements whose ratio is the quantity (two architectures' images per second, each
    timed in samples of its own): the difference of the mean logs gets Welch's interval and both ends
    are exponentiated, so the interval is of the ratio. Needs two or more values in each sample.
    """
    numerator, denominator = np.asarray(numerator, float), np.asarray(denominator, float)
    if numerator.size and denominator.size and min(numerator.min(), denominator.min()) <= 0:
        raise ValueError("a ratio's interval on the log scale needs positive values")
    logs = welch_interval(np.log(denominator), np.log(numerator), confidence)
    return MeanInterval(float(np.exp(logs.mean)), float(np.exp(logs.low)), float(np.exp(logs.high)), logs.n, confidence)


def paired_t_power(difference: float, sd: float, n: int, alpha: float = 0.05) -> float:
    """Power of the two-sided paired t-test with ``n`` pairs to detect a true mean ``difference``."""
    if n < 2:
        return 0.0
    df = n - 1
    critical = float(stats.t.ppf(1 - alpha / 2, df))
    shift = difference / (sd / np.sqrt(n))
    power = float(stats.nct.sf(critical, df, shift) + stats.nct.cdf(-critical, df, shift))
    if not np.isfinite(power):
        # scipy's noncentral t returns nan far in its tail (a shift of tens of standard errors); there the
        # t statistic is nearly normal around the shift, and the power is that normal's mass beyond the quantile.
        power = float(stats.norm.sf(critical - shift) + stats.norm.cdf(-critical - shift))
    return power


def seeds_needed(
    difference: float, sd: float, alpha: float = 0.05, power: float = 0.8, limit: int = 10_000
) -> int | None:
    """The fewest paired seeds whose paired t-test resolves ``difference`` at ``alpha`` with ``power``.

    ``sd`` is the seed-to-seed standard deviation of the per-seed differences. None when even
    ``limit`` seeds would not do (a difference of 0, or one far below the spread).
    """
    if difference == 0 or sd <= 0:
        return None if difference == 0 else 2

    def enough(n: int) -> bool:
        return paired_t_power(abs(difference), sd, n, alpha) >= power

    high = 2
    while not enough(high):  # power rises with n: double until enough, then bisect for the fewest
        if high >= limit:
            return None
        high = min(2 * high, limit)
    low = high // 2 if high > 2 else 1  # not enough at low (or below the minimum of 2)
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


# --- how far one estimate can be trusted: the spread's own interval, a fitted line's interval ------


def sd_interval(sd: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The confidence interval of a standard deviation estimated from ``n`` values (chi-square, n - 1 df).

    From 2 values (1 degree of freedom) an SD of 0.25 has the 95 % interval 0.11 to 7.9: a plan made
    from that one number could be off by a factor of 30 either way.
    """
    if n < 2:
        raise ValueError("a standard deviation's interval needs at least two values")
    df = n - 1
    tail = (1 - confidence) / 2
    return (
        float(sd * np.sqrt(df / stats.chi2.ppf(1 - tail, df))),
        float(sd * np.sqrt(df / stats.chi2.ppf(tail, df))),
    )


@dataclass(frozen=True)
class SlopeFit:
    """An ordinary least-squares line through points taken as independent: its slope and the slope's interval."""

    slope: float
    intercept: float  # the line's value at x = 0
    low: float  # of the slope
    high: float
    points: int
    confidence: float


def least_squares_fit(x: np.ndarray, y: np.ndarray, confidence: float = 0.95) -> SlopeFit:
    """The least-squares slope of y on x with its Student-t interval (n - 2 degrees of freedom).

    The interval assumes independent points scattered around a straight line; it describes the fit.
    """
    x, y = np.asarray(x, float), np.asarray(y, float)
    if len(x) < 3 or np.ptp(x) == 0:
        raise ValueError("a slope's interval needs at least three points at two or more x values")
    fit = stats.linregress(x, y)
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 2)) * float(fit.stderr)
    slope = float(fit.slope)
    return SlopeFit(slope, float(fit.intercept), slope - half, slope + half, len(x), confidence)


def one_sample_t_p_value(values: np.ndarray) -> float:
    """Two-sided p-value of Student's one-sample t-test that the mean of ``values`` is 0.

    Values that do not vary give 1 when they are all 0 (no difference anywhere) and NaN otherwise: with no
    spread the t statistic is infinite, but equal values from a few seeds (one image more of a class in
    each) are no evidence of an infinitely precise difference, so the test is undefined, never passed.
    """
    values = np.asarray(values, float)
    if len(values) < 2:
        raise ValueError("a t-test needs at least two values")
    if np.ptp(values) == 0:
        return 1.0 if values[0] == 0 else float("nan")
    return float(stats.ttest_1samp(values, 0.0).pvalue)


def paired_wald_interval(only_a: int, only_b: int, n: int, confidence: float = 0.95) -> tuple[float, float, float]:
    """The Wald interval of a paired difference of proportions, (only_b - only_a) / n, from discordant counts.

    The normal approximation to the difference of two classifiers' accuracies on the same ``n`` items
    (Agresti, "Categorical Data Analysis", 10.1): it measures test-set noise only. Returns
    (difference, low, high).
    """
    if n <= 0:
        return 0.0, 0.0, 0.0
    difference = (only_b - only_a) / n
    variance = max(only_a + only_b - (only_b - only_a) ** 2 / n, 0.0) / n**2
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * float(np.sqrt(variance))
    return difference, difference - half, difference + half


def seeds_needed_range(
    difference: float, sd: float, n: int, confidence: float = 0.95, alpha: float = 0.05, power: float = 0.8
) -> tuple[int | None, int | None]:
    """Paired seeds needed over the SD's confidence interval: (at its low end, at its high end).

    None at an end where even :func:`seeds_needed`'s limit would not do.
    """
    low, high = sd_interval(sd, n, confidence)
    return seeds_needed(difference, low, alpha, power), seeds_needed(difference, high, alpha, power)
