"""What the notebook displays: tables (HTML in report.html, Markdown in report.md) and numbered figures."""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from .format import number, text

__all__ = ["FIGURE_DPI", "SCROLLING_CONTAINER", "Captions", "Table", "styled"]


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
    table, in the text and in the README. In HTML the table sits in a container that scrolls
    sideways (:data:`SCROLLING_CONTAINER`), so a wide table (the appendix's runs) stays inside a
    1280-pixel window instead of running off its right edge.
    """

    def __init__(self, table: pd.DataFrame):
        self.table = table
        self.cells = table.map(_cell) if len(table) else table.astype(str)

    def _repr_html_(self) -> str:
        return f'<div style="{SCROLLING_CONTAINER}">{self.cells.style.hide(axis="index").to_html()}</div>'

    def _repr_markdown_(self) -> str:
        def row(values: Iterable[Any]) -> str:
            return "| " + " | ".join(str(value).replace("|", "\\|") for value in values) + " |"

        lines = [row(self.cells.columns), row("---" for _ in self.cells.columns)]
        lines += [row(values) for values in self.cells.itertuples(index=False)]
        return "\n".join(lines)


# The CSS of the container every HTML table sits in: never wider than the page, scrolling sideways when the
# table is wider.
SCROLLING_CONTAINER = "max-width: 100%; overflow-x: auto"


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
