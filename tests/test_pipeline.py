"""`make report` as people use it, on generated data into a temporary outputs directory: the smoke
report end to end, `make -j2`, retraining only what changed, what a plan keeps, reuses or leaves
out, an interrupted report build, incomplete runs, and edits of the report or training code."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_imagefolder
from processes import ROOT, kill_group, learning_history, make, plan, start_make, wait_for

SECTIONS = (
    "Headline",
    "Conclusions",
    "Training curves",
    "Per-class differences",
    "Setup",
    "Limitations",
    "Appendix: every run",
)


@pytest.fixture(scope="module")
def smoke(tmp_path_factory, images, profiles):
    """`make -j2 report PROFILE=smoke` once, for the tests that read its results."""
    outputs = tmp_path_factory.mktemp("outputs")
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    done = make("-j2", "report", "PROFILE=smoke", f"DATA=imagefolder:{images}", outputs=outputs, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    return outputs, env, done


def test_make_shows_each_runs_epochs_on_the_terminal_without_notebook_chatter(smoke):
    _, _, done = smoke
    for arch in ("resnet50", "resnext50_32x4d"):
        assert f"{arch}, seed 0: test accuracy" in done.stdout
    assert "epoch   1/1" in done.stdout
    assert "<Figure size" not in done.stdout and "Executing" not in done.stdout


def test_smoke_report_is_complete_self_contained_and_codeless(smoke):
    outputs, _, _ = smoke
    html = (outputs / "smoke" / "report.html").read_text()
    for arch in ("resnet50", "resnext50_32x4d"):
        assert arch in html
    for section in SECTIONS:
        assert section in html, section
    assert html.count("data:image/png;base64") >= 4  # plots embedded, not linked
    code_cells = re.findall(r'<div class="jp-Cell jp-CodeCell[^"]*"', html)
    assert code_cells and all("jp-mod-noInput" in cell for cell in code_cells)  # no cell shows its input
    assert 'class="highlight' not in html and "load_runs(" not in html  # no code shown
    assert '<script src="http' not in html  # nothing fetched from the network


def test_parallel_runs_are_complete_and_consistent(smoke):
    outputs, _, _ = smoke
    runs = outputs / "smoke" / "runs"
    for name in ("resnet50-seed0", "resnext50_32x4d-seed0"):
        directory = runs / name
        for artifact in ("train.ipynb", "history.csv", "summary.json", "predictions.npz"):
            assert (directory / artifact).exists(), f"{name}/{artifact}"
        summary = json.loads((directory / "summary.json").read_text())
        assert f"{summary['arch']}-seed{summary['seed']}" == name
        assert "output_dir" not in summary["config"] and "data_dir" not in summary["config"]
        assert len(learning_history(directory)) == summary["epochs"] == summary["config"]["epochs"]
        assert not list(directory.glob("*.partial*"))


def test_make_j2_trains_the_runs_side_by_side(smoke):
    outputs, _, _ = smoke
    spans = []
    for path in sorted((outputs / "smoke" / "runs").glob("*/summary.json")):
        env = json.loads(path.read_text())["env"]
        spans.append((env["started"], env["finished"]))
    (start_a, end_a), (start_b, end_b) = spans
    assert start_a < end_b and start_b < end_a, spans  # the two runs' lifetimes overlap


def test_second_report_retrains_nothing(smoke, images):
    outputs, env, _ = smoke
    summaries = sorted((outputs / "smoke" / "runs").glob("*/summary.json"))
    before = {path: path.stat().st_mtime_ns for path in summaries}
    again = make("report", "PROFILE=smoke", outputs=outputs, env=env)  # DATA is remembered
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("up to date") == 3  # two runs and the report
    assert "epoch" not in again.stdout
    assert {path: path.stat().st_mtime_ns for path in summaries} == before


def test_changed_data_marks_runs_out_of_date(smoke, tmp_path):
    outputs, env, _ = smoke
    other = make_imagefolder(tmp_path / "other", train_per_class=8, test_per_class=4, seed=1)
    copy = tmp_path / "outputs"
    shutil.copytree(outputs, copy)
    planned = plan("smoke", copy, env, "--data", f"imagefolder:{other}")
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.count("settings changed (dataset)") == 2
    assert not list((copy / "smoke" / "runs").glob("*/summary.json"))  # Make will retrain both


def test_interrupted_report_build_leaves_no_report_that_looks_fresh(smoke, tmp_path):
    outputs, env, _ = smoke
    copy = tmp_path / "outputs"
    shutil.copytree(outputs, copy)
    report = copy / "smoke" / "report.html"
    old = report.read_text()
    (copy / "smoke" / "runs" / "resnet50-seed0" / "history.csv").write_text(
        (copy / "smoke" / "runs" / "resnet50-seed0" / "history.csv").read_text() + "\n"
    )  # an input changed: the report is out of date
    process = start_make("report", "PROFILE=smoke", outputs=copy, env=env)
    wait_for(copy / "smoke" / ".compare.partial.ipynb", process, timeout=120)
    kill_group(process, signal.SIGKILL)
    assert report.read_text() == old  # never half-written
    inode = report.stat().st_ino
    again = make("report", "PROFILE=smoke", outputs=copy, env=env)
    assert again.returncode == 0 and "wrote" in again.stdout  # the stale report is not taken as fresh
    # Written to a new file and renamed over the old one, never rewritten in place (same inode).
    assert report.stat().st_ino != inode and not list((copy / "smoke").glob(".*.partial"))


def test_planning_a_new_image_folder_run_imports_no_torch(tmp_path, images, profiles):
    """`make report` plans before anything trains; without torch (3 s to import here) it answers at once."""
    script = (
        "import sys; from archcompare import cli; status = cli.main(sys.argv[1:]); "
        "assert 'torch' not in sys.modules, 'planning imported torch'; sys.exit(status)"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "plan", "smoke", "--data", f"imagefolder:{images}"],
        capture_output=True,
        text=True,
        env={**os.environ, "ARCHCOMPARE_PROFILES": str(profiles), "ARCHCOMPARE_OUTPUTS": str(tmp_path)},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count(": to train") == 2


def test_the_blog_profile_trains_as_the_blog_did_in_fp32_with_the_default_layout():
    from archcompare.pipeline.profiles import load_profile

    parameters = load_profile("blog").parameters
    assert parameters["precision"] == "fp32" and parameters["channels_last"] is False
    assert parameters["batch_size"] == 32 and parameters["recipe"] == "blog" and parameters["epochs"] == 50


def test_notebooks_are_committed_without_outputs():
    for path in (ROOT / "notebooks").glob("*.ipynb"):
        cells = json.loads(path.read_text())["cells"]
        for cell in cells:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name


# --- what a plan decides: kept, reused, retrained, stopped ---


def copy_outputs(smoke, tmp_path) -> Path:
    outputs, _, _ = smoke
    copy = tmp_path / "outputs"
    shutil.copytree(outputs, copy)
    return copy


def test_runs_of_older_training_code_are_kept_unless_retrain_is_asked(smoke, tmp_path):
    _, env, _ = smoke
    copy = copy_outputs(smoke, tmp_path)
    summary_path = copy / "smoke" / "runs" / "resnet50-seed0" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["env"]["code_version"] = 0  # as if it had been trained before the current training code version
    summary_path.write_text(json.dumps(summary))
    kept = plan("smoke", copy, env)
    assert kept.returncode == 0, kept.stderr
    assert "resnet50-seed0: kept, trained by an older version of the training code" in kept.stdout
    assert "resnext50_32x4d-seed0: up to date" in kept.stdout
    assert summary_path.exists()  # not retrained by accident
    retrain = plan("smoke", copy, env, "--retrain", "1")
    assert (
        "resnet50-seed0: trained by an older version" in retrain.stdout and "RETRAIN=1, will retrain" in retrain.stdout
    )
    assert not summary_path.exists()


def test_the_same_images_at_another_path_do_not_retrain(smoke, images, tmp_path):
    _, env, _ = smoke
    copy = copy_outputs(smoke, tmp_path)
    moved = tmp_path / "moved-images"
    shutil.copytree(images, moved)
    planned = plan("smoke", copy, env, "--data", f"imagefolder:{moved}")
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.count("up to date") == 2, planned.stdout


# Each setting that makes two runs compute different things, changed in a copy of smoke.yaml (its values:
# 1 epoch, batch 16, 4 training and 4 test images per class, lr 0.01, seed 0). A planner whose comparison
# skipped one of them would copy the smoke run in as "identical" (a 5-epoch run for a 50-epoch one).
SETTING_CHANGES = {
    "epochs": ("epochs: 1", "epochs: 2"),
    "batch size": ("batch_size: 16", "batch_size: 8"),
    "recipe": ("schedule: constant", "schedule: constant\n  recipe: blog"),
    "precision": ("schedule: constant", "schedule: constant\n  precision: {other_precision}"),
    "training subset": ("train_per_class: 4", "train_per_class: 3"),
    "test subset": ("test_per_class: 4", "test_per_class: 3"),
    "seed": ("seeds: [0]", "seeds: [1]"),
    "learning rate": ("lr: 0.01", "lr: 0.02"),
}


@pytest.mark.parametrize("change", ["none", *SETTING_CHANGES, "the images", "the code version"])
def test_a_run_of_another_profile_is_reused_only_when_settings_images_and_code_are_identical(
    smoke, profiles, tmp_path, change
):
    _, env, _ = smoke
    copy = copy_outputs(smoke, tmp_path)
    mine = tmp_path / "profiles"
    shutil.copytree(profiles, mine)
    text = (profiles / "smoke.yaml").read_text()
    if change in SETTING_CHANGES:
        old, new = SETTING_CHANGES[change]
        # Not the precision the smoke runs resolved to here (auto: bf16 on CPUs with native bf16, else fp32).
        trained = json.loads((copy / "smoke" / "runs" / "resnet50-seed0" / "summary.json").read_text())
        new = new.format(other_precision="fp32" if trained["env"]["precision"] == "bf16" else "bf16")
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    (mine / "smoke-again.yaml").write_text(text)
    images = Path((copy / "smoke" / ".data").read_text().strip().partition(":")[2])
    if change == "the images":  # the same layout, other pixels
        images = make_imagefolder(tmp_path / "other", train_per_class=8, test_per_class=4, seed=1)
    if change == "the code version":
        for summary_path in (copy / "smoke" / "runs").glob("*/summary.json"):
            summary = json.loads(summary_path.read_text())
            summary["env"]["code_version"] = 0
            summary_path.write_text(json.dumps(summary))
    env = {**env, "ARCHCOMPARE_PROFILES": str(mine)}
    # LONG=1: no timing probe of the runs to train; this is about what the plan reuses.
    planned = plan("smoke-again", copy, env, "--data", f"imagefolder:{images}", "--long", "1")
    assert planned.returncode == 0, planned.stderr
    if change == "none":
        assert planned.stdout.count("reused instead of trained") == 2, planned.stdout
        reused = copy / "smoke-again" / "runs" / "resnet50-seed0"
        assert json.loads((reused / "reused.json").read_text())["run"] == "resnet50-seed0"
        original = copy / "smoke" / "runs" / "resnet50-seed0"
        assert (reused / "summary.json").read_bytes() == (original / "summary.json").read_bytes()
    else:
        assert "reused" not in planned.stdout and planned.stdout.count(": to train") == 2, planned.stdout
        assert not list((copy / "smoke-again" / "runs").glob("*/summary.json"))


def test_the_layout_and_the_step_mode_are_execution_choices_recorded_in_the_parameters_not_the_identity(
    smoke, profiles, tmp_path
):
    """A profile's layout may change, and one invocation may choose the step mode and layout
    (make STEP_MODE=... CHANNELS_LAST=...): the runs trained otherwise stay current."""
    import yaml

    _, env, _ = smoke
    copy = copy_outputs(smoke, tmp_path)
    mine = tmp_path / "profiles"
    shutil.copytree(profiles, mine)
    (mine / "smoke.yaml").write_text((profiles / "smoke.yaml").read_text() + "  channels_last: false\n")
    env = {**env, "ARCHCOMPARE_PROFILES": str(mine)}
    params = copy / "smoke" / "runs" / "resnet50-seed0" / "params.yaml"
    relaid = plan("smoke", copy, env)
    assert relaid.returncode == 0 and relaid.stdout.count("up to date") == 2, relaid.stdout + relaid.stderr
    assert yaml.safe_load(params.read_text())["channels_last"] is False
    chosen = plan("smoke", copy, {**env, "ARCHCOMPARE_STEP_MODE": "eager", "ARCHCOMPARE_CHANNELS_LAST": "1"})
    assert chosen.returncode == 0 and chosen.stdout.count("up to date") == 2, chosen.stdout + chosen.stderr
    assert {key: yaml.safe_load(params.read_text())[key] for key in ("step_mode", "channels_last")} == {
        "step_mode": "eager",
        "channels_last": True,
    }
    summary = json.loads((params.parent / "summary.json").read_text())
    assert summary["config"]["channels_last"] is True  # the record keeps the layout it was trained in
    bad = plan("smoke", copy, {**env, "ARCHCOMPARE_STEP_MODE": "graphs"})
    assert bad.returncode == 2 and bad.stderr.strip() == (
        "error: STEP_MODE='graphs' is not allowed: choose one of auto, eager, cuda-graph"
    )


def test_missing_runs_that_would_take_too_long_are_not_trained_without_long(smoke, tmp_path, images):
    _, env, _ = smoke
    copy = copy_outputs(smoke, tmp_path)
    shutil.rmtree(copy / "smoke" / "runs" / "resnext50_32x4d-seed0")
    runs_file = tmp_path / "runs.txt"
    slow = {**env, "ARCHCOMPARE_LONG_SECONDS": "0.001"}  # as if this machine were far too slow
    stopped = plan("smoke", copy, slow, "--runs-file", str(runs_file))
    assert stopped.returncode == 0, stopped.stderr
    assert re.search(
        r"not training 1 run\(s\) \(resnext50_32x4d-seed0\): they would take about .* on this machine", stopped.stdout
    )
    assert "LONG=1" in stopped.stdout
    assert runs_file.read_text().split() == ["resnet50-seed0"]  # make renders from the run that exists
    go_on = plan("smoke", copy, slow, "--runs-file", str(runs_file), "--long", "1")
    assert (
        runs_file.read_text().split() == ["resnet50-seed0", "resnext50_32x4d-seed0"]
        and "not training" not in go_on.stdout
    )


def test_complete_runs_too_long_to_retrain_here_keep_their_files(smoke, tmp_path):
    """A mistyped DATA on a machine too slow to retrain (RETRAIN=1 there takes the same path): the old planner
    removed the runs' summary.json, then left them out as too long to train, and the report rendered without them."""
    _, env, _ = smoke
    copy = copy_outputs(smoke, tmp_path)
    other = ["--data", f"imagefolder:{make_imagefolder(tmp_path / 'other', 8, 4, seed=1)}"]
    files = {path: path.read_bytes() for path in (copy / "smoke").rglob("*") if path.is_file()}
    slow = {**env, "ARCHCOMPARE_LONG_SECONDS": "0.001"}  # as if this machine were far too slow
    stopped = plan("smoke", copy, slow, *other)
    assert stopped.returncode == 2
    assert re.fullmatch(
        r"error: smoke: not removing 2 complete run\(s\) that would take too long to retrain here "
        r"\(resnet50-seed0: out of date, settings changed \(dataset\); resnext50_32x4d-seed0: out of date, settings "
        r"changed \(dataset\)\); their files are kept\. Give the DATA and settings they were trained with, or LONG=1 "
        r"to retrain them here\n",
        stopped.stderr,
    ), stopped.stderr
    assert {path: path.read_bytes() for path in (copy / "smoke").rglob("*") if path.is_file()} == files
    retrained = plan("smoke", copy, slow, *other, "--long", "1")
    assert retrained.returncode == 0 and retrained.stdout.count("will retrain") == 2, retrained.stdout
    assert not list((copy / "smoke" / "runs").glob("*/summary.json"))


def test_a_fresh_clone_without_the_images_keeps_the_committed_runs_and_leaves_missing_ones_out(smoke, images, tmp_path):
    """As on a fresh clone: no DATA given or remembered, the committed plan.json names the image folder by name only."""
    _, env, _ = smoke
    copy = copy_outputs(smoke, tmp_path)
    (copy / "smoke" / ".data").unlink()
    # The folder's name only (pytest numbers it by how many temporary folders came first), never its path.
    assert json.loads((copy / "smoke" / "plan.json").read_text())["data"] == f"imagefolder:{images.name}"
    shutil.rmtree(copy / "smoke" / "runs" / "resnext50_32x4d-seed0")
    runs_file = tmp_path / "runs.txt"
    planned = plan("smoke", copy, env, "--runs-file", str(runs_file))
    assert planned.returncode == 0, planned.stderr
    assert "smoke/resnet50-seed0: up to date" in planned.stdout
    assert re.search(
        r"not training 1 run\(s\) \(resnext50_32x4d-seed0\): their images, the image folder named "
        rf"'{re.escape(images.name)}', are not on this machine\. Pass DATA=imagefolder:",
        planned.stdout,
    )
    assert runs_file.read_text().split() == ["resnet50-seed0"]  # make renders from the run that exists
    assert "resnext50_32x4d-seed0" in json.loads((copy / "smoke" / "plan.json").read_text())["runs"]  # reported missing


def test_make_report_warns_of_an_incomplete_run_then_finishes_it(smoke, tmp_path):
    _, env, _ = smoke
    copy = copy_outputs(smoke, tmp_path)
    run = copy / "smoke" / "runs" / "resnext50_32x4d-seed0"
    (run / "summary.json").unlink()
    rendered = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-m", "archcompare.cli", "render", "smoke"],
        capture_output=True,
        text=True,
        env={**os.environ, **env, "ARCHCOMPARE_OUTPUTS": str(copy)},
    )
    assert rendered.returncode == 0, rendered.stderr
    html = (copy / "smoke" / "report.html").read_text()
    assert "not every expected run is complete" in html and "resnext50_32x4d-seed0" in html
    finished = make("report", "PROFILE=smoke", "RUNNER=python", outputs=copy, env=env)  # trained without Jupyter
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert "resnext50_32x4d, seed 0: test accuracy" in finished.stdout  # trained again
    assert "not every expected run is complete" not in (copy / "smoke" / "report.html").read_text()


def test_editing_compare_notebook_or_report_code_rerenders_a_refactor_keeps_the_runs_and_a_new_code_version_flags_them(
    smoke, tmp_path
):
    """In a copy of the repository: what each kind of edit makes `make report` do, on the smoke runs."""
    outputs, env, _ = smoke
    repo = tmp_path / "repo"
    for name in ("lib", "notebooks", "tools"):
        shutil.copytree(ROOT / name, repo / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("Makefile", "pyproject.toml", "requirements.txt", "requirements-lab.txt"):
        shutil.copy2(ROOT / name, repo / name)
    (repo / ".venv").symlink_to(ROOT / ".venv")
    copy = repo / "outputs"
    shutil.copytree(outputs, copy)
    env = {**env, "PYTHONPATH": str(repo / "lib")}  # the copy's package, in make and in the kernel

    def report() -> subprocess.CompletedProcess:
        done = subprocess.run(
            ["make", "--no-print-directory", "-C", str(repo), "-o", ".venv/.installed", "report", "PROFILE=smoke"],
            capture_output=True,
            text=True,
            timeout=240,
            env={**os.environ, **env},
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done

    notebook = repo / "notebooks" / "compare.ipynb"
    notebook.write_text(notebook.read_text().replace("## Headline", "## Headline (edited)"))
    analysis = repo / "lib" / "archcompare" / "report" / "analysis" / "pairs.py"  # the fingerprint covers subpackages
    analysis.write_text(analysis.read_text() + "\n# an edit\n")
    # A refactor of the training code (here: a comment) does not change what it computes.
    loop = repo / "lib" / "archcompare" / "training" / "loop.py"
    loop.write_text(loop.read_text() + "\n# a refactor of the training code\n")
    edited = report()
    assert "wrote outputs/smoke/report.html" in edited.stdout and "epoch" not in edited.stdout
    assert edited.stdout.count("up to date") == 2 and "kept" not in edited.stdout
    assert "Headline (edited)" in (copy / "smoke" / "report.html").read_text()
    # A change of what training computes raises the version: the runs are kept, flagged, not retrained.
    provenance = repo / "lib" / "archcompare" / "provenance.py"
    provenance.write_text(
        re.sub(r"TRAINING_CODE_VERSION = (\d+)", "TRAINING_CODE_VERSION = 99", provenance.read_text())
    )
    kept = report()
    assert kept.stdout.count("kept, trained by an older version of the training code") == 2
    assert "epoch" not in kept.stdout  # nothing retrained
    assert "Trained by an older version of the training code" in (copy / "smoke" / "report.html").read_text()


# --- what decides whether a report is rendered again (the fingerprint alone: no make, no kernel) -------


@pytest.fixture
def report_profile(tmp_path):
    """A profile directory with a plan and no runs, under an outputs directory of its own."""
    profile = tmp_path / "outputs" / "quick"
    profile.mkdir(parents=True)
    (profile / "plan.json").write_text('{"profile": "quick", "runs": []}')
    return profile


def test_a_change_in_a_module_of_a_report_subpackage_renders_the_report_again(report_profile, tmp_path, monkeypatch):
    from archcompare.pipeline import render

    code = tmp_path / "report"
    (code / "analysis").mkdir(parents=True)
    (code / "__init__.py").write_text('"""The report."""\n')
    module = code / "analysis" / "pairs.py"
    module.write_text("ALPHA = 0.05\n")
    monkeypatch.setattr(render, "PACKAGE_DIR_REPORT", code)
    before = render.report_inputs_fingerprint(report_profile)
    assert render.report_inputs_fingerprint(report_profile) == before
    module.write_text("ALPHA = 0.01\n")
    assert render.report_inputs_fingerprint(report_profile) != before
    (code / "wording").mkdir()
    edited = render.report_inputs_fingerprint(report_profile)
    (code / "wording" / "conclusions.py").write_text('"""A new module."""\n')
    assert render.report_inputs_fingerprint(report_profile) != edited


def test_a_new_or_changed_data_penalty_result_renders_the_reports_again(report_profile):
    from archcompare.pipeline.render import report_inputs_fingerprint

    documented = report_inputs_fingerprint(report_profile)
    results = report_profile.parent / "data-penalty"
    results.mkdir()
    (results / "cifar10-jpeg.json").write_text('{"fingerprint": "71e1cb81bb756883", "penalty": 0.0201}')
    measured = report_inputs_fingerprint(report_profile)
    assert measured != documented
    (results / "cifar10-jpeg.json").write_text('{"fingerprint": "71e1cb81bb756883", "penalty": 0.0215}')
    assert report_inputs_fingerprint(report_profile) != measured


def test_a_new_bench_result_renders_the_reports_again_and_a_quick_check_of_the_machinery_does_not(report_profile):
    from archcompare.pipeline.render import report_inputs_fingerprint

    before = report_inputs_fingerprint(report_profile)
    bench = report_profile.parent / "bench"
    bench.mkdir()
    (bench / "bench-cuda-quick.json").write_text('{"device": "cuda"}')  # never read by the report
    (bench / "bench-cuda.md").write_text("| table |")  # the README's, not the report's
    assert report_inputs_fingerprint(report_profile) == before
    (bench / "bench-cuda.json").write_text('{"device": "cuda", "device_name": "NVIDIA H200"}')
    assert report_inputs_fingerprint(report_profile) != before
