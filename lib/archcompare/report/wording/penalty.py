"""What the data copy costs, in words: one sentence part that the conclusions, limitations and README share."""

from __future__ import annotations

from ..analysis.penalty import DataPenalty
from ..format import number


def penalty_cost(penalty: DataPenalty) -> str:
    """``"2 to 3 percentage points as documented in ..."``, or the measured cost with how it was measured."""
    measurement = penalty.measurement
    if measurement is None:
        return (
            f"{number(100 * penalty.low, 0)} to {number(100 * penalty.high, 0)} percentage points as documented in "
            f"{penalty.documented_in}"
        )
    spread = f" ± {number(100 * measurement.std, 2)}" if measurement.std is not None else ""
    source = (
        f"{measurement.recipe} reached {number(100 * measurement.mean, 2)} %{spread} over {measurement.runs} runs "
        f"on this copy ({measurement.device_name}), against {number(100 * measurement.published_accuracy, 2)} % "
        f"over {measurement.published_runs:,} runs on the original ({measurement.published_source}; "
        f"`outputs/data-penalty/{measurement.file}`)"
    )
    return f"{number(100 * penalty.low, 2)} percentage points, measured here: {source}"
