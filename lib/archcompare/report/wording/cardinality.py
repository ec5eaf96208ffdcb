"""The cardinality sweep in words: whether accuracy rises with cardinality, and the figure's caption."""

from __future__ import annotations

from ..analysis.cardinality import CardinalityTrend, Trend
from ..format import interval_points, number, percent, share


def cardinality_markdown(trend: CardinalityTrend) -> str:
    """Whether accuracy rises with cardinality here, judged on the interval of the slope over seeds."""
    (params_low, params_high), (macs_low, macs_high) = trend.params_range, trend.macs_range
    spread = (
        f"The variants have {params_low / 1e6:.1f} to {params_high / 1e6:.1f} M parameters and "
        f"{macs_low / 1e9:.2f} to {macs_high / 1e9:.2f} GMACs per image, so their complexity is nearly equal "
        f"(parameters within {share(trend.params_spread, 1)} of each other and MACs within "
        f"{share(trend.macs_spread, 1)}), as the design intends."
    )
    interval = trend.slope_interval
    if interval is None:
        slope = trend.seed_slopes[0] if trend.seed_slopes else None
        measured = (
            f"The fitted slope is {number(100 * slope, sign=True)} percentage points per doubling of cardinality, "
            if slope is not None
            else ""
        )
        verdict = (
            f"{measured}but with one seed there is no estimate of how much it would move with another: "
            "**whether accuracy rises with cardinality is undecided** here. Two or more seeds give an interval."
        )
    else:
        word = {
            Trend.RISES: "**accuracy rises with cardinality**",
            Trend.FALLS: "**accuracy falls with cardinality**",
            Trend.UNDECIDED: "**whether accuracy rises with cardinality is undecided**: the interval includes 0",
        }[trend.verdict]
        verdict = (
            f"Per seed, the least-squares slope of test accuracy on log2(cardinality) averages "
            f"{number(100 * interval.mean, sign=True)} percentage points per doubling ({interval.confidence:.0%} "
            f"interval over {interval.n} seeds {interval_points(interval)}), so {word}."
        )
    imagenet = (
        "On ImageNet the ResNeXt paper found top-1 error falling from 23.9 % (1x64d) to 22.2 % (32x4d) at the same "
        "complexity; that is another dataset and image size, shown for orientation only."
    )
    return " ".join([verdict, spread, imagenet])


def caption_cardinality(trend: CardinalityTrend) -> str:
    points_ = "; ".join(f"{point.cardinality}x{point.width}d {percent(point.mean_accuracy)}" for point in trend.points)
    slope = (
        f"fitted slope {number(100 * trend.mean_slope, sign=True)} points per doubling"
        if trend.mean_slope is not None
        else "no fitted slope"
    )
    return (
        f"**Cardinality at equal complexity.** Test accuracy per run with its binomial 95 % interval ({points_}); "
        f"{slope}; seconds per epoch; and the ResNeXt paper's ImageNet top-1 error (another dataset)."
    )
