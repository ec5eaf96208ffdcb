"""Names and number formats shared by the tables, figures and wording: the report's one rounding.

One formatter per quantity, used by the report's text, its tables, its captions and the README alike,
so that a quantity reads the same wherever it appears: accuracies and their differences to 2 decimals
(:func:`percent`, :func:`points`), p-values to 3 (:func:`p`, :func:`p_value`), seconds per epoch to 2
(:func:`seconds_per_epoch`), images per second to whole images (:func:`images_per_second`), ECE to one
decimal of a percent (:func:`ece`), NLL to 3 decimals (:func:`nll`), time ratios to 2 (:func:`ratio`),
relative changes to whole percents (:func:`share`), sizes in millions of parameters and GMACs to 2.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from ..architectures import display_name
from .analysis.reference import ALPHA
from .runs import RunResult, Runs

if TYPE_CHECKING:
    from .analysis.statistics import MeanInterval

__all__ = [
    "agreed",
    "dataset_name",
    "display_name",
    "ece",
    "gmacs",
    "images_per_second",
    "interval_points",
    "markdown_list",
    "million_params",
    "nll",
    "number",
    "p",
    "p_value",
    "per_device",
    "percent",
    "points",
    "ratio",
    "seconds_per_epoch",
    "share",
    "span",
    "text",
]

# The decimals of each quantity, wherever it is shown.
P_DIGITS = 3  # below 0.001 a p-value is shown as "< 0.001"
MAX_P_DIGITS = 9  # beyond the float noise that number() removes
SECONDS_PER_EPOCH_DIGITS = 2
IMAGES_PER_SECOND_DIGITS = 0
ECE_DIGITS = 1  # of a percent: on 500 test images ECE moves by about a point with the choice of halves
NLL_DIGITS = 3
SIZE_DIGITS = 2  # millions of parameters, GMACs


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


def span(low: float, high: float, show: Callable[[float], str], template: str = "{} to {}") -> str:
    """A range as the report shows it: ``"3.1 % to 3.2 %"``, or one value when both ends read the same."""
    shown_low, shown_high = show(low), show(high)
    return shown_low if shown_low == shown_high else template.format(shown_low, shown_high)


def interval_points(interval: MeanInterval) -> str:
    """An interval of accuracy differences (fractions) in signed points: ``"[-1.65, +2.80]"``."""
    return f"[{number(100 * interval.low, sign=True)}, {number(100 * interval.high, sign=True)}]"


def per_device(values: Mapping[str, float], show: Callable[[float], str]) -> str:
    """One value per device model, named when there are several: ``"3.2 (NVIDIA H200); 3.9 (NVIDIA H100)"``."""
    if len(values) == 1:
        return show(next(iter(values.values())))
    return "; ".join(f"{show(value)} ({device})" for device, value in values.items())


def p(value: float) -> str:
    """A p-value: ``"0.124"``, or ``"< 0.001"`` below 0.001.

    A p-value that the 3 decimals would round onto the significance level (0.0496 to "0.050", beside
    "< 0.05") gets the decimals that show which side of it the test fell: ``"0.0496"``.
    """
    if value < 0.1**P_DIGITS:
        return f"< {number(0.1**P_DIGITS, P_DIGITS)}"
    digits = P_DIGITS
    while value != ALPHA and float(number(value, digits)) == ALPHA and digits < MAX_P_DIGITS:
        digits += 1
    return number(value, digits)


def p_value(value: float, name: str = "p") -> str:
    """``"p = 0.124"``, ``"p < 0.001"``; ``name`` for an adjusted one (``"Holm-adjusted p = 0.248"``)."""
    shown = p(value)
    return f"{name} {shown}" if shown.startswith("<") else f"{name} = {shown}"


def seconds_per_epoch(value: float) -> str:
    return number(value, SECONDS_PER_EPOCH_DIGITS)


def images_per_second(value: float) -> str:
    return number(value, IMAGES_PER_SECOND_DIGITS)


def ece(fraction: float, unit: bool = True) -> str:
    """An expected calibration error (a fraction) as a percentage: ``0.0597`` -> ``"6.0 %"`` (``"6.0"`` without unit)."""
    value = number(100 * fraction, ECE_DIGITS)
    return f"{value} %" if unit else value


def nll(value: float) -> str:
    """A negative log-likelihood (nats per image): ``0.3687`` -> ``"0.369"``."""
    return number(value, NLL_DIGITS)


def million_params(count: int) -> str:
    return number(count / 1e6, SIZE_DIGITS)


def gmacs(count: int) -> str:
    return number(count / 1e9, SIZE_DIGITS)


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


def dataset_name(runs: Runs) -> str:
    """The runs' dataset for titles and headlines ("CIFAR-10", "CIFAR-100", "ImageFolder ..."), one or several."""
    labels = dict.fromkeys(run.record.data.label for run in runs.complete)
    if not labels:
        return "no data yet"
    return " / ".join(label.split(" (")[0] if label.startswith("CIFAR-10 (") else label for label in labels)
