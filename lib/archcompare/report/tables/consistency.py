"""Error consistency's table: every pair of models, observed and chance agreement, kappa and its interval."""

from __future__ import annotations

import pandas as pd

from ..analysis.consistency import ErrorConsistency
from ..format import number, percent
from ..wording.consistency import agreement_text, group_name, interval_text, kappa_text, pair_name


def consistency_table(result: ErrorConsistency) -> pd.DataFrame:
    """One row per pair of models, then each group's mean over several pairs."""
    rows = []
    for group in result.groups:
        for pair in group.pairs:
            rows.append(
                {
                    "models": group_name(group).removeprefix("Between "),
                    "pair": pair_name(group, pair),
                    "accuracies (%)": f"{number(100 * pair.first_accuracy)}, {number(100 * pair.second_accuracy)}",
                    "agreement, observed": agreement_text(pair.observed),
                    "agreement by chance": agreement_text(pair.expected),
                    "κ": kappa_text(pair.kappa),
                    f"κ, {percent(result.confidence, 0)} bootstrap interval": interval_text(pair.interval),
                }
            )
        if len(group.pairs) > 1:
            rows.append(
                {
                    "models": group_name(group).removeprefix("Between "),
                    "pair": f"mean of {len(group.pairs)}",
                    "accuracies (%)": "—",
                    "agreement, observed": "—",
                    "agreement by chance": "—",
                    "κ": kappa_text(group.mean_kappa),
                    f"κ, {percent(result.confidence, 0)} bootstrap interval": interval_text(group.interval),
                }
            )
    return pd.DataFrame(rows)
