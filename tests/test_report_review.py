"""The review of the issue-28 report (notes/review.md): timing judged only as the blog's loop ran, bench rows
grouped by their own device model and decided by their samples.

Each test failed on the code before this change (see the commit message for how each one failed).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_report import RUN_NAMES, as_cifar10, edit_summary, set_epoch_seconds, set_times
from test_report import under_blog_conditions as blog_precision_batch_and_layout
from test_report_verdict import ARCHS

from archcompare import report
from archcompare.report.analysis.statistics import ratio_interval
from archcompare.report.format import ratio

H200, H100 = "NVIDIA H200", "NVIDIA H100 80GB HBM3"
BLOG_ROW = "blog (fp32, batch 32, default layout)"


@pytest.fixture
def profile(tmp_path, tiny_runs) -> Path:
    directory = tmp_path / "outputs" / "tiny"
    shutil.copytree(tiny_runs, directory / "runs", ignore=shutil.ignore_patterns("checkpoint.pt"))
    for name in RUN_NAMES:  # steady epochs: the tiny runs' own times scatter with the machine's load
        set_epoch_seconds(directory / "runs" / name, [1.0, 1.0])
    return directory


def on_gpu(profile: Path, device_name: str = H200, step_mode: str = "eager") -> None:
    for name in RUN_NAMES:
        edit_summary(
            profile / "runs" / name, env={"device": "cuda", "device_name": device_name, "step_mode": step_mode}
        )


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


def blog_column(profile: Path) -> str:
    table = report.headline_table(report.load_runs(profile)).set_index("architecture")
    return table.loc["resnext50_32x4d", "blog post (50 epochs)"]


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
    assert f"{ratio(1005 / 765)} on {H100} (`make bench`, bench-cuda.json: the project loop's eager steps)" in notes
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
