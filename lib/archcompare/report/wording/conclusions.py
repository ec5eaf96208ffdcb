"""The conclusions in words: accuracy, whether the gap is meaningful, power, the blog post, training time.

Every number and verdict comes from :mod:`..analysis.pairs`; this module only chooses the words.
"""

from __future__ import annotations

from ..analysis.pairs import PairComparison, Significance, compare_all
from ..analysis.penalty import data_penalty
from ..analysis.reference import ALPHA, BLOG_POST, POWER, Reference
from ..format import display_name, interval_points, number, p_value, percent, points
from ..runs import Runs
from .penalty import penalty_cost
from .timing import timing_text


def conclusions(runs: Runs, reference: Reference = BLOG_POST) -> str:
    """The comparison's findings in Markdown, worded from the numbers: accuracy, significance, cost.

    Every architecture is compared with the baseline. With one seed the wording is hedged: a single
    pair of runs cannot separate the architectures from the variation between training runs.
    """
    if len(runs.architectures) < 2:
        have = ", ".join(f"`{arch}`" for arch in runs.architectures) or "no architecture"
        return f"No comparison is possible yet: only {have} has complete runs."
    pairs = compare_all(runs, reference)
    if not pairs:
        return "No comparison is possible yet: no seed has complete runs of the baseline and another architecture."
    sections = []
    tests = sum(len(pair.seeds) for pair in pairs)
    if tests > 1:
        sections.append(
            f"*{tests} McNemar tests are made below ({len(pairs)} comparison(s) with the baseline, one per paired "
            f"seed), so each p-value is also given Holm-adjusted over all {tests}; the verdicts use the adjusted "
            "values, which keep the chance of any false 'significant' at 5 %.*"
        )
    for pair in pairs:
        if len(pairs) > 1:
            sections.append(f"### {display_name(pair.other)} vs {display_name(pair.baseline)}")
        sections += [_accuracy_text(runs, pair), _significance_text(pair)]
        if pair.is_reference_pair:
            blog = _reference_text(runs, pair)
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


def _accuracy_text(runs: Runs, pair: PairComparison) -> str:
    base, other = display_name(pair.baseline), display_name(pair.other)
    names = f"{base} (`{pair.baseline}`) and {other} (`{pair.other}`)"
    base_mean, other_mean = pair.baseline_mean, pair.other_mean
    difference = pair.mean_difference
    caveats = _caveats(runs)
    if pair.same_accuracy:
        return f"**Accuracy.** {names} reached the same final-epoch test accuracy, {percent(base_mean)}." + caveats
    winner, loser = (other, base) if difference > 0 else (base, other)
    gap = f"{number(abs(100 * difference))} percentage points"
    if len(pair.seeds) == 1:
        return (
            f"**Accuracy.** Comparing {names} in a single seed ({pair.seeds[0].seed}), {winner} reached the "
            f"higher final-epoch test accuracy, by {gap} ({percent(base_mean)} for {base}, "
            f"{percent(other_mean)} for {other}). One seed is one observation of each architecture, so this "
            "may not hold for other seeds." + caveats
        )
    per_seed = ", ".join(f"seed {seed.seed} {number(100 * seed.difference, sign=True)}" for seed in pair.seeds)
    return (
        f"**Accuracy.** Comparing {names} over {len(pair.seeds)} paired seeds, **{winner} is more accurate than "
        f"{loser} by {gap}** in mean final-epoch test accuracy ({percent(base_mean)} for {base}, "
        f"{percent(other_mean)} for {other}); it was ahead in {pair.seeds_ahead} of {len(pair.seeds)} seeds "
        f"({other} minus {base} per seed, in points: {per_seed})." + caveats
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


def _significance_text(pair: PairComparison) -> str:
    base, other = display_name(pair.baseline), display_name(pair.other)
    lines = [
        f"**Is the gap statistically meaningful?** McNemar's exact test per seed, on the same "
        f"{pair.test_images:,} test images (significance level {ALPHA}):",
        "",
    ]
    for seed in pair.seeds:
        result = seed.mcnemar
        verdict = "significant" if seed.significant else "not significant"
        adjusted = f", Holm-adjusted {p_value(seed.p_adjusted)[2:]}" if seed.p_adjusted is not None else ""
        lines.append(
            f"- seed {seed.seed}: {result.only_a_correct} images only {base} classified correctly, "
            f"{result.only_b_correct} only {other}; {p_value(result.p_value)}{adjusted} ({verdict})"
        )
    significant = pair.significant_seeds
    lines.append("")
    interval = pair.difference_interval
    significance = pair.significance
    if significance is Significance.SUGGESTIVE:
        lines.append(
            "With p < 0.05, the two trained models differ on these test images. McNemar's test accounts only "
            "for the sample of test images, not for the variation between training runs: with one seed, "
            "the difference may come from the seed rather than the architecture. Treat it as suggestive."
        )
        return "\n".join(lines)
    if significance is Significance.NOT_SHOWN:
        lines.append(
            "With p ≥ 0.05, the two trained models are not distinguishable on these test images, and one seed "
            "gives no estimate of the variation between training runs. **No meaningful gap is shown.**"
        )
        return "\n".join(lines)
    excludes = interval.excludes_zero()
    lines.append(
        f"The {interval.confidence:.0%} paired t-interval of the mean accuracy difference ({other} minus {base}) over "
        f"{interval.n} seeds is {interval_points(interval)} percentage points; it "
        f"{'excludes' if excludes else 'includes'} 0." + _welch_text(pair)
    )
    verdicts = {
        Significance.MEANINGFUL: "**The gap is statistically meaningful**: p < 0.05 in every seed and the interval "
        "excludes 0.",
        Significance.MIXED: f"**The evidence is mixed**: p < 0.05 in {significant} of {len(pair.seeds)} seeds and "
        f"the interval {'excludes' if excludes else 'includes'} 0.",
        Significance.NOT_MEANINGFUL: "**The gap is not statistically meaningful**: no seed has p < 0.05 and the "
        "interval includes 0, so the architectures are not distinguishable with these runs.",
    }
    lines.extend(["", verdicts[significance] + _flip_text(pair), "", _power_text(pair)])
    return "\n".join(line for line in lines).rstrip()


def _welch_text(pair: PairComparison) -> str:
    welch = pair.welch_interval
    if welch is None:
        return ""
    return (
        f" Unpaired, Welch's {welch.confidence:.0%} interval over all {welch.n} runs is {interval_points(welch)}. The "
        "verdict uses the paired interval: the two runs of a seed were scored on the same test images and trained "
        "under the same seed, so the pairing removes what they share; Welch's interval treats them as unrelated."
    )


def _flip_text(pair: PairComparison) -> str:
    if len(pair.seeds) != 2:
        return ""
    return (
        f" With two seeds the t quantile is {number(pair.difference_quantile, 1)} and the interval rests on one degree "
        "of freedom: one more seed can flip this verdict."
    )


POWER_SIZES = {"observed": "of the observed size", "reference": "of the blog's size"}


def _power_text(pair: PairComparison) -> str:
    """How many seeds a difference needs, from the measured spread: turns 'undecided' into a plan."""
    sd = pair.difference_sd
    if sd is None:
        return ""
    parts = []
    for needed in pair.power:
        seeds = f"{needed.seeds:,} paired seeds" if needed.seeds else "more seeds than is sensible"
        parts.append(
            f"{seeds} to resolve a difference of {number(100 * needed.difference)} points ({POWER_SIZES[needed.size]})"
        )
    return (
        f"*Power:* the per-seed differences spread by {number(100 * sd)} points (standard deviation over "
        f"{len(pair.seeds)} seeds). At that spread a paired t-test at the {ALPHA:.0%} level with {POWER:.0%} power "
        f"needs {', and '.join(parts)}."
    )


def _reference_text(runs: Runs, pair: PairComparison) -> str:
    reference = pair.reference
    base_ref, other_ref = (reference.test_acc.get(arch) for arch in (pair.baseline, pair.other))
    if base_ref is None or other_ref is None:
        return f"**Against the blog post.** It gives no accuracy for `{pair.baseline}` and `{pair.other}` together."
    base, other = display_name(pair.baseline), display_name(pair.other)
    text = (
        f"**Against the blog post.** {reference.source[0].upper() + reference.source[1:]} reports "
        f"{percent(base_ref, 1)} for {base} and {percent(other_ref, 1)} for {other} after {reference.epochs} "
        f"epochs at batch size {reference.batch_size}."
    )
    if not runs.cifar10:
        return ""  # the blog's figures are CIFAR-10's: they appear only beside CIFAR-10 runs
    same = pair.same_ordering_as_reference
    if same is None:
        text += " One of the two shows no difference, so the orderings cannot be compared."
    else:
        text += (
            f" Here the ordering is {'the same' if same else 'the opposite'}: {other} minus {base} is "
            f"{points(pair.mean_difference)} (blog: {points(pair.reference_difference)})."
        )
    penalty = data_penalty(runs)
    if penalty is not None:
        text += (
            f" These runs used {penalty.copy}, which costs {penalty_cost(penalty)}; the blog's accuracies are on the "
            "original images, so the values are not comparable as they stand."
        )
    epochs = {run.record.epochs for run in runs.complete}
    batches = {run.record.config.get("batch_size") for run in runs.complete}
    if epochs != {reference.epochs} or batches != {reference.batch_size}:
        text += (
            f" The runs used {', '.join(map(str, sorted(epochs)))} epoch(s) at batch size "
            f"{', '.join(map(str, sorted(batches)))}, not the blog's budget, so only the ordering is comparable, "
            "not the values."
        )
    return text
