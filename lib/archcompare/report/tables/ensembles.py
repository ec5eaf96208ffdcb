"""The ensembles' tables: scores before and after temperature scaling, and two models each at equal model count.

Cells that the text also quotes are formatted here with the text's formatters (ECE with one decimal,
NLL with three, p as the text gives it), so a number reads the same in both.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd

from ..analysis.ensembles import EnsembleScore, EqualModelCount, spread
from ..format import ece, nll, number, p_value
from ..wording.ensembles import kind_name


def _with_range(value: float, spread_: tuple[float, float] | None, show: Callable[[float], str]) -> str:
    """A temperature-scaled score with its range over the random halvings: ``"3.1 (3.0 to 3.2)"``, or
    ``"0.351 (in each halving)"`` when every halving reads the same, as the text says it."""
    if spread_ is None:
        return show(value)
    low, high = show(spread_[0]), show(spread_[1])
    return f"{show(value)} ({'in each halving' if low == high else f'{low} to {high}'})"


def _ece_number(fraction: float) -> str:
    return ece(fraction, unit=False)


def ensemble_table(scores: list[EnsembleScore]) -> pd.DataFrame:
    """Accuracy, NLL and ECE before and after temperature scaling; the ensemble against its best member."""
    rows = []
    for score in scores:
        comparison = score.versus_member
        versus = "—"
        if comparison is not None:
            versus = f"{number(100 * comparison.difference, sign=True)} ({p_value(comparison.p_adjusted)})"
        rows.append(
            {
                "model": score.name,
                "accuracy (%)": 100 * score.accuracy,
                "NLL": nll(score.nll),
                "ECE (%)": ece(score.ece, unit=False),
                "NLL, temperature-scaled (range over halvings)": _with_range(
                    score.nll_scaled, score.nll_scaled_range, nll
                ),
                "ECE (%), temperature-scaled (range over halvings)": _with_range(
                    score.ece_scaled, score.ece_scaled_range, _ece_number
                ),
                "fitted temperatures": ", ".join(number(t) for t in score.temperatures)
                if len(score.temperatures) <= 2
                else f"{number(min(score.temperatures))} to {number(max(score.temperatures))}",
                "vs best member chosen on the other half (pp, Holm-adjusted McNemar p)": versus,
            }
        )
    return pd.DataFrame(rows)


def equal_model_count_table(equal_count: EqualModelCount) -> pd.DataFrame:
    """Two models each: each kind of two-model ensemble over every pair of runs, as mean and range, with its compute."""
    groups = [("mixed", equal_count.mixed)] + list(equal_count.same.items())
    rows = []
    for kind, scores in groups:
        summary = spread(scores)
        compute = equal_count.compute[kind]
        rows.append(
            {
                "two-model ensemble (equal model count)": kind_name(kind),
                "pairs": summary.count,
                "accuracy, mean (%)": 100 * summary.accuracy_mean,
                "accuracy, range (%)": f"{number(100 * summary.accuracy_low)} to {number(100 * summary.accuracy_high)}",
                "NLL, mean": nll(summary.nll_mean),
                "training time, mean (s)": number(compute.mean_seconds, 0),
                "timed on": ", ".join(compute.devices),
            }
        )
    return pd.DataFrame(rows)


equal_cost_table = equal_model_count_table  # the earlier name
