"""Names and number formats shared by the tables, figures and text."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ..models import ARCHITECTURES

if TYPE_CHECKING:
    from pandas.io.formats.style import Styler

    from .runs import RunResult, Runs


# --- names and formatting -------------------------------------------------------------------------


def display_name(arch: str) -> str:
    """The architecture's readable name from the model registry (its key when it is not registered)."""
    return ARCHITECTURES[arch].description if arch in ARCHITECTURES else arch


def _percent(fraction: float, digits: int = 2) -> str:
    return f"{100 * fraction:.{digits}f} %"


def _points(difference: float) -> str:
    return f"{100 * difference:+.2f} percentage points"


def _p_value(p: float) -> str:
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def _text(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _agreed(runs: Runs, value: Callable[[RunResult], Any]) -> str:
    """One value when every run agrees on it, otherwise each distinct value with the runs that have it."""
    groups: dict[str, list[str]] = {}
    for run in runs.complete:
        groups.setdefault(_text(value(run)), []).append(run.label)
    if len(groups) <= 1:
        return next(iter(groups), "—")
    return "; ".join(f"{text} ({', '.join(labels)})" for text, labels in groups.items())


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


CIFAR10_CLASS_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_DATASET_NAMES = {"cifar10": "CIFAR-10", "cifar100": "CIFAR-100"}


def dataset_label(spec: str, classes: Sequence[str]) -> str:
    """A dataset by name, never by the absolute path of the machine that read it."""
    if spec in _DATASET_NAMES:
        return _DATASET_NAMES[spec]
    folder = Path(spec.partition(":")[2]).name or spec
    if tuple(classes) == CIFAR10_CLASS_NAMES:
        return f"CIFAR-10 (ImageFolder copy `{folder}`)"
    return f"ImageFolder `{folder}` ({len(classes)} classes)"


def dataset_name(runs: Runs) -> str:
    """The runs' dataset for titles and headlines ("CIFAR-10", "CIFAR-100", "ImageFolder ..."), one or several."""
    labels = dict.fromkeys(
        dataset_label(run.env.get("dataset_spec", run.config.get("dataset", "")), run.summary["classes"])
        for run in runs.complete
    )
    if not labels:
        return "no data yet"
    return " / ".join(label.split(" (")[0] if label.startswith("CIFAR-10 (") else label for label in labels)
