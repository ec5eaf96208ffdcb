"""The runs' training recipe against the reference's: which settings differ, read from the runs' records.

A difference between these runs and the blog's is as much the recipe's as the architectures', so the
report names every setting that differs, from the runs' own configs, never from a sentence typed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..runs import RunResult, Runs
from .reference import BLOG_POST, RECIPE_SETTINGS, Reference


@dataclass(frozen=True)
class RecipeSetting:
    """One setting of the recipe: the runs' value(s) and the reference's."""

    key: str  # the RunConfig field (precision: as the run resolved it)
    name: str  # in words
    values: tuple[Any, ...]  # the runs' distinct values, in the order of the runs
    reference: Any
    assumed: bool  # the reference does not state it; the project assumes it

    @property
    def differs(self) -> bool:
        return any(value != self.reference for value in self.values)


def run_setting(run: RunResult, key: str) -> Any:
    """A setting as the run used it: the resolved precision, the configured rest."""
    return run.record.env.precision if key == "precision" else run.record.config.get(key)


def recipe_settings(runs: Runs, reference: Reference = BLOG_POST) -> tuple[RecipeSetting, ...]:
    """Every setting the reference's recipe names, with the runs' values beside it, in :data:`RECIPE_SETTINGS`' order."""
    settings = []
    for key, name in RECIPE_SETTINGS.items():
        if key not in reference.recipe:
            continue
        values = tuple(dict.fromkeys(run_setting(run, key) for run in runs.complete))
        settings.append(RecipeSetting(key, name, values, reference.recipe[key], key in reference.assumed))
    return tuple(settings)
