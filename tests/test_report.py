"""The comparison report: loading run directories, its tables, statistics, text, figures and notebook."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from archcompare import report
from archcompare.data.spec import CIFAR10_CLASSES
from archcompare.record import Timing
from archcompare.report.analysis.statistics import mean_confidence_interval
from archcompare.report.format import number, percent, ratio

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "compare.ipynb"
RUN_NAMES = ["resnet50-seed0", "resnet50-seed1", "resnext50_32x4d-seed0", "resnext50_32x4d-seed1"]
# The cardinality sweep's five architectures, by cardinality (1x64d to 32x4d).
VARIANTS = ["resnet50", "resnext50_2x40d", "resnext50_4x24d", "resnext50_8x14d", "resnext50_32x4d"]


def read_summary(run: Path) -> dict:
    return json.loads((run / "summary.json").read_text())


TIMING_FIELDS = {field.name for field in dataclasses.fields(Timing)}


def edit_summary(run: Path, **changes) -> None:
    """Change a run's record: a top-level field, a timing field, the classes, or parts of config/env/data."""
    summary = read_summary(run)
    for key, value in changes.items():
        if key in ("config", "env", "data", "timing"):
            summary[key].update(value)
        elif key in TIMING_FIELDS:
            summary["timing"][key] = value
        elif key == "classes":
            summary["data"]["classes"] = value
        else:
            summary[key] = value
    (run / "summary.json").write_text(json.dumps(summary))


def set_correct(run: Path, correct: np.ndarray) -> None:
    """Rewrite a run's predictions so that exactly the images marked in ``correct`` are classified right."""
    with np.load(run / "predictions.npz") as stored:
        labels, probabilities = stored["labels"], stored["probabilities"]
    classes = probabilities.shape[1]
    predicted = np.where(correct, labels, (labels + 1) % classes)
    np.savez(run / "predictions.npz", labels=labels, probabilities=np.eye(classes, dtype=np.float32)[predicted])
    edit_summary(run, test_acc=float(correct.mean()))


def write_plan(profile: Path, runs: list[str]) -> None:
    plan = {
        "profile": "tiny",
        "description": "tiny test runs",
        "data": "imagefolder:somewhere",
        "architectures": ["resnet50", "resnext50_32x4d"],
        "seeds": [0, 1],
        "runs": runs,
    }
    (profile / "plan.json").write_text(json.dumps(plan))


# --- loading ------------------------------------------------------------------------------------


def test_load_runs_reads_every_complete_run(profile):
    runs = report.load_runs(profile)
    assert len(runs.complete) == 4 and runs.incomplete == () and runs.missing == ()
    assert runs.architectures == ["resnet50", "resnext50_32x4d"]
    for run in runs.complete:
        summary = read_summary(run.directory)
        assert (run.arch, run.seed) == (summary["arch"], summary["seed"])
        assert list(run.history["epoch"]) == [1, 2]
        assert run.probabilities.shape == (len(run.labels), len(summary["data"]["classes"]))
        assert run.correct.mean() == pytest.approx(summary["test_acc"])
        assert run.papermill is None
    assert report.warnings_markdown(runs) == ""


def test_load_runs_takes_arch_and_seed_from_the_summary_not_the_directory_name(profile):
    (profile / "runs" / "resnet50-seed0").rename(profile / "runs" / "first")
    runs = report.load_runs(profile)
    renamed = next(run for run in runs.complete if run.directory.name == "first")
    assert (renamed.arch, renamed.seed) == ("resnet50", 0)


def test_load_runs_refuses_two_directories_with_the_same_arch_and_seed(profile):
    shutil.copytree(profile / "runs" / "resnet50-seed0", profile / "runs" / "copy")
    with pytest.raises(report.ReportError, match="two run directories hold resnet50 seed 0"):
        report.load_runs(profile)


def test_a_directory_with_only_a_history_is_incomplete(profile):
    unfinished = profile / "runs" / "resnet50-seed2"
    unfinished.mkdir()
    history = pd.read_csv(profile / "runs" / "resnet50-seed0" / "history.csv")
    history.head(1).to_csv(unfinished / "history.csv", index=False)
    (unfinished / "params.yaml").write_text("arch: resnet50\nseed: 2\nepochs: 2\n")

    runs = report.load_runs(profile)
    assert len(runs.complete) == 4
    assert [(run.name, run.state) for run in runs.incomplete] == [
        ("resnet50-seed2", "history through epoch 1 of 2, no checkpoint")
    ]
    warning = report.warnings_markdown(runs)
    assert "Warning" in warning and "resnet50-seed2" in warning and "history through epoch 1 of 2" in warning


def test_a_run_in_the_plan_without_a_directory_is_missing(profile):
    write_plan(profile, [*RUN_NAMES, "resnext50_32x4d-seed7"])
    runs = report.load_runs(profile)
    assert runs.missing == ("resnext50_32x4d-seed7",)
    assert runs.profile == "tiny"
    assert "missing `resnext50_32x4d-seed7`" in report.warnings_markdown(runs)
    assert "4 of 5 planned" in report.overview_markdown(runs)


def test_a_profile_without_runs_or_plan_is_refused(tmp_path):
    with pytest.raises(report.ReportError, match="nothing to report on"):
        report.load_runs(tmp_path)


# --- tables -------------------------------------------------------------------------------------


def test_headline_table_summarises_each_architecture_from_its_summaries(profile):
    table = report.headline_table(report.load_runs(profile)).set_index("architecture")
    summaries = {name: read_summary(profile / "runs" / name) for name in RUN_NAMES}
    seconds = {}
    for arch in ("resnet50", "resnext50_32x4d"):
        mine = [summaries[f"{arch}-seed{seed}"] for seed in (0, 1)]
        row = table.loc[arch]
        assert row["seeds"] == 2
        fractions = [s["test_acc"] for s in mine]
        assert row["test accuracy"] == f"{percent(np.mean(fractions))} ± {percent(np.std(fractions, ddof=1))}"
        assert row["params"] == mine[0]["params"]
        assert row["GMACs"] == pytest.approx(mine[0]["macs"] / 1e9)
        seconds[arch] = np.mean([s["timing"]["seconds_per_epoch"] for s in mine])
        assert row["seconds per epoch"] == number(seconds[arch])
        assert row["images/s"] == number(np.mean([s["timing"]["images_per_second"] for s in mine]), 0)
    assert table.loc["resnet50", "time vs resnet50"] == "1.00x"
    assert table.loc["resnext50_32x4d", "time vs resnet50"] == ratio(seconds["resnext50_32x4d"] / seconds["resnet50"])
    assert "blog post (50 epochs)" not in table.columns  # the blog's figures are CIFAR-10's; these runs are not
    as_cifar10(profile)
    table = report.headline_table(report.load_runs(profile)).set_index("architecture")
    assert table.loc["resnet50", "blog post (50 epochs)"] == "92.3 %"
    assert table.loc["resnext50_32x4d", "blog post (50 epochs)"].startswith("91.8 %")


def test_headline_table_with_one_seed_has_no_spread(profile):
    for name in ("resnet50-seed1", "resnext50_32x4d-seed1"):
        shutil.rmtree(profile / "runs" / name)
    table = report.headline_table(report.load_runs(profile))
    assert table["test accuracy"].str.endswith("(one seed)").all() and "±" not in "".join(table["test accuracy"])


def test_protocol_table_lists_each_distinct_value_when_runs_disagree(profile):
    edit_summary(profile / "runs" / "resnext50_32x4d-seed1", config={"lr": 0.1})
    runs = report.load_runs(profile)
    protocol = report.protocol_table(runs).set_index("setting")["value"]
    assert protocol["learning rate (peak)"] == (
        "0.05 (resnet50 seed 0, resnet50 seed 1, resnext50_32x4d seed 0); 0.1 (resnext50_32x4d seed 1)"
    )
    assert protocol["epochs"] == "2"
    assert protocol["precision (resolved)"] == "fp32"
    assert protocol["images (train / test)"] == "30 / 24"
    provenance = report.provenance_table(runs).set_index("item")["value"]
    env = read_summary(profile / "runs" / "resnet50-seed0")["env"]
    assert provenance["torch"] == env["torch"]
    assert provenance["dataset fingerprint"] == read_summary(profile / "runs" / "resnet50-seed0")["data"]["fingerprint"]
    assert provenance["CUDA"] == "—"


# --- the paired comparison ------------------------------------------------------------------------


def test_compare_pair_counts_equal_those_computed_from_the_predictions(profile):
    images = len(np.load(profile / "runs" / "resnet50-seed0" / "predictions.npz")["labels"])
    index = np.arange(images)
    set_correct(profile / "runs" / "resnet50-seed0", index < 20)
    set_correct(profile / "runs" / "resnext50_32x4d-seed0", (index < 14) | (index >= 22))
    set_correct(profile / "runs" / "resnet50-seed1", index < 12)
    set_correct(profile / "runs" / "resnext50_32x4d-seed1", index < 12)

    pair = report.compare_pair(report.load_runs(profile))
    assert [seed.seed for seed in pair.seeds] == [0, 1]
    for seed in pair.seeds:
        with np.load(profile / "runs" / f"resnet50-seed{seed.seed}" / "predictions.npz") as a:
            correct_a = a["probabilities"].argmax(1) == a["labels"]
        with np.load(profile / "runs" / f"resnext50_32x4d-seed{seed.seed}" / "predictions.npz") as b:
            correct_b = b["probabilities"].argmax(1) == b["labels"]
        assert seed.mcnemar.only_a_correct == int(np.sum(correct_a & ~correct_b))
        assert seed.mcnemar.only_b_correct == int(np.sum(~correct_a & correct_b))
        assert seed.difference == pytest.approx(correct_b.mean() - correct_a.mean())
    first = pair.seeds[0].mcnemar
    assert (first.only_a_correct, first.only_b_correct) == (6, 2)
    assert first.p_value == pytest.approx(2 * sum(math.comb(8, k) for k in range(3)) / 2**8)
    assert pair.seeds[1].mcnemar.p_value == 1.0
    expected = mean_confidence_interval(np.array([seed.difference for seed in pair.seeds]))
    assert pair.difference_interval == expected


CIFAR10 = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def as_cifar10(profile: Path, **config) -> None:
    """Make the tiny runs read as CIFAR-10 runs (class names), with optional config changes."""
    for name in RUN_NAMES:
        edit_summary(profile / "runs" / name, classes=CIFAR10, config=config)


def under_blog_conditions(profile: Path) -> None:
    """The blog's timing conditions: fp32, batch 32, default layout (the tiny runs are fp32 already)."""
    as_cifar10(profile, batch_size=32, channels_last=False)


def set_epoch_seconds(run: Path, seconds: list[float]) -> None:
    """Rewrite a run's per-epoch training times (history.csv)."""
    history = pd.read_csv(run / "history.csv")
    history["epoch_seconds"] = seconds
    history.to_csv(run / "history.csv", index=False)


def with_steady_epochs(profile: Path) -> Path:
    """Every tiny run's epochs take 1 s each: their own times scatter with the machine's load, which the
    report flags; tests of other rules hold them steady."""
    for name in RUN_NAMES:
        set_epoch_seconds(profile / "runs" / name, [1.0, 1.0])
    return profile


@pytest.fixture
def steady_profile(profile: Path) -> Path:
    """conftest's copy of the tiny runs, with steady epochs. A module whose every test wants it takes it as its
    ``profile``: ``profile = steady_profile``."""
    return with_steady_epochs(profile)


def on_gpu(profile: Path, device_name: str = "NVIDIA H200", step_mode: str = "eager") -> None:
    """Every tiny run's record says it trained on that CUDA GPU, with that step mode."""
    for name in RUN_NAMES:
        edit_summary(
            profile / "runs" / name, env={"device": "cuda", "device_name": device_name, "step_mode": step_mode}
        )


def blog_column(profile: Path) -> str:
    """The headline table's blog column for ResNeXt-50 32x4d, from the profile's runs as they are now."""
    table = report.headline_table(report.load_runs(profile)).set_index("architecture")
    return table.loc["resnext50_32x4d", "blog post (50 epochs)"]


def add_seed(profile: Path, arch: str, source: int, seed: int) -> Path:
    target = profile / "runs" / f"{arch}-seed{seed}"
    shutil.copytree(profile / "runs" / f"{arch}-seed{source}", target)
    edit_summary(target, seed=seed, config={"seed": seed})
    return target


def variant_run(
    tiny_runs: Path, profile: Path, arch: str, seed: int = 0, source: str = "resnet50-seed0", **changes
) -> Path:
    """A run of ``arch`` and ``seed`` in ``profile``: a tiny run's files (``source``, without its checkpoint), its
    record saying that architecture and seed, with ``changes`` (as :func:`edit_summary` takes them)."""
    target = profile / "runs" / f"{arch}-seed{seed}"
    shutil.copytree(tiny_runs / source, target, ignore=shutil.ignore_patterns("checkpoint.pt"))
    edit_summary(target, arch=arch, seed=seed, config={"arch": arch, "seed": seed}, **changes)
    return target


def set_times(profile: Path, seed: int, base: float, other: float) -> None:
    """Both runs of a seed timed at steady epochs: the record's seconds per epoch, and every epoch alike in the
    history (the tiny runs' own epoch times scatter with the machine's load, which the report flags)."""
    for arch, seconds, rate in (("resnet50", base, 100.0), ("resnext50_32x4d", other, 80.0)):
        run = profile / "runs" / f"{arch}-seed{seed}"
        edit_summary(run, seconds_per_epoch=seconds, images_per_second=rate)
        set_epoch_seconds(run, [seconds] * len(pd.read_csv(run / "history.csv")))


def test_compare_pair_judges_the_slowdown_against_the_blog_on_its_interval_over_seeds(profile):
    under_blog_conditions(profile)
    set_times(profile, 0, 10.0, 13.0)
    set_times(profile, 1, 10.0, 13.1)
    pair = report.compare_pair(report.load_runs(profile))
    (group,) = pair.timings
    assert group.time_ratio == pytest.approx(13.05 / 10)
    assert group.throughput_ratio == pytest.approx(80 / 100)
    assert group.seed_slowdowns == pytest.approx((0.30, 0.31))
    assert group.slowdown_interval == mean_confidence_interval(np.array(group.seed_slowdowns))
    assert 0.20 < group.slowdown_interval.low < group.slowdown_interval.high < 0.40
    assert pair.agreement is report.Agreement.AGREES and pair.agrees_with_reference
    text = report.conclusions(report.load_runs(profile))
    assert "within 20% to 40%" in text
    assert "it **agrees**" in text

    set_times(profile, 0, 10.0, 20.0)
    set_times(profile, 1, 10.0, 20.0)
    pair = report.compare_pair(report.load_runs(profile))
    assert pair.timings[0].slowdown == pytest.approx(1.0) and pair.agreement is report.Agreement.DISAGREES
    assert "**does not agree** (it is more than" in report.conclusions(report.load_runs(profile))

    # Seeds that disagree with each other give an interval reaching into and out of the band.
    set_times(profile, 0, 10.0, 10.5)
    set_times(profile, 1, 10.0, 15.0)
    pair = report.compare_pair(report.load_runs(profile))
    assert pair.timings[0].slowdown_interval.low < 0.20 < pair.timings[0].slowdown_interval.high
    assert pair.agreement is report.Agreement.UNDECIDED and not pair.agrees_with_reference
    # issue 28: an undecided result is not bold
    assert "is undecided: the interval reaches" in report.conclusions(report.load_runs(profile))


def test_timings_outside_the_blogs_conditions_get_their_conditions_and_no_verdict(profile):
    as_cifar10(profile, batch_size=512)  # fp32 but batch 512 and channels_last: not the blog's loop
    set_times(profile, 0, 10.0, 13.0)
    set_times(profile, 1, 10.0, 13.1)
    runs = report.load_runs(profile)
    pair = report.compare_pair(runs)
    assert not pair.judged and pair.agreement is report.Agreement.NOT_JUDGED and not pair.agrees_with_reference
    conditions = pair.timings[0].conditions
    assert conditions == f"{runs.complete[0].record.env.device_name}, fp32, batch 512, channels_last"
    text = report.conclusions(runs)
    assert "Measured under: " + conditions in text
    assert "no verdict on that claim" in text and "agrees" not in text
    headline = report.readme_headline(runs)
    assert "agree" not in headline and "under " + conditions in headline


def test_one_timed_run_per_architecture_leaves_the_slowdown_undecided_and_shows_its_epoch_spread(profile):
    under_blog_conditions(profile)
    for arch in ("resnet50", "resnext50_32x4d"):
        shutil.rmtree(profile / "runs" / f"{arch}-seed1")
    set_times(profile, 0, 10.0, 13.0)  # inside the band, yet one run per architecture cannot settle it
    for arch, seconds in (("resnet50", [10.0, 10.0]), ("resnext50_32x4d", [11.0, 13.0])):
        path = profile / "runs" / f"{arch}-seed0" / "history.csv"
        history = pd.read_csv(path)
        history["epoch_seconds"] = seconds
        history.to_csv(path, index=False)
    runs = report.load_runs(profile)
    pair = report.compare_pair(runs)
    assert pair.timings[0].slowdown_interval is None and pair.agreement is report.Agreement.UNDECIDED
    assert pair.timings[0].epoch_slowdowns == pytest.approx((0.10, 0.30))
    text = report.conclusions(runs)
    assert "lies inside the 20% to 40% band, but it is undecided" in text  # issue 28: not bold
    assert "eager steps at batch 32" not in text  # a CPU's loop is bound by its arithmetic, and says so
    assert "(bound by the CPU's arithmetic; runs on" in text
    assert "ranged from +10% to +30%" in text


def test_compare_pair_refuses_runs_evaluated_on_different_test_labels(profile):
    run = profile / "runs" / "resnext50_32x4d-seed1"
    with np.load(run / "predictions.npz") as stored:
        labels, probabilities = stored["labels"], stored["probabilities"]
    np.savez(run / "predictions.npz", labels=np.roll(labels, 1), probabilities=probabilities)
    with pytest.raises(
        report.ReportError, match="resnet50 seed 1 .* and resnext50_32x4d seed 1 .* different test labels"
    ):
        report.compare_pair(report.load_runs(profile))


def test_compare_pair_refuses_when_no_seed_is_shared(profile):
    shutil.rmtree(profile / "runs" / "resnext50_32x4d-seed0")
    shutil.rmtree(profile / "runs" / "resnet50-seed1")
    with pytest.raises(report.ReportError, match="no seed has complete runs of both"):
        report.compare_pair(report.load_runs(profile))


# --- text ---------------------------------------------------------------------------------------


def test_conclusions_name_the_more_accurate_architecture_with_p_values(profile):
    index = np.arange(24)
    set_correct(profile / "runs" / "resnet50-seed0", index < 24)
    set_correct(profile / "runs" / "resnext50_32x4d-seed0", index < 12)
    set_correct(profile / "runs" / "resnet50-seed1", index < 20)
    set_correct(profile / "runs" / "resnext50_32x4d-seed1", index < 10)
    text = report.conclusions(report.load_runs(profile))
    assert "ResNet-50 (`resnet50`)" in text and "ResNeXt-50 32x4d (`resnext50_32x4d`)" in text
    # issue 28: two seeds give no verdict, so the claim is what these seeds show, not bold
    assert "ResNet-50 is ahead by 45.83 percentage points in these 2 seeds; the difference is not established" in text
    assert "seed 0: 12 images only ResNet-50 classified correctly, 0 only ResNeXt-50 32x4d; p < 0.001" in text
    assert "seed 1: 10 images only ResNet-50 classified correctly, 0 only ResNeXt-50 32x4d; p = 0.002" in text
    # Two seeds give a t quantile of 12.7 and no verdict.
    assert "No verdict is possible with 2 paired seeds" in text
    assert "Holm-adjusted" in text  # two tests
    assert "Against the blog post" not in text  # not CIFAR-10: the blog's figures do not appear
    headline = report.readme_headline(report.load_runs(profile))
    assert (
        "ResNet-50 is ahead by 45.83 percentage points in these 2 seeds; the difference is not established" in headline
    )


def test_conclusions_hedge_with_one_seed(profile):
    for name in ("resnet50-seed1", "resnext50_32x4d-seed1"):
        shutil.rmtree(profile / "runs" / name)
    index = np.arange(24)
    set_correct(profile / "runs" / "resnet50-seed0", index < 12)
    set_correct(profile / "runs" / "resnext50_32x4d-seed0", index < 24)
    text = report.conclusions(report.load_runs(profile))
    # issue 28: one seed gives no verdict; McNemar speaks of these two trained models only
    assert "in a single seed (0): ResNeXt-50 32x4d is ahead by 50.00 percentage points in this one seed" in text
    assert "p < 0.001 (< 0.05): these two trained models differ on this test set" in text
    assert "no verdict on the architectures is possible" in text
    assert "t-interval" not in text


def test_conclusions_without_both_architectures_say_so(profile):
    for name in ("resnext50_32x4d-seed0", "resnext50_32x4d-seed1"):
        shutil.rmtree(profile / "runs" / name)
    assert "only `resnet50` has complete runs" in report.conclusions(report.load_runs(profile))


def test_limitations_state_the_budget_the_subset_and_the_timing_rules(profile):
    for name in RUN_NAMES:
        edit_summary(profile / "runs" / name, config={"train_per_class": 10, "test_per_class": 8})
    items = report.limitations(report.load_runs(profile))
    text = "\n".join(items)
    assert "Reduced budget: 2 epoch(s) instead of the blog's 50" in text
    assert "Subset: 30 train / 24 test images (10 / 8 per class)" in text
    assert "Not CIFAR-10" in text
    assert "Few seeds: 2 per architecture" in text
    assert "CPU: 4 run(s) trained on a CPU" in text
    assert "before the clock starts) and evaluation are excluded" in text


def test_limitations_recognise_an_imagefolder_copy_of_cifar10(profile):
    for name in RUN_NAMES:
        edit_summary(
            profile / "runs" / name,
            classes=list(CIFAR10_CLASSES),
            config={"train_per_class": 10, "test_per_class": 0},
            env={"git_dirty": True},
        )
    text = "\n".join(report.limitations(report.load_runs(profile)))
    assert "is an ImageFolder copy of CIFAR-10 whose fingerprint" in text and "is not a known copy" in text
    assert "instead of the full 50,000 / 10,000" in text
    assert "(10 / all per class)" in text
    assert "Uncommitted code" in text


# --- figures ------------------------------------------------------------------------------------


def test_training_curves_have_one_line_per_run_in_each_panel(profile):
    runs = report.load_runs(profile)
    for x in ("epoch", "time"):
        figure = report.plot_training_curves(runs, x=x)
        assert isinstance(figure, Figure)
        assert len(figure.axes) == 2
        assert [len(axes.lines) for axes in figure.axes] == [4, 4]
    run = runs.complete[0]
    line = report.plot_training_curves(runs, x="time").axes[0].lines[0]
    np.testing.assert_allclose(line.get_xdata(), run.history["epoch_seconds"].cumsum())
    np.testing.assert_allclose(line.get_ydata(), 100 * run.history["test_acc"])
    # Each accuracy line lies in its own binomial band: Wilson's interval of the final epoch, from scipy.
    from scipy.stats import binomtest

    band = report.plot_training_curves(runs, x="time").axes[0].collections[0].get_paths()[0].vertices
    n, correct = len(run.labels), int(round(run.history["test_acc"].iloc[-1] * len(run.labels)))
    wilson = binomtest(correct, n).proportion_ci(0.95, method="wilson")
    at_end = band[np.isclose(band[:, 0], line.get_xdata()[-1])][:, 1]
    assert sorted(at_end)[0] == pytest.approx(100 * wilson.low) and sorted(at_end)[-1] == pytest.approx(
        100 * wilson.high
    )
    with pytest.raises(ValueError, match="x='steps' is not allowed"):
        report.plot_training_curves(runs, x="steps")


def test_per_class_accuracy_has_a_bar_per_class_and_architecture(profile):
    runs = report.load_runs(profile)
    figure = report.plot_per_class_accuracy(runs)
    (axes,) = figure.axes
    classes = list(runs.complete[0].record.classes)
    assert [label.get_text() for label in axes.get_xticklabels()] == classes
    bars = [container for container in axes.containers if isinstance(container, BarContainer)]
    assert [len(container.patches) for container in bars] == [len(classes)] * 2  # a bar per class and architecture
    heights = [patch.get_height() for patch in bars[0].patches]
    expected = 100 * np.mean([run.record.per_class_acc for run in runs.of("resnet50")], axis=0)
    np.testing.assert_allclose(heights, expected)


def test_confusion_matrices_are_row_normalised_with_class_names(profile):
    runs = report.load_runs(profile)
    figure = report.plot_confusion_matrices(runs)
    assert len(figure.axes) == 3  # one per architecture and the colour bar
    classes = list(runs.complete[0].record.classes)
    for axes, arch in zip(figure.axes[:2], runs.architectures):
        matrix = axes.images[0].get_array()
        np.testing.assert_allclose(matrix.sum(1), 1.0)
        counts = sum(np.array(run.record.confusion_matrix) for run in runs.of(arch))
        np.testing.assert_allclose(matrix, counts / counts.sum(1, keepdims=True))
        assert [label.get_text() for label in axes.get_yticklabels()] == classes


def test_figures_without_complete_runs_say_so(tmp_path):
    (tmp_path / "runs").mkdir()
    runs = report.load_runs(tmp_path)
    figure = report.plot_confusion_matrices(runs)
    assert [text.get_text() for text in figure.texts] == ["no complete runs"]
    assert "no complete runs" in report.warnings_markdown(runs)


# --- the notebook -------------------------------------------------------------------------------


def test_the_committed_notebook_has_no_outputs_and_a_literal_parameters_cell():
    notebook = json.loads(NOTEBOOK.read_text())
    assert notebook["metadata"]["kernelspec"]["name"] == "archcompare"
    first = notebook["cells"][0]
    assert first["metadata"]["tags"] == ["parameters"]
    lines = "".join(first["source"]).splitlines()
    assert [line.split(" = ")[0] for line in lines] == ["profile", "outputs_dir"]
    for line in lines:
        assert re.fullmatch(r'\w+ = "[^"]*"  # .+', line), line  # a literal and a comment, nothing derived
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None


def test_the_notebook_executes_on_the_tiny_runs_and_renders_without_code(tmp_path, profile):
    import papermill
    from jupyter_client.kernelspec import KernelSpecManager
    from nbconvert import HTMLExporter

    if "archcompare" not in KernelSpecManager().find_kernel_specs():
        pytest.fail(
            "the Jupyter kernel 'archcompare' is not registered; run `make install` or "
            "python -m ipykernel install --sys-prefix --name archcompare --display-name 'Python (archcompare)'"
        )
    executed = tmp_path / "compare.ipynb"
    notebook = papermill.execute_notebook(
        str(NOTEBOOK),
        str(executed),
        parameters=dict(profile="tiny", outputs_dir=str(profile.parent)),
        kernel_name="archcompare",
        progress_bar=False,
        cwd=str(ROOT),
    )
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    assert not [output for output in outputs if output.output_type == "error"]
    # headline, reliability (two seeds: ensembles apply), curves by epoch and by time, per-class differences, confusion
    images = [output for output in outputs if "image/png" in output.get("data", {})]
    assert len(images) == 6
    alts = [output["metadata"]["image/png"]["alt"] for output in images]
    assert [alt.split(".")[0] for alt in alts] == [f"Figure {n}" for n in range(1, 7)]
    assert alts[0].startswith("Figure 1. Headline.") and "%" in alts[0]  # the caption carries the numbers shown
    markdown = "\n".join(output.get("data", {}).get("text/markdown", "") for output in outputs)
    assert "McNemar" in markdown and "Reduced budget" in markdown
    assert markdown.startswith("# ResNet-50 vs ResNeXt-50 32x4d on ImageFolder `images` (3 classes)")

    from archcompare.pipeline.render import _with_alt_texts, write_markdown_report

    html, _ = HTMLExporter(exclude_input=True).from_notebook_node(notebook)
    html = _with_alt_texts(html, notebook)
    assert "No description has been provided" not in html and alts[0].split(":")[0] in html
    profile_dir = profile  # conftest's copy of the tiny runs: the notebook reported on it
    markdown = write_markdown_report(notebook, profile_dir).read_text()
    assert (profile_dir / "headline.png").exists() and "report.load_runs" not in markdown
    linked = re.findall(r"\]\((report-figures/figure-\d+\.png)\)", markdown)
    assert len(linked) == 6 and all((profile_dir / path).exists() for path in linked)
    assert "| architecture |" in markdown  # the tables in their Markdown form, which GitHub renders
    for heading in ("Headline", "Conclusions", "Ensembles and calibration", "Training curves", "Setup", "Limitations"):
        assert f'id="{heading.replace(" ", "-")}"' in html
    assert "Cardinality" not in html  # two architectures: the cardinality section does not apply
    assert "report.load_runs" not in html  # no code in the rendered report
