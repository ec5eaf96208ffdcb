"""What a JSON object that came from elsewhere must hold before it is written into outputs/.

A table of fields, ``{name: (allowed, what)}``: ``allowed`` says whether a value may stand there,
``what`` says in words what may. ``bench_steps.ROW_FIELDS`` (a bench row) and
``data_penalty.SUMMARY_FIELDS`` (a data-penalty summary) are such tables; ``pipeline.unpack`` checks
what a GPU session brought back against them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

FieldSpec = Mapping[str, tuple[Callable[[Any], Any], str]]


def fields_problem(value: Any, spec: FieldSpec) -> str | None:
    """What is wrong with ``value`` as an object of ``spec``'s fields (the first problem, in words), or None."""
    if not isinstance(value, dict):
        return "not a JSON object"
    missing = [name for name in spec if name not in value]
    if missing:
        return f"no {', '.join(missing)}"
    for name, (allowed, what) in spec.items():
        if not allowed(value[name]):
            return f"{name} is {value[name]!r}, not {what}"
    return None


def is_fraction(value: Any) -> bool:
    """A number from 0 to 1 (not a bool, not NaN)."""
    return not isinstance(value, bool) and isinstance(value, (int, float)) and 0 <= value <= 1


def is_count(value: Any) -> bool:
    """A positive whole number (not a bool, not a float)."""
    return type(value) is int and value > 0
