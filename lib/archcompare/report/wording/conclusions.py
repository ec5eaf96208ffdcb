"""The conclusions in words: the paired difference and its verdict, the per-seed tests, power, the blog, time.

Every number and verdict comes from :mod:`..analysis.pairs`; this module only chooses the words, and
a sentence is never stronger than the verdict: only an established difference is stated as a fact
(and in bold).
"""

from __future__ import annotations

from ..analysis.pairs import PairComparison, Significance, compare_all
from ..analysis.penalty import data_penalty
from ..analysis.reference import ALPHA, BLOG_POST, CONFIDENCE, MIN_VERDICT_SEEDS, POWER, Reference
from ..format import display_name, interval_points, number, p_value, percent
from ..runs import Runs
from .blog import reference_text
from .penalty import penalty_cost
from .timing import timing_text


def conclusions(runs: Runs, reference: Reference = BLOG_POST) -> str:
    """The comparison's findings in Markdown, worded from the numbers: accuracy, its verdict, cost.

    Every architecture is compared with the baseline. The verdict is the paired interval's, with
    MIN_VERDICT_SEEDS or more paired seeds; with fewer the text says that no verdict is possible.
    """
    if len(runs.architectures) < 2:
        have = ", ".join(f"`{arch}`" for arch in runs.architectures) or "no architecture"
        return f"No comparison is possible yet: only {have} has complete runs."
    pairs = compare_all(runs, reference)
    if not pairs:
        return "No comparison is possible yet: no seed has complete runs of the baseline and another architecture."
    caveats = _caveats(runs)
    sections = []
    for pair in pairs:
        if len(pairs) > 1:
            sections.append(f"### {display_name(pair.other)} vs {display_name(pair.baseline)}")
        sections += [accuracy_text(pair, caveats), _interval_text(pair), _seed_tests_text(pair)]
        if pair.is_reference_pair:
            blog = reference_text(runs, pair)
            if blog:
                sections.append(blog)
        sections.append(timing_text(runs, pair))
    unpaired = [label for pair in pairs for label in pair.unpaired]
    if runs.incomplete or runs.missing or unpaired:
        left_out = len(runs.incomplete) + len(runs.missing)
        sections.append(
            f"*These conclusions rest on the complete runs paired by seed only; {left_out} expected "
            f"run(s) are incomplete or missing (see the warning above)"
            + (f" and {', '.join(dict.fromkeys(unpaired))} had no partner of the same seed" if unpaired else "")
            + ".*"
        )
    return "\n\n".join(sections)


def ahead_text(pair: PairComparison) -> str:
    """The accuracy claim, no stronger than the verdict: a fact only when established, else what these seeds show."""
    base, other = display_name(pair.baseline), display_name(pair.other)
    difference = pair.mean_difference
    if pair.same_accuracy:
        return f"{other} and {base} reached the same mean accuracy"
    winner, loser = (other, base) if difference > 0 else (base, other)
    gap = f"{number(abs(100 * difference))} percentage points"
    significance = pair.significance
    if significance is Significance.ESTABLISHED:
        return f"**{winner} is more accurate than {loser} by {gap}**"
    seeds = "in this one seed" if len(pair.seeds) == 1 else f"in these {len(pair.seeds)} seeds"
    return f"{winner} is ahead by {gap} {seeds}; the difference is not established"


def verdict_reason(pair: PairComparison) -> str:
    """Why the verdict is what it is, in a clause: the interval and how many seeds it rests on."""
    interval = pair.difference_interval
    seeds = len(pair.seeds)
    if interval is None:
        return (
            f"one paired seed gives no interval over seeds, and a verdict needs at least {MIN_VERDICT_SEEDS} "
            "paired seeds"
        )
    where = f"the {interval.confidence:.0%} paired interval over {seeds} seeds, {interval_points(interval)} points,"
    if pair.significance is Significance.NO_VERDICT:
        return (
            f"{where} rests on {seeds - 1} degree{'s' if seeds > 2 else ''} of freedom; a verdict needs at least "
            f"{MIN_VERDICT_SEEDS} paired seeds"
        )
    return f"{where} {'excludes' if interval.excludes_zero() else 'includes'} 0"


def per_seed_points(pair: PairComparison) -> str:
    """Each paired seed's difference, other minus baseline, in points: ``"seed 0 +0.40, seed 1 +0.75"``."""
    return ", ".join(f"seed {seed.seed} {number(100 * seed.difference, sign=True)}" for seed in pair.seeds)


def accuracy_text(pair: PairComparison, caveats: str) -> str:
    """The **Accuracy.** paragraph, ending with ``caveats`` (:func:`_caveats`, the same for every pair)."""
    base, other = display_name(pair.baseline), display_name(pair.other)
    names = f"{base} (`{pair.baseline}`) and {other} (`{pair.other}`)"
    base_mean, other_mean = pair.baseline_mean, pair.other_mean
    if pair.same_accuracy:
        return f"**Accuracy.** {names} reached the same final-epoch test accuracy, {percent(base_mean)}." + caveats
    means = f"{percent(base_mean)} for {base}, {percent(other_mean)} for {other}"
    if len(pair.seeds) == 1:
        return (
            f"**Accuracy.** Comparing {names} in a single seed ({pair.seeds[0].seed}): {ahead_text(pair)} "
            f"(final-epoch test accuracy {means}): {verdict_reason(pair)}. One seed is one observation of each "
            "architecture, so this may not hold for other seeds." + caveats
        )
    return (
        f"**Accuracy.** Comparing {names} over {len(pair.seeds)} paired seeds: {ahead_text(pair)} (mean "
        f"final-epoch test accuracy {means}; {verdict_reason(pair)}). The one ahead in the mean was ahead in "
        f"{pair.seeds_ahead} of {len(pair.seeds)} seeds ({other} minus {base} per seed, in points: "
        f"{per_seed_points(pair)})." + caveats
    )


def _caveats(runs: Runs) -> str:
    """What to read the headline with, next to it: the number of seeds, the data copy, runs of older code."""
    counts = sorted({len(runs.of(arch)) for arch in runs.architectures})
    items = [f"{' to '.join(map(str, dict.fromkeys([counts[0], counts[-1]])))} seed(s) per architecture"]
    penalty = data_penalty(runs) if runs.cifar10 else None
    if penalty is not None:
        items.append(f"{penalty.copy}, which costs {penalty_cost(penalty)}")
    older = [run.label for run in runs.complete if run.older_code]
    if older:
        items.append(f"{', '.join(older)} trained by an older version of the training code")
    return " *Read with:* " + "; ".join(items) + "."


def _interval_text(pair: PairComparison) -> str:
    """The primary analysis: the paired difference over seeds, its interval, and the verdict from it alone."""
    base, other = display_name(pair.baseline), display_name(pair.other)
    heading = (
        "**The verdict: the paired difference over seeds.** The architectures are compared by the mean of the "
        f"per-seed differences ({other} minus {base}, the two runs of a seed scored on the same test images) "
        f"and its {CONFIDENCE:.0%} Student-t interval, which measures seed-to-seed variation; the verdict comes "
        f"from that interval alone, and only with at least {MIN_VERDICT_SEEDS} paired seeds."
    )
    interval = pair.difference_interval
    if interval is None:
        return (
            f"{heading} With one paired seed there is no interval over seeds: no verdict on the architectures is "
            "possible."
        )
    lines = [
        f"{heading} The interval over {interval.n} seeds is {interval_points(interval)} percentage points; it "
        f"{'excludes' if interval.excludes_zero() else 'includes'} 0." + _welch_text(pair)
    ]
    significance = pair.significance
    if significance is Significance.ESTABLISHED:
        verdict = f"**The difference is established**: the interval over {interval.n} paired seeds excludes 0."
    elif significance is Significance.NOT_ESTABLISHED:
        verdict = (
            f"The difference is not established: the interval over {interval.n} paired seeds includes 0, so "
            "these runs do not distinguish the architectures."
        )
    else:
        verdict = (
            f"No verdict is possible with {interval.n} paired seeds: with two the t quantile is "
            f"{number(pair.difference_quantile, 1)} and the interval rests on one degree of freedom, so its width "
            f"is itself a guess; the report gives a verdict from {MIN_VERDICT_SEEDS} paired seeds."
            if interval.n == 2
            else f"No verdict is possible with {interval.n} paired seeds: it needs at least {MIN_VERDICT_SEEDS}."
        )
    lines += ["", verdict, "", _power_text(pair)]
    return "\n".join(lines).rstrip()


def _welch_text(pair: PairComparison) -> str:
    welch = pair.welch_interval
    if welch is None:
        return ""
    return (
        f" Unpaired, Welch's {welch.confidence:.0%} interval over all {welch.n} runs is {interval_points(welch)}. The "
        "verdict uses the paired interval: the two runs of a seed were scored on the same test images and trained "
        "under the same seed, so the pairing removes what they share; Welch's interval treats them as unrelated."
    )


def _seed_tests_text(pair: PairComparison) -> str:
    """McNemar's test per seed, as what it is: whether these two trained models differ on this test set."""
    base, other = display_name(pair.baseline), display_name(pair.other)
    seeds = len(pair.seeds)
    family = (
        f"The {seeds} seeds of this pair are one family of tests, Holm-adjusted, which keeps the chance of any false "
        f"'differ' among them at most {ALPHA:.0%}; the statements use the adjusted p-values."
        if seeds > 1
        else "With one seed there is one test, unadjusted."
    )
    lines = [
        f"**Per-seed tests of the trained models.** McNemar's exact test per seed asks whether the two trained "
        f"models of that seed differ on these {pair.test_images:,} test images. Its noise is test-set noise: it "
        "says nothing about seed-to-seed variation, so it is no evidence about the architectures and no part of "
        f"the verdict. {family}",
        "",
    ]
    for seed in pair.seeds:
        result = seed.mcnemar
        used = p_value(seed.p_value, "Holm-adjusted p" if seed.p_adjusted is not None else "p")
        shown = f"{p_value(result.p_value)}, {used}" if seed.p_adjusted is not None else used
        comparison = "<" if seed.significant else "≥"
        finding = (
            "these two trained models differ on this test set"
            if seed.significant
            else "these two trained models are not shown to differ on this test set"
        )
        lines.append(
            f"- seed {seed.seed}: {result.only_a_correct} images only {base} classified correctly, "
            f"{result.only_b_correct} only {other}; {shown} ({comparison} {ALPHA}): {finding}"
        )
    return "\n".join(lines)


POWER_SIZES = {"observed": "of the observed size", "reference": "of the blog's size"}


def _seeds(count: int | None) -> str:
    return f"{count:,}" if count is not None else "more than 10,000"


def _power_text(pair: PairComparison) -> str:
    """How many seeds a difference needs, as a range over the spread's own interval: never one number from 1 df."""
    sd, spread = pair.difference_sd, pair.difference_sd_interval
    if sd is None or spread is None:
        return ""
    degrees = len(pair.seeds) - 1
    parts = []
    for needed in pair.power:
        count = (
            _seeds(needed.fewest)
            if needed.fewest == needed.most
            else f"{_seeds(needed.fewest)} to {_seeds(needed.most)}"
        )
        at_estimate = f"; {_seeds(needed.at_estimate)} at the measured spread itself" if degrees >= 2 else ""
        parts.append(
            f"{count} paired seeds to resolve a difference of {number(100 * needed.difference)} points "
            f"({POWER_SIZES[needed.size]}{at_estimate})"
        )
    indicative = (
        " With one degree of freedom this is indicative only: the spread itself is barely estimated."
        if degrees == 1
        else ""
    )
    return (
        f"*Power:* the per-seed differences spread by {number(100 * sd)} points (standard deviation over "
        f"{len(pair.seeds)} seeds, {degrees} degree{'s' if degrees > 1 else ''} of freedom; its {CONFIDENCE:.0%} interval is "
        f"{number(100 * spread[0])} to {number(100 * spread[1])} points). Over that interval a paired t-test at the "
        f"{ALPHA:.0%} level with {POWER:.0%} power needs {', and '.join(parts)}.{indicative}"
    )
