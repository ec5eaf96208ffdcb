"""Issue 28, section 5: error consistency (Cohen's kappa of per-image correctness, Geirhos et al. 2020).

Kappa against a case computed by hand and its known properties; the bootstrap against a direct
resampling of the images; the report's groups, table and words on the tiny runs and the committed
predictions. The report-split code had no error consistency at all.
"""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from archcompare import report
from archcompare.paths import ROOT
from archcompare.report.analysis.consistency import cohen_kappa, consistency_group
from archcompare.report.format import number
from archcompare.report.wording.consistency import kappa_text


def pair(first: np.ndarray, second: np.ndarray, resamples: int = 2000, seed: int = 0):
    return consistency_group("pair", ("a", "b"), {"a": first, "b": second}, [("a", "b")], resamples, seed).pairs[0]


def test_kappa_on_a_case_computed_by_hand():
    first = np.array([1, 1, 1, 1, 0, 0, 0, 0, 1, 1], bool)
    second = np.array([1, 1, 1, 0, 0, 0, 1, 0, 1, 1], bool)
    # Both 60 % right; they agree on 8 of 10 images; chance: 0.6 * 0.6 + 0.4 * 0.4 = 0.52;
    # kappa = (0.8 - 0.52) / (1 - 0.52) = 0.58333...
    observed, expected, kappa = cohen_kappa(first, second)
    assert (observed, expected) == pytest.approx((0.8, 0.52))
    assert kappa == pytest.approx(0.28 / 0.48)
    result = pair(first, second)
    assert (result.observed, result.expected, result.kappa) == pytest.approx((0.8, 0.52, 0.28 / 0.48))
    assert (result.first_accuracy, result.second_accuracy, result.images) == pytest.approx((0.6, 0.6, 10))


def test_kappa_is_one_for_identical_correctness_and_undefined_when_all_are_right():
    rng = np.random.default_rng(1)
    correct = rng.random(300) < 0.7
    assert cohen_kappa(correct, correct)[2] == 1.0
    # Resampling both models' answers on an image together keeps them identical in every resample;
    # resampled apart, their kappa would fall to about 0.
    assert pair(correct, correct).interval == (1.0, 1.0)
    everything = np.ones(50, bool)
    assert np.isnan(cohen_kappa(everything, everything)[2])  # chance agreement 1: kappa is undefined
    # Right exactly where the other is wrong: no agreement at all, against chance 2 p (1 - p).
    p = correct.mean()
    chance = 2 * p * (1 - p)
    assert cohen_kappa(correct, ~correct) == pytest.approx((0.0, chance, -chance / (1 - chance)))


def test_kappa_of_independent_errors_is_near_zero():
    rng = np.random.default_rng(2)
    first, second = rng.random(40_000) < 0.7, rng.random(40_000) < 0.8
    result = pair(first, second)
    assert abs(result.kappa) < 0.02
    assert result.interval[0] < 0 < result.interval[1]


def test_the_bootstrap_interval_covers_the_estimate_and_narrows_with_more_images():
    rng = np.random.default_rng(3)

    def correlated(images: int) -> tuple[np.ndarray, np.ndarray]:
        first = rng.random(images) < 0.7
        second = np.where(rng.random(images) < 0.6, first, rng.random(images) < 0.7)  # 60 % copied from the first
        return first, second

    small, large = pair(*correlated(500)), pair(*correlated(20_000))
    for result in (small, large):
        assert result.interval[0] < result.kappa < result.interval[1]
    width = lambda result: result.interval[1] - result.interval[0]  # noqa: E731
    assert width(large) < width(small) / 4  # about sqrt(40) = 6.3 times narrower
    # Seeded: the same seed gives the same interval, another seed a slightly different one.
    first, second = correlated(500)
    assert pair(first, second, seed=5).interval == pair(first, second, seed=5).interval
    assert pair(first, second, seed=5).interval != pair(first, second, seed=6).interval


def test_the_bootstrap_matches_resampling_the_images_directly():
    # The analysis draws the counts of each right/wrong pattern from a multinomial; resampling image
    # indices with replacement is the same distribution. Checked against the direct way.
    rng = np.random.default_rng(4)
    first = rng.random(400) < 0.6
    second = np.where(rng.random(400) < 0.5, first, rng.random(400) < 0.6)
    result = pair(first, second, resamples=4000)
    indices = np.random.default_rng(7).integers(0, 400, size=(4000, 400))
    direct = [cohen_kappa(first[i], second[i])[2] for i in indices]
    assert result.interval == pytest.approx(tuple(np.percentile(direct, [2.5, 97.5])), abs=0.02)


def test_the_report_gives_kappa_between_the_architectures_per_paired_seed_and_between_seeds(profile):
    runs = report.load_runs(profile)
    result = report.error_consistency(runs)
    (between,) = result.between
    assert between.archs == ("resnet50", "resnext50_32x4d")
    assert [(p.first, p.second) for p in between.pairs] == [
        ("resnet50 seed 0", "resnext50_32x4d seed 0"),
        ("resnet50 seed 1", "resnext50_32x4d seed 1"),
    ]
    correct = {run.label: run.correct for run in runs.complete}
    for item in between.pairs:
        assert item.kappa == pytest.approx(cohen_kappa(correct[item.first], correct[item.second])[2], nan_ok=True)
    assert [(group.archs, len(group.pairs)) for group in result.within] == [
        (("resnet50",), 1),
        (("resnext50_32x4d",), 1),
    ]
    table = report.consistency_table(result)
    assert list(table["pair"]) == ["seed 0", "seed 1", "mean of 2", "seeds 0 and 1", "seeds 0 and 1"]
    # The mean row shows the mean of the pairs' kappas, each computed here from the runs' correctness.
    kappas = [cohen_kappa(correct[f"resnet50 seed {s}"], correct[f"resnext50_32x4d seed {s}"])[2] for s in (0, 1)]
    assert table.iloc[2]["κ"] == kappa_text(float(np.mean(kappas)))
    assert {"agreement, observed", "agreement by chance", "κ", "κ, 95 % bootstrap interval"} <= set(table.columns)
    text = report.consistency_markdown(result)
    assert (
        "- Between ResNet-50 and ResNeXt-50 32x4d: κ = " in text
        and "- Between seeds of ResNet-50, seeds 0 and 1" in text
    )
    assert "by chance" in text and "Geirhos et al. 2020" in text
    assert "no test is made and no verdict given" in text
    assert "significant" not in text and "**" not in text


def test_the_committed_full_runs_error_consistency_reads_from_their_predictions(full):
    runs = full
    result = report.error_consistency(runs)
    seed0 = result.between[0].pairs[0]
    first, second = (run.correct for run in (runs.of("resnet50")[0], runs.of("resnext50_32x4d")[0]))
    observed, expected, kappa = cohen_kappa(first, second)
    assert (seed0.observed, seed0.expected, seed0.kappa) == pytest.approx((observed, expected, kappa))
    assert seed0.images == 10_000 and seed0.interval[0] < seed0.kappa < seed0.interval[1]
    text = report.consistency_markdown(result)
    assert f"seed 0: agreement {number(100 * observed, 1)} % against {number(100 * expected, 1)} % by chance" in text
    assert f"κ = {number(kappa, 2)} ({number(seed0.interval[0], 2)} to {number(seed0.interval[1], 2)})" in text


def test_one_run_has_no_error_consistency_and_the_notebook_only_calls_the_report(profile):
    for name in ("resnet50-seed1", "resnext50_32x4d-seed0", "resnext50_32x4d-seed1"):
        shutil.rmtree(profile / "runs" / name)
    assert report.error_consistency(report.load_runs(profile)) is None
    notebook = json.loads((ROOT / "notebooks" / "compare.ipynb").read_text())
    cell = next("".join(c["source"]) for c in notebook["cells"] if "error_consistency" in "".join(c["source"]))
    for call in ("report.error_consistency(runs)", "report.consistency_table(", "report.consistency_markdown("):
        assert call in cell
    assert "import" not in cell and "np." not in cell
