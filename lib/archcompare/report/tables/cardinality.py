"""The cardinality sweep's table: size, cost, accuracy with its interval, and ImageNet's error per variant."""

from __future__ import annotations

import pandas as pd

from ..analysis.cardinality import CardinalityTrend
from ..format import gmacs, million_params, number, seconds_per_epoch


def cardinality_table(trend: CardinalityTrend) -> pd.DataFrame:
    """Per cardinality: size and cost (nearly equal by design), accuracy with its interval, ImageNet's error."""
    rows = []
    for point in trend.points:
        interval = point.accuracy_interval
        rows.append(
            {
                "architecture": point.arch,
                "cardinality x width": f"{point.cardinality}x{point.width}d",
                "params (M)": million_params(point.params),
                "GMACs": gmacs(point.macs),
                "seeds": len(point.accuracies),
                "test acc mean (%)": 100 * point.mean_accuracy,
                "95% interval (%)": f"[{number(100 * interval.low)}, {number(100 * interval.high)}]"
                if interval
                else "—",
                "seconds per epoch": seconds_per_epoch(point.seconds_per_epoch),
                "ImageNet top-1 error (%), Xie et al. Table 3": point.imagenet_top1_error,
            }
        )
    return pd.DataFrame(rows)
