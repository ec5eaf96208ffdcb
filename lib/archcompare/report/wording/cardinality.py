"""The cardinality sweep in words: whether accuracy rises with cardinality, and the figure's caption."""

from __future__ import annotations

from ..analysis.cardinality import IMAGENET_TOP1_ERROR_BY_CARDINALITY, CardinalityTrend, Trend
from ..analysis.reference import MIN_VERDICT_SEEDS
from ..format import gmacs, interval_points, million_params, number, percent, share


def _per_doubling(fraction: float) -> str:
    return f"{number(100 * fraction, sign=True)}"


def _fit_text(trend: CardinalityTrend) -> str:
    """The least-squares line through every run, as a description: its interval treats the runs as independent."""
    fit = trend.fit
    if fit is None:
        return ""
    return (
        f"A least-squares line through the {fit.points} runs has a slope of {_per_doubling(fit.slope)} percentage points "
        f"per doubling of cardinality ({fit.confidence:.0%} interval of that slope {_per_doubling(fit.low)} to "
        f"{_per_doubling(fit.high)}). That interval describes the fit: it takes the runs as independent points around "
        "a straight line and leaves out how the whole sweep would move with another seed."
    )


def cardinality_markdown(trend: CardinalityTrend) -> str:
    """Whether accuracy rises with cardinality here, judged on the interval of the slope over seeds."""
    (params_low, params_high), (macs_low, macs_high) = trend.params_range, trend.macs_range
    spread = (
        f"The variants have {million_params(params_low)} to {million_params(params_high)} M parameters and "
        f"{gmacs(macs_low)} to {gmacs(macs_high)} GMACs per image, so their complexity is nearly equal "
        f"(parameters within {share(trend.params_spread, 1)} of each other and MACs within "
        f"{share(trend.macs_spread, 1)}), as the design intends."
    )
    interval = trend.slope_interval
    over_seeds = (
        f"Per seed, the least-squares slope of test accuracy on log2(cardinality) averages "
        f"{_per_doubling(interval.mean)} percentage points per doubling ({interval.confidence:.0%} interval over "
        f"{interval.n} seeds {interval_points(interval)})"
        if interval is not None
        else ""
    )
    verdict = trend.verdict
    if verdict is Trend.NO_VERDICT:
        seeds = trend.fewest_seeds
        every = all(len(point.accuracies) == seeds for point in trend.points)
        count = "one seed" if seeds == 1 else f"{seeds} seeds"
        reason = (
            f"No trend verdict is given: {'every variant has' if every else 'a variant has only'} {count}, and the "
            f"verdict, as for the architectures, needs the interval of the per-seed slopes over at least "
            f"{MIN_VERDICT_SEEDS} seeds of every variant, which measures how the whole sweep moves from seed to seed."
        )
        text = " ".join(part for part in (_fit_text(trend), (over_seeds + ".") if over_seeds else "", reason) if part)
    else:
        word = {
            Trend.RISES: "**accuracy rises with cardinality**",
            Trend.FALLS: "**accuracy falls with cardinality**",
            Trend.UNDECIDED: "whether accuracy rises with cardinality is not established: the interval includes 0",
        }[verdict]
        text = f"{over_seeds}, so {word}. {_fit_text(trend)}".rstrip()
    error = IMAGENET_TOP1_ERROR_BY_CARDINALITY
    imagenet = (
        f"On ImageNet the ResNeXt paper found top-1 error falling from {number(error[1], 1)} % (1x64d) to "
        f"{number(error[32], 1)} % (32x4d) at the same complexity; that is another dataset and image size, shown for "
        "orientation only."
    )
    return " ".join([text, spread, imagenet])


def caption_cardinality(trend: CardinalityTrend) -> str:
    points_ = "; ".join(f"{point.cardinality}x{point.width}d {percent(point.mean_accuracy)}" for point in trend.points)
    fit = trend.fit
    slope = (
        f"dashed: the least-squares line through the {fit.points} runs, {_per_doubling(fit.slope)} points per "
        f"doubling (a description; {'no trend verdict' if trend.verdict is Trend.NO_VERDICT else 'the verdict is in the text'})"
        if fit is not None
        else "no fitted line"
    )
    return (
        f"**Cardinality at equal complexity.** Test accuracy per run with its binomial 95 % interval ({points_}); "
        f"{slope}; seconds per epoch; and the ResNeXt paper's ImageNet top-1 error (another dataset)."
    )
