"""The runs against the blog post, in words: what the paired interval says about the blog's difference,
under which recipe, and after how many epochs.

What the interval says is :class:`..analysis.pairs.AgainstReference`; the recipe's differences are
read from the runs' records by :mod:`..analysis.recipe`; this module only words them.
"""

from __future__ import annotations

from typing import Any

from ..analysis.pairs import AgainstReference, PairComparison
from ..analysis.penalty import data_penalty
from ..analysis.recipe import RecipeSetting, recipe_settings
from ..analysis.reference import AUGMENTATIONS, MIN_VERDICT_SEEDS
from ..format import display_name, interval_points, percent, points, text
from ..runs import Runs
from .penalty import penalty_cost


def reference_text(runs: Runs, pair: PairComparison) -> str:
    """The conclusions' **Against the blog post.** paragraph; empty beside runs that are not CIFAR-10's."""
    reference = pair.reference
    base_ref, other_ref = (reference.test_acc.get(arch) for arch in (pair.baseline, pair.other))
    if base_ref is None or other_ref is None:
        return f"**Against the blog post.** It gives no accuracy for `{pair.baseline}` and `{pair.other}` together."
    if not runs.cifar10:
        return ""  # the blog's figures are CIFAR-10's: they appear only beside CIFAR-10 runs
    base, other = display_name(pair.baseline), display_name(pair.other)
    blog_difference = points(pair.reference_difference)
    text_ = (
        f"**Against the blog post.** {reference.source[0].upper() + reference.source[1:]} reports "
        f"{percent(base_ref, 1)} for {base} and {percent(other_ref, 1)} for {other} after {reference.epochs} "
        f"epochs at batch size {reference.batch_size}, one run each: {other} minus {base} is {blog_difference} "
        f"there. Here it is {points(pair.mean_difference)}"
    )
    interval = pair.difference_interval
    against = pair.against_reference
    where = f" (paired {interval.confidence:.0%} interval {interval_points(interval)})" if interval else ""
    text_ += (
        where
        + ". "
        + {
            AgainstReference.NO_INTERVAL: "One paired seed gives no interval to set the blog's difference against, so "
            "these runs neither confirm nor contradict the blog.",
            AgainstReference.NEITHER: f"The interval contains the blog's {blog_difference}, so these runs neither "
            "confirm nor contradict the blog.",
            AgainstReference.NO_VERDICT: f"The interval excludes the blog's {blog_difference}, but with "
            f"{len(pair.seeds)} paired seeds no verdict is possible (it needs at least {MIN_VERDICT_SEEDS}), so these "
            "runs neither confirm nor contradict the blog.",
            AgainstReference.SAME_ORDERING: "The interval excludes 0 on the blog's side, so these runs confirm the "
            f"blog's ordering, though not its size (the interval excludes the blog's {blog_difference}).",
            AgainstReference.OPPOSITE_ORDERING: "The interval excludes 0 on the other side from the blog's, so under "
            "this recipe the ordering is the opposite of the blog's.",
            AgainstReference.UNLIKE: f"The interval includes 0, so the ordering is not established, but it excludes the "
            f"blog's {blog_difference}: under this recipe a difference like the blog's is not what these runs show.",
        }[against]
    )
    epochs = sorted({run.record.epochs for run in runs.complete})
    if min(epochs) < reference.epochs:  # as the limitations' reduced budget: any run short of the blog's epochs
        settled = against in (
            AgainstReference.SAME_ORDERING,
            AgainstReference.OPPOSITE_ORDERING,
            AgainstReference.UNLIKE,
        )
        text_ += (
            f" These runs trained for {', '.join(map(str, epochs))} epoch(s), not {reference.epochs}, and the ranking "
            "can change with longer training (see the limitations)"
            + (f", so this is no verdict on the blog's {reference.epochs}-epoch result." if settled else ".")
        )
    text_ += " " + recipe_text(recipe_settings(runs, reference))
    penalty = data_penalty(runs)
    if penalty is not None:
        text_ += (
            f" These runs used {penalty.copy}, which costs {penalty_cost(penalty)}; the blog's accuracies are on the "
            "original images, so the values are not comparable as they stand."
        )
    return text_


def _value(setting: RecipeSetting, value: Any) -> str:
    if setting.key == "recipe":
        return AUGMENTATIONS.get(value, str(value))
    return text(value)


def recipe_text(settings: tuple[RecipeSetting, ...]) -> str:
    """Which settings of the recipe differ from the blog's, from the runs' records; the blog's assumed ones marked."""
    differ = [setting for setting in settings if setting.differs]
    assumed_same = [setting for setting in settings if setting.assumed and not setting.differs]

    parts = [
        f"{setting.name}: {' / '.join(_value(setting, value) for value in setting.values)} here, "
        f"{_value(setting, setting.reference)} in the blog" + (" (assumed)" if setting.assumed else "")
        for setting in differ
    ]
    sentence = (
        f"The recipe differs from the blog's in {len(differ)} setting(s): {'; '.join(parts)}."
        if differ
        else "The recipe is the blog's in every setting compared."
    )
    if assumed_same:
        sentence += (
            " The same here as assumed for the blog: "
            + "; ".join(f"{setting.name}: {_value(setting, setting.reference)}" for setting in assumed_same)
            + "."
        )
    return (
        sentence + " An assumed setting is one the post does not state; the `blog` profile assumes the PyTorch "
        "CIFAR-10 tutorial's, which the post says its loop follows, and the CIFAR stem. A difference between these "
        "runs and the blog's is the recipe's as much as the architectures'."
    )
