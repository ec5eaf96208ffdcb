"""Names and number formats shared by the tables, figures and text."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import pandas as pd
from pandas.io.formats.style import Styler

from ..architectures import display_name
from .runs import RunResult, Runs

__all__ = ["agreed", "dataset_name", "display_name", "markdown_list", "p_value", "percent", "points", "styled", "text"]


def percent(fraction: float, digits: int = 2) -> str:
    return f"{100 * fraction:.{digits}f} %"


def points(difference: float) -> str:
    return f"{100 * difference:+.2f} percentage points"


def p_value(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def agreed(runs: Runs, value: Callable[[RunResult], Any]) -> str:
    """One value when every run agrees on it, otherwise each distinct value with the runs that have it."""
    groups: dict[str, list[str]] = {}
    for run in runs.complete:
        groups.setdefault(text(value(run)), []).append(run.label)
    if len(groups) <= 1:
        return next(iter(groups), "—")
    return "; ".join(f"{value} ({', '.join(labels)})" for value, labels in groups.items())


def markdown_list(items: Iterable[str]) -> str:
    """A Markdown bullet list, so that lists such as :func:`limitations` render as text in the report."""
    return "\n".join(f"- {item}" for item in items)


def styled(table: pd.DataFrame) -> Styler:
    """A table as the report shows it: no index, two decimals, thousands separators, a dash for missing."""
    formats = {}
    for column in table.columns:
        if pd.api.types.is_integer_dtype(table[column].dtype):
            formats[column] = "{:,}"
        elif pd.api.types.is_float_dtype(table[column].dtype):
            formats[column] = "{:,.2f}"
    return table.style.hide(axis="index").format(formats, na_rep="—")


def dataset_name(runs: Runs) -> str:
    """The runs' dataset for titles and headlines ("CIFAR-10", "CIFAR-100", "ImageFolder ..."), one or several."""
    labels = dict.fromkeys(run.record.data.label for run in runs.complete)
    if not labels:
        return "no data yet"
    return " / ".join(label.split(" (")[0] if label.startswith("CIFAR-10 (") else label for label in labels)
