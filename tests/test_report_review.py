"""The review of the issue-28 report (notes/review.md): timing judged only as the blog's loop ran, bench rows
grouped by their own device model and decided by their samples, undefined tests, p-values beside 0.05,
calibration changes within the noise, the reduced-budget caveat, the cardinality line, work done once.

Each test failed on the code before this change (see the commit message for how each one failed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from scipy import stats
from test_report import (
    VARIANTS,
    add_seed,
    as_cifar10,
    blog_column,
    edit_summary,
    on_gpu,
    set_correct,
    set_times,
    steady_profile,
    variant_run,
)
from test_report import under_blog_conditions as blog_precision_batch_and_layout
from test_report_verdict import ARCHS, labels

from archcompare import report
from archcompare.report.analysis import calibration
from archcompare.report.analysis import ensembles as ensembles_module
from archcompare.report.analysis.calibration import HALVINGS, Change
from archcompare.report.analysis.ensembles import EnsembleScore, reliability_panels, score_ensemble
from archcompare.report.analysis.per_class import per_class_differences
from archcompare.report.analysis.statistics import ratio_interval
from archcompare.report.format import number, ratio
from archcompare.report.wording.calibration import scaling_text

H200, H100 = "NVIDIA H200", "NVIDIA H100 80GB HBM3"
BLOG_ROW = "blog (fp32, batch 32, default layout)"


profile = steady_profile  # every test here takes conftest's copy of the tiny runs with steady epochs


def step_row(arch: str, mode: str, samples: list[float], device_name: str = H200, **settings) -> dict:
    """A `make bench` step-mode row as bench_steps writes it: its settings, device model and timed samples."""
    row = {
        "condition": BLOG_ROW,
        "arch": arch,
        "mode": mode,
        "images_per_second": float(np.median(samples)),
        "samples": samples,
        "batch_size": 32,
        "precision": "fp32",
        "channels_last": False,
        "device": "cuda",
        "device_name": device_name,
    }
    return {**row, **settings}


def write_bench(directory: Path, rows: list[dict], device_name: str = H200) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "bench-cuda.json").write_text(
        json.dumps({"device": "cuda", "device_name": device_name, "step_modes": rows})
    )
    return directory


# --- review 2: the blog's claim is judged only on timings made as its loop ran, eager steps included ----------


def test_runs_with_captured_steps_are_no_verdict_on_the_blogs_timing_as_the_headline_says(profile):
    blog_precision_batch_and_layout(profile)  # fp32, batch 32, default layout ...
    on_gpu(profile, step_mode="cuda-graph")  # ... but captured steps, which the blog's loop did not take
    set_times(profile, 0, 10.0, 13.0)
    set_times(profile, 1, 10.0, 13.1)  # inside the band: the old rule said "agrees" while the headline showed "—"
    runs = report.load_runs(profile)
    pair = report.compare_pair(runs)
    assert not pair.judged and pair.agreement is report.Agreement.NOT_JUDGED
    assert pair.timings[0].blog_differences == ("cuda-graph steps",)
    text = report.conclusions(runs)
    assert "these timings were made with cuda-graph steps, so they are no verdict on that claim" in text
    assert "agrees" not in text and "**" not in text.split("**Training time.**")[1]
    assert blog_column(profile) == "91.8 %; time: —"

    on_gpu(profile, step_mode="eager")  # the same runs timed as the blog's loop ran: judged, and beside the blog
    runs = report.load_runs(profile)
    assert report.compare_pair(runs).agreement is report.Agreement.AGREES
    assert "by that rule it **agrees**" in report.conclusions(runs)
    assert (
        blog_column(profile)
        == f"91.8 %; about 1.3x the time of resnet50, beside 1.31x on {H200} measured at its conditions"
    )


# --- review 3: bench rows grouped and labelled by the device model each row records --------------------------


def test_bench_rows_are_grouped_and_labelled_by_the_device_model_each_row_records(profile):
    rates = {H200: ([1400.0, 1410.0], [1700.0, 1690.0]), H100: ([1000.0, 1010.0], [760.0, 770.0])}
    rows = [
        step_row(arch, "eager", samples, device) for device, pair in rates.items() for arch, samples in zip(ARCHS, pair)
    ]
    bench = write_bench(profile.parent / "bench", rows, device_name=H200)  # the file names its first session's GPU
    timings = {timing.device: timing for timing in report.bench_timings(bench)}
    assert set(timings) == {H200, H100}
    for device, (base, other) in rates.items():
        assert timings[device].time_ratio == pytest.approx(np.median(base) / np.median(other))
        assert timings[device].base_samples == tuple(base)

    as_cifar10(profile, batch_size=512)  # runs on an H100, not at the blog's conditions: the bench's H100 rows
    on_gpu(profile, device_name=H100)
    notes = report.headline_notes(report.load_runs(profile))
    dispatch = "eager steps at batch 32: bound by Python dispatch and kernel launches, not by the GPU"
    assert (
        f"{ratio(1005 / 765)} on {H100} (`make bench`, bench-cuda.json: the project loop's eager steps; {dispatch})"
        in notes
    )
    assert H200 not in notes


# --- review 4: bench rows decide by their samples, matched by the settings they record ----------------------


def test_bench_step_rows_give_an_interval_from_their_samples_and_can_decide_the_blogs_claim(profile):
    base, other = [1000.0, 1010.0, 990.0, 1005.0, 995.0], [770.0, 776.0, 764.0, 772.0, 768.0]
    rows = [
        step_row("resnet50", "eager", base),
        step_row("resnext50_32x4d", "eager", other),
        step_row("resnet50", "cuda-graph", [6000.0, 6010.0]),
        step_row("resnext50_32x4d", "cuda-graph", [4500.0, 4490.0]),
    ]
    bench = write_bench(profile.parent / "bench", rows)
    eager, captured = report.bench_timings(bench)
    expected = ratio_interval(np.array(base), np.array(other))
    assert (eager.slowdown_interval.low, eager.slowdown_interval.high) == pytest.approx(
        (expected.low - 1, expected.high - 1)
    )
    assert 0.20 < eager.slowdown_interval.low < eager.slowdown_interval.high < 0.40
    assert eager.agreement is report.Agreement.AGREES
    assert captured.agreement is report.Agreement.NOT_JUDGED and captured.blog_differences == ("cuda-graph steps",)

    blog_precision_batch_and_layout(profile)  # the runs timed as the blog's loop ran: the bench's paragraph
    on_gpu(profile)
    set_times(profile, 0, 10.0, 13.0)
    set_times(profile, 1, 10.0, 13.1)
    bench_text = report.conclusions(report.load_runs(profile)).split("**The blog's conditions on the bench.**")[1]
    eager_line, captured_line = bench_text.strip().splitlines()[1:]
    assert "the slowdown of the samples' geometric means is +30%" in eager_line and "**agrees**" in eager_line
    assert "Welch's over each architecture's timed samples" in eager_line
    assert "there is no verdict on the blog's claim: cuda-graph steps are not how the blog's loop ran" in captured_line
    assert "**" not in captured_line

    write_bench(bench, [step_row(arch, "eager", [rate]) for arch, rate in zip(ARCHS, (1000.0, 770.0))])
    bench_text = report.conclusions(report.load_runs(profile)).split("**The blog's conditions on the bench.**")[1]
    assert "the bench has fewer than two timed samples of each architecture" in bench_text
    assert "seeds" not in bench_text  # seeds do not apply to the bench's rows


def test_bench_rows_are_matched_to_the_blogs_conditions_by_the_settings_they_record(tmp_path):
    samples = {"resnet50": [1000.0, 1010.0], "resnext50_32x4d": [770.0, 776.0]}
    quick = [step_row(arch, "eager", values, batch_size=8) for arch, values in samples.items()]  # QUICK=1's rows
    assert report.bench_timings(write_bench(tmp_path / "quick", quick)) == []
    layout = [step_row(arch, "cuda-graph", values, channels_last=True) for arch, values in samples.items()]
    assert report.bench_timings(write_bench(tmp_path / "layout", layout)) == []
    relabelled = [step_row(arch, "eager", values, condition="session 3") for arch, values in samples.items()]
    (timing,) = report.bench_timings(write_bench(tmp_path / "relabelled", relabelled))
    assert timing.step_mode == "eager" and timing.time_ratio == pytest.approx(1005 / 773)


# --- review 9: equal non-zero differences in every seed give no test, and resolve no class -------------------


def test_a_class_with_the_same_difference_in_every_seed_is_not_resolved(profile):
    y = labels(profile)
    for seed in (0, 1, 2):
        for arch in ARCHS:
            if not (profile / "runs" / f"{arch}-seed{seed}").exists():
                add_seed(profile, arch, 0, seed)
        ahead = y != 0
        ahead[np.flatnonzero(y == 0)[0]] = True  # one image of class 0 more in every seed: no spread at all
        set_correct(profile / "runs" / f"resnet50-seed{seed}", y != 0)
        set_correct(profile / "runs" / f"resnext50_32x4d-seed{seed}", ahead)
    runs = report.load_runs(profile)
    pair = report.compare_pair(runs)
    differences = per_class_differences(pair, runs)
    assert np.isnan(differences.p_values[0]) and differences.resolved == 0 and differences.untested == 1
    caption = report.caption_per_class_difference(runs, [pair])
    assert "0 of 3 classes with Holm-adjusted p < 0.05, 1 without a test" in caption


# --- review 11: a p-value beside 0.05 shows which side of it it lies ------------------------------------------


def write_correct(run: Path, correct: np.ndarray, classes: int = 3) -> None:
    """Predictions on ``len(correct)`` test images of ``classes`` classes, right exactly where ``correct``."""
    truth = np.arange(len(correct)) % classes
    predicted = np.where(correct, truth, (truth + 1) % classes)
    np.savez(run / "predictions.npz", labels=truth, probabilities=np.eye(classes, dtype=np.float32)[predicted])
    edit_summary(run, test_acc=float(correct.mean()))


def test_a_p_value_that_rounds_onto_005_keeps_its_side_of_it_visible(profile):
    for arch in ARCHS:
        shutil.rmtree(profile / "runs" / f"{arch}-seed1")
    # 25 images only ResNet-50 gets right, 42 only ResNeXt-50: McNemar's p = 0.0498, which 3 decimals show as 0.050
    write_correct(profile / "runs" / "resnet50-seed0", np.r_[np.ones(25), np.zeros(42), np.ones(33)].astype(bool))
    write_correct(profile / "runs" / "resnext50_32x4d-seed0", np.r_[np.zeros(25), np.ones(75)].astype(bool))
    assert stats.binomtest(25, 67).pvalue == pytest.approx(0.0498, abs=5e-5)
    runs = report.load_runs(profile)
    text = report.conclusions(runs)
    assert "p = 0.0498 (< 0.05): these two trained models differ on this test set" in text
    assert "0.050 (<" not in text
    assert report.comparisons_table(runs).iloc[0][
        "McNemar p per seed, trained models (Holm over the pair's seeds)"
    ] == ("0.0498")


# --- review 12: what temperature scaling did, decided against the noise of the halvings --------------------


def scaled(nll: tuple[float, float], ece: tuple[float, float], nll_halvings=(), ece_halvings=()) -> EnsembleScore:
    return EnsembleScore(
        "x",
        ("a", "b", "c"),
        0.4,
        nll[0],
        ece[0],
        nll[1],
        ece[1],
        temperatures=(1.04, 0.94),
        calibration_gaps=(0.01,),
        ece_scaled_halvings=ece_halvings,
        nll_scaled_halvings=nll_halvings,
    )


def test_a_change_within_the_halvings_range_or_the_shown_digits_is_said_to_be_none():
    # quick's ResNeXt-50 ensemble: NLL 1.569 -> 1.572 and ECE 3.7 % -> 3.6 %, each within its range over halvings.
    score = scaled((1.569, 1.572), (0.037, 0.036), (1.572, 1.566, 1.575), (0.036, 0.032, 0.037))
    assert (score.nll_scaling, score.ece_scaling) == (Change.WITHIN_NOISE, Change.WITHIN_NOISE)
    text = scaling_text("The 3-seed ensemble", score)
    assert (
        "temperature scaling left NLL unchanged within the noise (1.569 → 1.572; 1.566 to 1.575 over 3 random "
        "halvings) and left ECE unchanged within the noise (3.7 % → 3.6 %; 3.2 % to 3.7 % over 3 random halvings), "
        "so it did not help"
    ) in text
    score = scaled((0.369, 0.351), (0.060, 0.031), (0.351, 0.352), (0.031, 0.032))  # every halving lowered both
    assert (score.nll_scaling, score.ece_scaling) == (Change.LOWERED, Change.LOWERED)
    assert "lowered NLL (0.369 → 0.351; 0.351 to 0.352 over 2 random halvings) and lowered ECE" in scaling_text(
        "x", score
    )
    score = scaled((0.3690, 0.3692), (0.060, 0.031))  # no halvings: a change the digits shown do not show is none
    assert score.nll_scaling is Change.UNCHANGED
    assert "left NLL unchanged (0.369 → 0.369) and lowered ECE (6.0 % → 3.1 %), so it helped only in part" in (
        scaling_text("x", score)
    )


def test_quicks_ensemble_is_no_longer_said_to_have_been_helped_in_part_by_noise(quick_scores):
    resnext = report.ensembles_markdown(quick_scores, None).splitlines()[1]
    largest = resnext.split("The 3-seed ensemble: ")[1]
    assert largest.startswith(
        "temperature scaling left NLL unchanged within the noise (1.569 → 1.572; 1.569 to 1.572 over 10 random "
        "halvings) and left ECE unchanged within the noise (3.7 % → 3.6 %; 3.2 % to 3.7 % over 10 random halvings), "
        "so it did not help"
    )


# --- review 14: the blog's reduced-budget caveat follows the shortest run, as the limitations do ----------


def test_the_blogs_reduced_budget_caveat_follows_the_shortest_run_as_the_limitations_do(profile):
    as_cifar10(profile)
    edit_summary(profile / "runs" / "resnet50-seed0", epochs=50)  # one run at the blog's 50 epochs, the rest at 2
    runs = report.load_runs(profile)
    assert any(item.startswith("Reduced budget: 2, 50 epoch(s)") for item in report.limitations(runs))
    assert "These runs trained for 2, 50 epoch(s), not 50, and the ranking can change" in report.conclusions(runs)


# --- review 15: the cardinality caption and figure name the line they draw ---------------------------------


def test_the_cardinality_caption_and_figure_give_the_line_the_text_describes(tmp_path, tiny_runs):
    sweep = tmp_path / "outputs" / "sweep"
    index = np.arange(24)
    runs_made = [(arch, 0, correct) for arch, correct in zip(VARIANTS, (10, 14, 11, 15, 12))] + [("resnet50", 1, 16)]
    for arch, seed, correct in runs_made:  # unequal seeds: ResNet-50 has two, the other variants one
        set_correct(variant_run(tiny_runs, sweep, arch, seed), index < correct)
    runs = report.load_runs(sweep)
    trend = report.cardinality_trend(runs)
    x = np.log2([1, 2, 4, 8, 32, 1])
    fit = stats.linregress(x, np.array([10, 14, 11, 15, 12, 16]) / 24)
    slope = number(100 * fit.slope, sign=True)
    assert slope != number(100 * np.mean(trend.seed_slopes), sign=True)  # the two slopes differ here
    caption = report.caption_cardinality(trend)
    assert f"dashed: the least-squares line through the 6 runs, {slope} points per doubling" in caption
    assert f"A least-squares line through the 6 runs has a slope of {slope} percentage points" in (
        report.cardinality_markdown(trend)
    )
    axes = report.plot_cardinality(trend, runs).axes[0]
    (line,) = [line for line in axes.get_lines() if line.get_linestyle() == "--"]
    assert line.get_label() == f"least-squares line through the 6 runs: {slope} points per doubling"
    cardinalities = [1, 2, 4, 8, 32]
    assert list(line.get_ydata()) == pytest.approx(100 * (fit.intercept + fit.slope * np.log2(cardinalities)))


# --- review 20: work done once ---------------------------------------------------------------------------


def test_a_runs_correctness_is_computed_once(profile):
    run = report.load_runs(profile).complete[0]
    assert run.correct is run.correct


def test_each_random_halving_is_scaled_once(profile, monkeypatch):
    seeds = []
    scale = calibration.cross_fitted_temperature_scaling

    def counted(probabilities, labels, seed=0):
        seeds.append(seed)
        return scale(probabilities, labels, seed)

    monkeypatch.setattr(calibration, "cross_fitted_temperature_scaling", counted)
    monkeypatch.setattr(ensembles_module, "cross_fitted_temperature_scaling", counted)
    score = score_ensemble("x", report.load_runs(profile).of("resnet50"), HALVINGS)
    assert sorted(seeds) == list(range(HALVINGS))  # seed 0's halving is the scaling reported, not made again
    assert len(score.ece_scaled_halvings) == len(score.nll_scaled_halvings) == HALVINGS


def test_the_reliability_panels_reuse_the_bins_the_seed_ensembles_made(full, full_scores):
    runs, scores = full, full_scores
    panels = reliability_panels(runs, scores)
    afresh = reliability_panels(runs, {arch: [] for arch in runs.architectures})
    for arch in runs.architectures:
        single, ensemble = [panel for panel in panels if panel.arch == arch]
        assert single.bins is scores[arch][0].singles[0].bins and ensemble.bins is scores[arch][-1].bins
    for panel, fresh in zip(panels, afresh):
        assert panel.members == fresh.members and np.array_equal(panel.bins["count"], fresh.bins["count"])
        assert panel.ece == pytest.approx(fresh.ece)
