"""The report's generated text: overview, warnings, conclusions, limitations, the README block."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from scipy import stats

from ..data.spec import CIFAR10_SIZES
from .compare import (
    ALPHA,
    BLOG_POST,
    BLOG_TIMING_CONDITIONS,
    POWER,
    SLOWDOWN_AGREEMENT,
    Agreement,
    BenchTiming,
    CardinalityTrend,
    EnsembleScore,
    EqualCost,
    PairComparison,
    Reference,
    Significance,
    TimingGroup,
    Trend,
    agreement_rule,
    bench_timings,
    compare_all,
    data_penalty,
    per_class_differences,
)
from .figures import mean_confusion
from .format import dataset_name, display_name, number, p_value, percent, points, ratio, share
from .runs import RunResult, Runs
from .statistics import ensemble, expected_calibration_error


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
        sections += [_accuracy_text(runs, pair), _significance_text(pair)]
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


def _accuracy_text(runs: Runs, pair: PairComparison) -> str:
    base, other = display_name(pair.baseline), display_name(pair.other)
    names = f"{base} (`{pair.baseline}`) and {other} (`{pair.other}`)"
    base_mean = float(np.mean([seed.baseline_acc for seed in pair.seeds]))
    other_mean = float(np.mean([seed.other_acc for seed in pair.seeds]))
    difference = pair.mean_difference
    caveats = _caveats(runs)
    if round(100 * difference, 9) == 0:
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
    ahead = sum((seed.difference > 0) == (difference > 0) and seed.difference != 0 for seed in pair.seeds)
    per_seed = ", ".join(f"seed {seed.seed} {number(100 * seed.difference, sign=True)}" for seed in pair.seeds)
    return (
        f"**Accuracy.** Comparing {names} over {len(pair.seeds)} paired seeds, **{winner} is more accurate than "
        f"{loser} by {gap}** in mean final-epoch test accuracy ({percent(base_mean)} for {base}, "
        f"{percent(other_mean)} for {other}); it was ahead in {ahead} of {len(pair.seeds)} seeds ({other} minus "
        f"{base} per seed, in points: {per_seed})." + caveats
    )


def _caveats(runs: Runs) -> str:
    """What to read the headline with, next to it: the number of seeds, the data copy, runs of older code."""
    counts = sorted({len(runs.of(arch)) for arch in runs.architectures})
    items = [f"{' to '.join(map(str, dict.fromkeys([counts[0], counts[-1]])))} seed(s) per architecture"]
    penalty = data_penalty(runs) if runs.cifar10 else None
    if penalty is not None:
        items.append(f"{penalty.copy}, which costs {penalty.describe()}")
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
        f"{interval.n} seeds is {_interval(interval)} percentage points; it {'excludes' if excludes else 'includes'} 0."
        + _welch_text(pair)
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


def _interval(interval) -> str:
    return f"[{number(100 * interval.low, sign=True)}, {number(100 * interval.high, sign=True)}]"


def _welch_text(pair: PairComparison) -> str:
    welch = pair.welch_interval
    if welch is None:
        return ""
    return (
        f" Unpaired, Welch's {welch.confidence:.0%} interval over all {welch.n} runs is {_interval(welch)}. The verdict "
        "uses the paired interval: the two runs of a seed were scored on the same test images and trained under the "
        "same seed, so the pairing removes what they share; Welch's interval treats them as unrelated."
    )


def _flip_text(pair: PairComparison) -> str:
    if len(pair.seeds) != 2:
        return ""
    quantile = float(stats.t.ppf(0.5 + pair.difference_interval.confidence / 2, 1))
    return (
        f" With two seeds the t quantile is {number(quantile, 1)} and the interval rests on one degree of freedom: "
        "one more seed can flip this verdict."
    )


def _power_text(pair: PairComparison) -> str:
    """How many seeds a difference needs, from the measured spread: turns 'undecided' into a plan."""
    sd = pair.difference_sd
    if sd is None:
        return ""
    blog = pair.reference.test_acc.get(pair.other), pair.reference.test_acc.get(pair.baseline)
    targets = [("of the observed size", abs(pair.mean_difference))]
    if None not in blog:
        targets.append(("of the blog's size", abs(blog[0] - blog[1])))
    parts = []
    for what, difference in targets:
        needed = pair.seeds_needed(difference)
        seeds = f"{needed:,} paired seeds" if needed else "more seeds than is sensible"
        parts.append(f"{seeds} to resolve a difference of {number(100 * difference)} points ({what})")
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
    measured = pair.mean_difference
    if measured == 0 or other_ref == base_ref:
        text += " One of the two shows no difference, so the orderings cannot be compared."
    else:
        same = (measured > 0) == (other_ref > base_ref)
        text += f" Here the ordering is {'the same' if same else 'the opposite'}: {other} minus {base} is {points(measured)} (blog: {points(other_ref - base_ref)})."
    penalty = data_penalty(runs)
    if penalty is not None:
        text += (
            f" These runs used {penalty.copy}, which costs {penalty.describe()}; the blog's accuracies are on the "
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


def _slowdown_range(slowdowns: Sequence[float]) -> str:
    low, high = min(slowdowns), max(slowdowns)
    return (
        share(low, sign=True)
        if share(low) == share(high)
        else f"from {share(low, sign=True)} to {share(high, sign=True)}"
    )


def _relation(fraction: float) -> str:
    return f"{share(abs(fraction))} {'slower' if fraction >= 0 else 'faster'}"


def _throughput(ratio_: float) -> str:
    """Other's images/s over the baseline's, said once: the same quantity as the time per epoch, inverted."""
    return f"{share(abs(1 - ratio_))} {'fewer' if ratio_ < 1 else 'more'} images per second"


def _group_text(group: TimingGroup, base: str, other: str, devices: int) -> str:
    seeds = ", ".join(map(str, group.seeds))
    where = f"On {group.device} (seed{'s' if len(group.seeds) > 1 else ''} {seeds})" if devices > 1 else "Here"
    text = (
        f"{where}, {other} took {ratio(group.time_ratio)} the seconds per epoch of {base} "
        f"({_relation(group.slowdown)}), that is {_throughput(group.throughput_ratio)}. "
        f"Measured under: {group.conditions}"
    )
    interval = group.slowdown_interval
    if interval is not None:
        text += (
            f". Over {interval.n} seeds the mean slowdown is {share(interval.mean)} "
            f"({interval.confidence:.0%} interval {share(interval.low)} to {share(interval.high)})"
        )
    elif group.epoch_slowdowns:
        text += (
            f". One timed run per architecture gives no interval; epoch by epoch within these runs the slowdown "
            f"ranged {_slowdown_range(group.epoch_slowdowns)} (that spread leaves out load changes between runs)"
        )
    return text + "."


def _timing_text(runs: Runs, pair: PairComparison) -> str:
    base, other = display_name(pair.baseline), display_name(pair.other)
    low, high = SLOWDOWN_AGREEMENT
    if not pair.timings:
        return "**Training time.** No paired seed was timed alike, so no time is compared." + _excluded_text(pair)
    devices = len({group.device for group in pair.timings})
    texts = [_group_text(group, base, other, devices) for group in pair.timings]
    text = "**Training time.** " + " ".join(texts)
    if devices > 1:
        text += (
            " Each device's ratio is given apart: a slowdown measured on different device models mixes "
            "hardware with architecture, so only runs timed on the same device model are pooled."
        )
    text += _excluded_text(pair)
    is_blog_pair = {pair.baseline, pair.other} == {pair.reference.faster, pair.reference.slower}
    if not is_blog_pair or not runs.cifar10:
        return text
    if not pair.judged:
        conditions = ", ".join(f"{key} {value}" for key, value in BLOG_TIMING_CONDITIONS.items())
        return text + (
            f' The blog post\'s "about {pair.reference.slowdown:.0%} slower" was measured with its own loop '
            f"({conditions}); these timings were not, so they are no verdict on that claim: grouped convolutions "
            "gain differently from mixed precision, channels_last and larger batches."
        )
    text += (
        f" The blog post says {display_name(pair.reference.slower)} is about {pair.reference.slowdown:.0%} slower. "
        f"The rule used here: {agreement_rule(pair.baseline, pair.other, pair.reference)}."
    )
    band = f"the {share(low)} to {share(high)} band"
    for group in pair.timings:
        if not group.judged:
            continue
        text += " " + _verdict_text(group, group.slowdown_interval, group.slowdown, band, f"runs on {group.device}")
    bench = bench_timings(runs.profile_dir.parent / "bench", pair.baseline, pair.other, pair.reference)
    if bench:
        text += "\n\n" + _bench_text(pair, bench, band)
    return text


def _verdict_text(timing: TimingGroup | BenchTiming, interval, slowdown: float, band: str, what: str) -> str:
    """The blog's "about 30 %" judged on one timing, with the condition (what limits the loop) named."""
    low, high = SLOWDOWN_AGREEMENT
    condition = f"Under this condition ({timing.bottleneck}; {what})"
    if interval is None:
        position = "above" if slowdown > high else "below" if slowdown < low else "inside"
        return (
            f"{condition}: the measured {_relation(slowdown)} lies {position} {band}, but it is **undecided** whether "
            "that agrees: with one timed run per architecture, a change in the machine's load between the runs moves "
            "the ratio, and one run gives no estimate of how much. Two or more seeds per architecture give an "
            "interval that can decide it."
        )
    agreement = timing.agreement
    verdict = "is **undecided**" if agreement is Agreement.UNDECIDED else f"**{agreement.value}**"
    text = (
        f"{condition}: the slowdown is {share(interval.mean, sign=True)} ({interval.confidence:.0%} interval "
        f"{share(interval.low, sign=True)} to {share(interval.high, sign=True)}); by that rule it {verdict}"
    )
    if agreement is Agreement.DISAGREES:
        text += f" (it is {'more' if interval.low > high else 'less'} than {band})"
    elif agreement is Agreement.UNDECIDED:
        text += f": the interval reaches both inside and outside {band}"
    return text + "."


def _bench_text(pair: PairComparison, bench: list[BenchTiming], band: str) -> str:
    """The blog's claim under both bottlenecks: the bench's steps at the blog's conditions beside the runs."""
    base, other = display_name(pair.baseline), display_name(pair.other)
    lines = [
        "**The blog's timing under both bottlenecks.** What limits a training step decides how much grouped "
        f"convolutions cost. `make bench` timed both architectures at the blog's conditions (fp32, batch "
        f"{pair.reference.batch_size}, default layout), each with the device to itself:"
    ]
    for timing in bench:
        measured = (
            f"{other} {number(timing.other_rate, 0)} img/s against {base} {number(timing.base_rate, 0)}: "
            f"{ratio(timing.time_ratio)} the time per image ({_relation(timing.slowdown)})"
        )
        verdict = _verdict_text(
            timing, timing.slowdown_interval, timing.slowdown, band, f"{timing.device}, {timing.source}"
        )
        if timing.slowdown_interval is not None:
            verdict += " Its interval is over repeats within one process, so it measures timing noise, not run-to-run variation."
        lines.append(f"- {timing.device}, {timing.step_mode} steps: {measured}. {verdict}")
    return "\n".join(lines)


def _excluded_text(pair: PairComparison) -> str:
    if not pair.timing_excluded:
        return ""
    return " Left out of every timing comparison: " + "; ".join(pair.timing_excluded) + "."


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
    penalty = data_penalty(runs) if runs.cifar10 else None
    for run in _distinct_runs(runs, lambda run: (run.record.data.kind, run.record.data.name)):
        data = run.record.data
        if penalty is not None:
            items.append(
                f"Data copy: {data.label} is {penalty.copy}, as the fingerprint of its decoded images "
                f"({penalty.fingerprint}) identifies it. Training on it costs {penalty.describe()}, against the "
                "original CIFAR-10 the blog used, so accuracies here sit below the original's by about that much."
            )
        elif data.kind == "imagefolder" and runs.cifar10:
            items.append(
                f"Data copy: {data.label} is an ImageFolder copy of CIFAR-10 whose fingerprint "
                f"({data.fingerprint}) is not a known copy: accuracies on it may differ from those on the original."
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


def _per_device(runs: list[RunResult], value: Callable[[RunResult], float], digits: int) -> str:
    """A mean over runs, one per device model when the runs were timed on several (never pooled across them)."""
    devices: dict[str, list[float]] = {}
    for run in runs:
        devices.setdefault(run.record.env.device_name, []).append(value(run))
    if len(devices) == 1:
        return number(float(np.mean(next(iter(devices.values())))), digits)
    return "; ".join(f"{number(float(np.mean(v)), digits)} ({device})" for device, v in devices.items())


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
            f"| {_per_device(results, lambda run: run.record.timing.seconds_per_epoch, 1)} "
            f"| {_per_device(results, lambda run: run.record.timing.images_per_second, 0)} |"
        )
    sentences = []
    for pair in compare_all(runs):
        if len(pair.seeds) == 1:
            p_values = p_value(pair.seeds[0].p_value)
        else:
            p_values = "; ".join(f"seed {seed.seed} {p_value(seed.p_value)}" for seed in pair.seeds)
        adjusted = " Holm-adjusted" if any(seed.p_adjusted is not None for seed in pair.seeds) else ""
        interval = pair.difference_interval
        spread = f", paired {interval.confidence:.0%} interval {_interval(interval)}" if interval else ""
        per_seed = ", ".join(f"seed {seed.seed} {number(100 * seed.difference, sign=True)}" for seed in pair.seeds)
        timings = "; ".join(
            f"{ratio(group.time_ratio)} the seconds per epoch ({share(group.slowdown, sign=True)}) under {group.conditions}"
            + (
                f" (seed{'s' if len(group.seeds) > 1 else ''} {', '.join(map(str, group.seeds))})"
                if len(pair.timings) > 1
                else ""
            )
            for group in pair.timings
        )
        sentences.append(
            f"{display_name(pair.other)} minus {display_name(pair.baseline)}: {points(pair.mean_difference)} of test "
            f"accuracy (per seed: {per_seed}){spread} (McNemar's exact test per seed,{adjusted} {p_values}); "
            + (f"{display_name(pair.other)} took {timings}." if timings else "no seed was timed alike.")
        )
    penalty = data_penalty(runs) if runs.cifar10 else None
    if penalty is not None:
        sentences.append(
            f"Data: {penalty.copy}; training on it costs {penalty.describe()}, so these accuracies are not comparable "
            "with the blog's, made on the original images."
        )
    older = [run.label for run in runs.complete if run.older_code]
    if older:
        sentences.append(
            f"Trained by an older version of the training code than the current one: {', '.join(older)} "
            "(kept, since retraining costs GPU time; the report says which version)."
        )
    return "\n".join(rows) + "\n\n" + "\n\n".join(sentences) + "\n"


def readme_timings(runs: Runs) -> str:
    """How long the profile's runs took, from their records: wall time per run and in all, per device model."""
    devices: dict[str, list[RunResult]] = {}
    for run in runs.complete:
        if not run.reused_from:  # a reused run was copied, not trained: it took no time here
            devices.setdefault(run.record.env.device_name, []).append(run)
    parts = []
    for device, members in devices.items():
        by_arch = []
        for arch in runs.architectures:
            minutes = [run.record.timing.wall_seconds / 60 for run in members if run.arch == arch]
            if minutes:
                span = (
                    number(min(minutes), 1)
                    if number(min(minutes), 1) == number(max(minutes), 1)
                    else (f"{number(min(minutes), 1)} to {number(max(minutes), 1)}")
                )
                by_arch.append(f"{display_name(arch)} {span}")
        total = sum(run.record.timing.wall_seconds for run in members) / 60
        parts.append(
            f"{device}: {len(members)} run(s), {number(total, 0)} minutes of wall time in all; per run "
            f"(minutes) {', '.join(by_arch)}"
        )
    return f"`{runs.profile}` (measured, wall time including data loading and evaluation): " + "; ".join(parts) + "."


def cardinality_markdown(trend: CardinalityTrend) -> str:
    """Whether accuracy rises with cardinality here, judged on the interval of the slope over seeds."""
    params = [point.params for point in trend.points]
    macs = [point.macs for point in trend.points]
    spread = (
        f"The variants have {min(params) / 1e6:.1f} to {max(params) / 1e6:.1f} M parameters and "
        f"{min(macs) / 1e9:.2f} to {max(macs) / 1e9:.2f} GMACs per image, so their complexity is nearly equal "
        f"(parameters within {share(max(params) / min(params) - 1, 1)} of each other and MACs within "
        f"{share(max(macs) / min(macs) - 1, 1)}), as the design intends."
    )
    interval = trend.slope_interval
    if interval is None:
        slope = trend.seed_slopes[0] if trend.seed_slopes else None
        measured = (
            f"The fitted slope is {number(100 * slope, sign=True)} percentage points per doubling of cardinality, "
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
            f"{number(100 * interval.mean, sign=True)} percentage points per doubling ({interval.confidence:.0%} "
            f"interval over {interval.n} seeds {_interval(interval)}), so {word}."
        )
    imagenet = (
        "On ImageNet the ResNeXt paper found top-1 error falling from 23.9 % (1x64d) to 22.2 % (32x4d) at the same "
        "complexity; that is another dataset and image size, shown for orientation only."
    )
    return " ".join([verdict, spread, imagenet])


def ensembles_markdown(seeds: dict[str, list[EnsembleScore]], equal_cost: EqualCost | None) -> str:
    """What averaging models bought, in which direction, and whether temperature scaling helped."""
    lines = []
    for arch, scores in seeds.items():
        single, largest = scores[0], scores[-1]
        lines.append(
            f"- {display_name(arch)}: an ensemble of {largest.size} seeds reaches {percent(largest.accuracy)} "
            f"against {percent(single.accuracy)} for one model on average"
            + _versus_best_member(largest)
            + f" NLL {number(single.nll, 3)} → {number(largest.nll, 3)}, ECE {percent(single.ece, 1)} → "
            f"{percent(largest.ece, 1)}. "
            + _scaling_text("One model", single)
            + " "
            + _scaling_text(f"The {largest.size}-seed ensemble", largest)
        )
    if equal_cost is not None:
        lines.append(_equal_cost_text(equal_cost))
    return "\n".join(lines)


def _versus_best_member(score: EnsembleScore) -> str:
    """The ensemble against its most accurate member, with the direction said, not only the p-value."""
    test = score.mcnemar_vs_best_member
    if test is None or score.best_member_accuracy is None:
        return "."
    difference = score.accuracy - score.best_member_accuracy
    direction = "better than" if difference > 0 else "worse than" if difference < 0 else "as accurate as"
    significant = test.p_value < ALPHA
    verdict = (
        f"a significant {'gain' if difference > 0 else 'loss'}"
        if significant and difference
        else "not a significant difference"
    )
    return (
        f"; it is **{direction} its best member** ({score.best_member}, {percent(score.best_member_accuracy)}), "
        f"by {number(abs(100 * difference))} percentage points: McNemar's {p_value(test.p_value)}, {verdict}."
    )


def _temperatures(score: EnsembleScore) -> str:
    values = sorted(score.temperatures)
    if len(values) == 2:
        return f"{number(score.temperatures[0])} and {number(score.temperatures[1])} on the two halves"
    return f"{number(values[0])} to {number(values[-1])} over {len(values) // 2} models' halves"


def _scaling_text(what: str, score: EnsembleScore) -> str:
    """Whether temperature scaling helped (NLL and ECE), the fitted temperatures, and the confidence they show."""
    if not score.temperatures:
        return ""
    nll = "lowered" if score.nll_scaled < score.nll else "raised" if score.nll_scaled > score.nll else "left"
    ece = "lowered" if score.ece_scaled < score.ece else "raised" if score.ece_scaled > score.ece else "left"
    helped = nll == "lowered" and ece == "lowered"
    text = (
        f"{what}: temperature scaling {nll} NLL ({number(score.nll, 3)} → {number(score.nll_scaled, 3)}) and {ece} "
        f"ECE ({percent(score.ece, 1)} → {percent(score.ece_scaled, 1)})"
        + (
            ""
            if helped
            else ", so **it did not help**"
            if nll != "lowered" and ece != "lowered"
            else ", so it helped only in part"
        )
        + f"; the fitted temperatures are {_temperatures(score)}"
    )
    if not score.temperatures_agree:
        return text + (
            ", which differ by more than 10 %: the test set is too small to fit a temperature reliably, so "
            "the scaled scores say little."
        )
    return text + f", so the {'models are' if len(score.temperatures) > 2 else 'model is'} {score.confidence}."


def _spread(scores: Sequence[EnsembleScore]) -> str:
    values = [score.accuracy for score in scores]
    if len(values) == 1:
        return percent(values[0])
    return f"{percent(float(np.mean(values)))} on average ({percent(min(values))} to {percent(max(values))})"


def _equal_cost_text(equal_cost: EqualCost) -> str:
    mixed = equal_cost.mixed
    text = (
        f"- At equal cost (two models): the {len(mixed)} ensemble(s) of one run of each architecture reach "
        f"{_spread(mixed)}"
    )
    for arch, scores in equal_cost.same.items():
        tests = [test for test in equal_cost.tests if test.arch == arch]
        significant = sum(test.significant for test in tests)
        verdict = equal_cost.verdict(arch)
        judged = {
            "better": f"**better than** every two-seed {display_name(arch)} ensemble",
            "worse": f"**worse than** every two-seed {display_name(arch)} ensemble",
            "undecided": f"**not shown to differ** from two seeds of {display_name(arch)}",
        }[verdict]
        text += (
            f"; against the {len(scores)} two-seed ensemble(s) of {display_name(arch)} ({_spread(scores)}) they are "
            f"{judged} (McNemar's test of each mixed ensemble against each, Holm-adjusted: {significant} of "
            f"{len(tests)} significant)"
        )
    return text + ". A verdict is given only where every such test agrees."


# --- figure captions: what each figure shows, with the numbers it shows -----------------------------


def caption_headline(runs: Runs, pairs: list[PairComparison]) -> str:
    accuracies = "; ".join(
        f"{display_name(arch)} " + ", ".join(f"seed {run.seed} {percent(run.record.test_acc)}" for run in runs.of(arch))
        for arch in runs.architectures
    )
    images = len(runs.complete[0].labels) if runs.complete else 0
    times = "; ".join(
        f"{display_name(pair.other)} {ratio(group.time_ratio)} on {group.device}"
        for pair in pairs
        for group in pair.timings
    )
    return (
        f"**Headline.** Final-epoch test accuracy of every run with its binomial (Wilson) 95 % interval over the "
        f"{images:,} test images: {accuracies}. Right: seconds per epoch over the baseline's, per device model"
        + (f": {times}." if times else ".")
    )


def caption_training_curves(runs: Runs, x: str) -> str:
    finals = "; ".join(
        f"{run.label} {percent(run.record.test_acc)}" for arch in runs.architectures for run in runs.of(arch)
    )
    axis = "epoch" if x == "epoch" else "cumulative training time (setup and evaluation excluded)"
    images = len(runs.complete[0].labels) if runs.complete else 0
    return (
        f"**Training curves by {axis}.** Test accuracy (shaded: each evaluation's binomial 95% interval over "
        f"{images:,} test images) and test loss of every run; final test accuracy: {finals}."
    )


def caption_per_class_difference(runs: Runs, pairs: list[PairComparison]) -> str:
    classes = runs.complete[0].record.classes if runs.complete else ()
    parts = []
    for pair in pairs:
        means, lows, highs = per_class_differences(pair, runs)
        order = np.argsort(means)
        shown = [(classes[i], means[i], lows[i], highs[i]) for i in (order[-1], order[0])]
        resolved = sum((low > 0) or (high < 0) for low, high in zip(lows, highs))
        parts.append(
            f"{display_name(pair.other)} minus {display_name(pair.baseline)}: largest "
            + " and smallest ".join(
                f"{name} {number(100 * mean, 1, sign=True)} [{number(100 * low, 1, sign=True)}, {number(100 * high, 1, sign=True)}]"
                for name, mean, low, high in shown
            )
            + f" points; {resolved} of {len(classes)} classes' intervals exclude 0"
        )
    return (
        "**Per-class differences.** Each class's test accuracy minus the baseline's, with 95 % intervals (over "
        "seeds, or binomial with one seed; green: interval above 0, red: below). " + "; ".join(parts) + "."
    )


def caption_confusion(runs: Runs) -> str:
    classes = runs.complete[0].record.classes if runs.complete else ()
    parts = []
    for arch in runs.architectures:
        matrix = mean_confusion(runs, arch).copy()
        np.fill_diagonal(matrix, 0)
        true, predicted = np.unravel_index(int(matrix.argmax()), matrix.shape)
        parts.append(
            f"{display_name(arch)}: {classes[true]} taken for {classes[predicted]} {percent(matrix[true, predicted], 0)} of the time"
        )
    return (
        "**Confusion matrices**, summed over seeds and normalised by row (true class). Most frequent confusion: "
        + "; ".join(parts)
        + "."
    )


def caption_reliability(runs: Runs, ensembles: dict[str, list[EnsembleScore]]) -> str:
    parts = []
    for arch in runs.architectures:
        members = runs.of(arch)
        panels = [(f"seed {members[0].seed}", [members[0]])]
        if arch in ensembles and len(members) > 1:
            panels.append((f"ensemble of {len(members)}", members))
        for name, chosen in panels:
            probabilities = ensemble([run.probabilities for run in chosen])
            ece = expected_calibration_error(probabilities, chosen[0].labels)
            parts.append(f"{display_name(arch)} {name} {percent(ece, 1)}")
    return (
        "**Reliability diagrams**: accuracy in each of 15 confidence bins; bars below the diagonal mean "
        "over-confidence, above it under-confidence. ECE: " + "; ".join(parts) + "."
    )


def caption_cardinality(trend: CardinalityTrend) -> str:
    points_ = "; ".join(
        f"{point.cardinality}x{point.width}d {percent(float(np.mean(point.accuracies)))}" for point in trend.points
    )
    slope = (
        f"fitted slope {number(100 * float(np.mean(trend.seed_slopes)), sign=True)} points per doubling"
        if trend.seed_slopes
        else "no fitted slope"
    )
    return (
        f"**Cardinality at equal complexity.** Test accuracy per run with its binomial 95 % interval ({points_}); "
        f"{slope}; seconds per epoch; and the ResNeXt paper's ImageNet top-1 error (another dataset)."
    )
