"""The blog's next steps in the report: any set of architectures, cardinality, ensembles, provenance flags."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_report import VARIANTS, edit_summary, set_correct, variant_run

from archcompare import report
from archcompare.architectures import cardinality_of
from archcompare.report.analysis import calibration, statistics


@pytest.fixture
def sweep(tmp_path, tiny_runs) -> Path:
    """Five architectures of the cardinality sweep, seeds 0 and 1, made from the tiny runs' files."""
    profile = tmp_path / "outputs" / "sweep"
    for arch in VARIANTS:
        for seed in (0, 1):
            variant_run(tiny_runs, profile, arch, seed, source=f"resnet50-seed{seed}")
    runs = [f"{arch}-seed{seed}" for arch in VARIANTS for seed in (0, 1)]
    (profile / "plan.json").write_text(json.dumps({"profile": "sweep", "architectures": VARIANTS, "runs": runs}))
    return profile


def set_accuracy(run: Path, correct_count: int) -> None:
    labels = np.load(run / "predictions.npz")["labels"]
    set_correct(run, np.arange(len(labels)) < correct_count)
    edit_summary(run, test_acc=correct_count / len(labels))


def test_every_architecture_is_compared_with_the_baseline_with_holm_adjusted_p_values(sweep):
    runs = report.load_runs(sweep)
    assert runs.architectures[0] == "resnet50"
    pairs = report.compare_all(runs)
    assert [pair.other for pair in pairs] == VARIANTS[1:]
    # Issue 28: each pair's seeds are one family, Holm-adjusted within the pair, not over every pair's tests.
    for pair in pairs:
        raw = [seed.mcnemar.p_value for seed in pair.seeds]
        adjusted = [seed.p_adjusted for seed in pair.seeds]
        assert len(raw) == 2 and adjusted == pytest.approx(statistics.holm_adjust(raw))
    text = report.conclusions(runs)
    assert text.count("The 2 seeds of this pair are one family of tests, Holm-adjusted") == 4
    assert text.count("### ") == 4  # one section per comparison
    assert len(report.comparisons_table(runs)) == 4


def test_without_resnet50_the_first_listed_architecture_is_the_baseline(sweep):
    for seed in (0, 1):
        shutil.rmtree(sweep / "runs" / f"resnet50-seed{seed}")
    (sweep / "plan.json").write_text(json.dumps({"architectures": VARIANTS[1:], "runs": []}))
    pairs = report.compare_all(report.load_runs(sweep))
    assert {pair.baseline for pair in pairs} == {"resnext50_2x40d"}


def test_cardinality_trend_is_judged_on_the_slope_over_seeds(sweep):
    labels = np.load(sweep / "runs" / "resnet50-seed0" / "predictions.npz")["labels"]
    n = len(labels)
    # Seed 0 and seed 1 both gain one image per doubling: slopes 1/n and 1/n.
    for i, arch in enumerate(VARIANTS):
        cardinality = cardinality_of(arch)[0]
        doublings = int(np.log2(cardinality))
        set_accuracy(sweep / "runs" / f"{arch}-seed0", 10 + doublings)
        set_accuracy(sweep / "runs" / f"{arch}-seed1", 11 + doublings + (i % 2))
    trend = report.cardinality_trend(report.load_runs(sweep))
    assert [point.cardinality for point in trend.points] == [1, 2, 4, 8, 32]
    assert [point.imagenet_top1_error for point in trend.points] == [23.9, 23.0, 22.6, 22.3, 22.2]
    x = np.log2([1, 2, 4, 8, 32])
    seed1 = (11 + x + np.array([0, 1, 0, 1, 0])) / n
    assert trend.seed_slopes == pytest.approx([1 / n, np.polyfit(x, seed1, 1)[0]])
    assert trend.verdict is report.Trend.NO_VERDICT  # issue 28: two seeds per variant give no trend verdict
    table = report.cardinality_table(trend)
    assert list(table["cardinality x width"]) == ["1x64d", "2x40d", "4x24d", "8x14d", "32x4d"]
    assert "ImageNet" in report.cardinality_markdown(trend)
    assert len(report.plot_cardinality(trend, report.load_runs(sweep)).axes) == 3

    # One seed: no interval over seeds, so no trend verdict however clear the fit looks.
    for arch in VARIANTS:
        shutil.rmtree(sweep / "runs" / f"{arch}-seed1")
    trend = report.cardinality_trend(report.load_runs(sweep))
    assert trend.slope_interval is None and trend.verdict is report.Trend.NO_VERDICT
    assert "No trend verdict is given" in report.cardinality_markdown(trend)


def test_fewer_than_three_variants_have_no_cardinality_section(sweep):
    for arch in VARIANTS[1:4]:
        for seed in (0, 1):
            shutil.rmtree(sweep / "runs" / f"{arch}-seed{seed}")
    assert report.cardinality_trend(report.load_runs(sweep)) is None


def test_seed_ensembles_average_the_softmax_outputs_of_the_first_k_seeds(profile):
    runs = report.load_runs(profile)
    scores = report.seed_ensembles(runs)
    assert set(scores) == {"resnet50", "resnext50_32x4d"}
    members = runs.of("resnet50")
    single, pair = scores["resnet50"]
    assert single.accuracy == pytest.approx(np.mean([run.record.test_acc for run in members]))
    mean = (members[0].probabilities + members[1].probabilities) / 2
    labels = members[0].labels
    assert pair.accuracy == pytest.approx(calibration.accuracy(mean, labels))
    assert pair.nll == pytest.approx(calibration.negative_log_likelihood(mean, labels))
    assert pair.ece == pytest.approx(calibration.expected_calibration_error(mean, labels))
    assert pair.mcnemar_vs_best_member is not None
    equal_cost = report.architecture_ensembles(runs)
    assert [score.members for score in equal_cost.mixed] == [
        (f"resnet50 seed {a}", f"resnext50_32x4d seed {b}") for a in (0, 1) for b in (0, 1)
    ]
    assert {arch: len(scores) for arch, scores in equal_cost.same.items()} == {"resnet50": 1, "resnext50_32x4d": 1}
    assert len(equal_cost.tests) == 8
    text = report.ensembles_markdown(scores, equal_cost)
    assert "an ensemble of 2 seeds" in text and "At equal model count (two models each)" in text
    assert len(report.plot_reliability(runs, scores).axes) == 8  # per panel: the bins' images, their accuracy


def test_runs_of_older_training_code_are_flagged_and_reused_runs_named(profile):
    run = profile / "runs" / "resnet50-seed0"
    edit_summary(run, env={"code_version": 0, "source_fingerprint": "0123456789abcdef"})
    (profile / "runs" / "resnet50-seed1" / "reused.json").write_text(json.dumps({"from": "outputs/quick/runs/x"}))
    runs = report.load_runs(profile)
    warning = report.warnings_markdown(runs)
    assert "Trained by an older version of the training code" in warning
    assert (
        "resnet50 seed 0: trained by an older version of the training code: training code from before version 1 "
        "(source fingerprint 0123456789abcdef), now version 1" in warning
    )
    assert "resnet50 seed 1 from `outputs/quick/runs/x`" in warning
    table = report.runs_table(runs).set_index(["architecture", "seed"])
    assert table.loc[("resnet50", 0), "training code"] == "older"
    assert table.loc[("resnet50", 1), "reused from"] == "outputs/quick/runs/x"
    assert "older version of the training code" in report.readme_headline(runs)


def test_the_report_names_the_dataset_not_the_path_it_was_read_from(profile, tiny_runs):
    images = str(tiny_runs.parent / "images")  # where the tiny runs read their images
    for summary in (profile / "runs").glob("*/summary.json"):
        assert images not in summary.read_text()  # the record holds no path of the machine
    runs = report.load_runs(profile)
    protocol = report.protocol_table(runs).set_index("setting")
    assert protocol.loc["data", "value"] == "ImageFolder `images` (3 classes)"
    provenance = report.provenance_table(runs).set_index("item")
    assert images not in provenance.to_string() and images not in protocol.to_string()
    assert report.title_markdown(runs) == "# ResNet-50 vs ResNeXt-50 32x4d on ImageFolder `images` (3 classes)"
