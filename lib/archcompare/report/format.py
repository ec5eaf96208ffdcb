"""Names and number formats shared by the tables, figures and text."""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Iterable
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from ..architectures import display_name
from .runs import RunResult, Runs

__all__ = [
    "Captions",
    "Table",
    "agreed",
    "dataset_name",
    "display_name",
    "markdown_list",
    "number",
    "p_value",
    "percent",
    "points",
    "ratio",
    "share",
    "styled",
    "text",
]


def number(value: float, digits: int = 2, sign: bool = False) -> str:
    """``value`` rounded half up to ``digits`` decimals, with thousands separators: the one rounding of the report.

    A quantity reaches the report by different float paths (a mean of percentages, 100 times a mean
    of fractions, a mean of differences or a difference of means), which agree to about 1e-12 but
    fall on either side of a half: 90.865 is 90.86500000000001 one way and 90.86499999999999 the
    other, and Python's ``:.2f`` rounds the two apart. Rounding to 9 decimals first removes that
    noise, so every table, sentence and README block shows the same string for the same quantity.
    """
    exact = Decimal(repr(round(float(value), 9)))
    rounded = exact.quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)  # no "-0.00"
    return f"{rounded:+,}" if sign and rounded != 0 else f"{rounded:,}"


def percent(fraction: float, digits: int = 2) -> str:
    """An accuracy (a fraction) as a percentage: ``0.90865`` -> ``"90.87 %"``."""
    return f"{number(100 * fraction, digits)} %"


def points(difference: float, digits: int = 2) -> str:
    """A difference of accuracies (fractions) in signed percentage points."""
    return f"{number(100 * difference, digits, sign=True)} percentage points"


def share(fraction: float, digits: int = 0, sign: bool = False) -> str:
    """A relative change or a share (not an accuracy): ``0.2818`` -> ``"28%"``."""
    return f"{number(100 * fraction, digits, sign)}%"


def ratio(value: float, digits: int = 2) -> str:
    """A ratio of times or rates: ``1.2818`` -> ``"1.28x"``."""
    return f"{number(value, digits)}x"


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


def _cell(value: Any) -> str:
    """A table cell as the report shows it: the text's rounding for floats, separators for integers."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    if isinstance(value, bool):
        return text(value)
    if isinstance(value, int) or (hasattr(value, "dtype") and pd.api.types.is_integer_dtype(value.dtype)):
        return f"{int(value):,}"
    if isinstance(value, float) or (hasattr(value, "dtype") and pd.api.types.is_float_dtype(value.dtype)):
        return number(float(value), 2)
    return str(value)


class Table:
    """A table for the report: HTML (a pandas Styler) in the notebook and report.html, Markdown in report.md.

    Both forms come from the same cell strings (:func:`_cell`), so a number reads the same in the
    table, in the text and in the README.
    """

    def __init__(self, table: pd.DataFrame):
        self.table = table
        self.cells = table.map(_cell) if len(table) else table.astype(str)

    def _repr_html_(self) -> str:
        return self.cells.style.hide(axis="index").to_html()

    def _repr_markdown_(self) -> str:
        def row(values: Iterable[Any]) -> str:
            return "| " + " | ".join(str(value).replace("|", "\\|") for value in values) + " |"

        lines = [row(self.cells.columns), row("---" for _ in self.cells.columns)]
        lines += [row(values) for values in self.cells.itertuples(index=False)]
        return "\n".join(lines)


def styled(table: pd.DataFrame) -> Table:
    """A table as the report shows it: no index, the report's one rounding, a dash for missing."""
    return Table(table)


class _Markdown:
    def __init__(self, markdown: str):
        self.markdown = markdown

    def _repr_markdown_(self) -> str:
        return self.markdown


class _Picture:
    """A figure as a PNG output whose alt text is its caption (HTML and Markdown exports carry it)."""

    def __init__(self, figure: Figure, alt: str, name: str | None = None):
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=FIGURE_DPI, bbox_inches="tight")
        self.png = base64.b64encode(buffer.getvalue()).decode()
        self.alt = alt
        self.name = name

    def _repr_mimebundle_(self, include=None, exclude=None):
        # The alt text and name travel in the output's metadata: the renderer writes them into
        # report.html and report.md, and saves a named figure (the headline) as <name>.png.
        metadata = {"alt": self.alt} | ({"name": self.name} if self.name else {})
        return {"image/png": self.png, "text/plain": self.alt}, {"image/png": metadata}


FIGURE_DPI = 80  # small committed files; the figures are sized in inches for this resolution


class Captions:
    """Numbers the report's figures in the order shown and gives each its caption, visible and as alt text."""

    def __init__(self) -> None:
        self.count = 0

    def show(self, figure: Figure, caption: str, name: str | None = None) -> tuple[_Picture, _Markdown]:
        """What to display for a figure: the picture (alt text: the caption) and the numbered caption.

        ``name`` marks a figure the renderer also saves on its own, as ``<name>.png`` (the headline).
        """
        self.count += 1
        plain = caption.replace("**", "").replace("`", "").replace("*", "")
        picture = _Picture(figure, f"Figure {self.count}. {plain}", name)
        return picture, _Markdown(f"*Figure {self.count}.* {caption}")


def dataset_name(runs: Runs) -> str:
    """The runs' dataset for titles and headlines ("CIFAR-10", "CIFAR-100", "ImageFolder ..."), one or several."""
    labels = dict.fromkeys(run.record.data.label for run in runs.complete)
    if not labels:
        return "no data yet"
    return " / ".join(label.split(" (")[0] if label.startswith("CIFAR-10 (") else label for label in labels)
