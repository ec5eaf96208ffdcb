"""The ensembles' tables: scores before and after temperature scaling, and two models at equal cost."""

from __future__ import annotations

import pandas as pd

from ..analysis.ensembles import EnsembleScore, EqualCost, spread
from ..format import number


def ensemble_table(scores: list[EnsembleScore]) -> pd.DataFrame:
    """Accuracy, NLL and ECE before and after temperature scaling; the ensemble against its best member."""
    rows = []
    for score in scores:
        difference = score.difference_vs_best_member
        versus = "—"
        if difference is not None:
            versus = f"{number(100 * difference, sign=True)} (p {score.mcnemar_vs_best_member.p_value:.3g})"
        rows.append(
            {
                "model": score.name,
                "accuracy (%)": 100 * score.accuracy,
                "NLL": score.nll,
                "ECE (%)": 100 * score.ece,
                "NLL, temperature-scaled": score.nll_scaled,
                "ECE (%), temperature-scaled": 100 * score.ece_scaled,
                "fitted temperatures": ", ".join(number(t) for t in score.temperatures)
                if len(score.temperatures) <= 2
                else f"{number(min(score.temperatures))} to {number(max(score.temperatures))}",
                "vs best member (pp, McNemar p)": versus,
            }
        )
    return pd.DataFrame(rows)


def equal_cost_table(equal_cost: EqualCost) -> pd.DataFrame:
    """Two models at equal cost: each kind of two-model ensemble over every pair of runs, as mean and range."""
    groups = [("one run of each architecture", equal_cost.mixed)]
    groups += [(f"two seeds of {arch}", scores) for arch, scores in equal_cost.same.items()]
    rows = []
    for name, scores in groups:
        summary = spread(scores)
        rows.append(
            {
                "two-model ensemble": name,
                "pairs": summary.count,
                "accuracy, mean (%)": 100 * summary.accuracy_mean,
                "accuracy, range (%)": f"{number(100 * summary.accuracy_low)} to {number(100 * summary.accuracy_high)}",
                "NLL, mean": summary.nll_mean,
            }
        )
    return pd.DataFrame(rows)
