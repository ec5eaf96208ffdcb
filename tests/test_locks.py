"""One process at a time in a run directory: two makes of one profile, a plan's deletions, the report."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import threading
import time

import numpy as np
import pandas as pd
from conftest import make_imagefolder
from processes import ROOT, hold, plan, start_make

from archcompare.pipeline.locks import TRAINING, run_lock
from archcompare.pipeline.render import MARKDOWN_REPORT, REPORT_FINGERPRINT, render, report_inputs_fingerprint


def test_two_makes_of_one_profile_train_each_run_once_and_leave_consistent_run_directories(tmp_path, images, profiles):
    """As two terminals started a second apart would: one make trains in Jupyter (make report's way), the
    other without (RUNNER=python), so both entry points take the lock. Before, both trained both runs."""
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    data = f"DATA=imagefolder:{images}"
    makes = [
        start_make("runs", "PROFILE=pair", data, outputs=tmp_path, env=env),
        start_make("runs", "PROFILE=pair", data, "RUNNER=python", outputs=tmp_path, env=env),
    ]
    outputs = [make.communicate(timeout=300)[0] for make in makes]
    assert [make.returncode for make in makes] == [0, 0], outputs
    both = "\n".join(outputs)
    assert both.count("run config:") == 2, both  # train() prints its config once per run it trains
    waits = re.findall(r"pair/(\S+): another process \(pid \d+\) is training it; waiting for it to finish", both)
    used = re.findall(r"pair/(\S+): trained by the process it waited for, as planned; using its result", both)
    assert waits == used, both  # a make that waited for a run used it (one that came later found it done)
    for run in sorted((tmp_path / "pair" / "runs").iterdir()):
        summary = json.loads((run / "summary.json").read_text())
        with np.load(run / "predictions.npz") as predictions:
            accuracy = float((predictions["probabilities"].argmax(1) == predictions["labels"]).mean())
        assert accuracy == summary["test_acc"] == pd.read_csv(run / "history.csv")["test_acc"].iloc[-1], run.name
        # The executed notebook belongs to the training that wrote the record, if that was the notebook's.
        assert (run / "train.ipynb").exists() == (summary["env"]["trained_by"] == "train.ipynb"), run.name


def test_a_waiting_process_names_the_holder_and_takes_the_lock_once_the_holder_is_killed(tmp_path):
    run_dir = tmp_path / "profile" / "runs" / "resnet18-seed0"
    holder = hold(run_dir, seconds=600)
    threading.Timer(1.0, os.kill, (holder.pid, signal.SIGKILL)).start()  # as the OOM killer would
    messages = []
    with run_lock(run_dir, TRAINING, log=messages.append) as waited:
        assert waited and holder.wait(timeout=10) == -signal.SIGKILL
    assert messages == [
        f"profile/resnet18-seed0: another process (pid {holder.pid}) is training it; waiting for it to finish"
    ]


def test_rendering_waits_for_a_run_of_the_profile_that_another_process_is_training(tmp_path, monkeypatch):
    monkeypatch.setenv("ARCHCOMPARE_OUTPUTS", str(tmp_path))
    profile_dir = tmp_path / "profile"
    run_dir = profile_dir / "runs" / "resnet18-seed0"
    run_dir.mkdir(parents=True)
    (run_dir / "history.csv").write_text("epoch\n1\n")
    # A report rendered from these runs already: render has nothing to do but to wait.
    for name in ("report.html", MARKDOWN_REPORT):
        (profile_dir / name).write_text("")
    (profile_dir / REPORT_FINGERPRINT).write_text(report_inputs_fingerprint(profile_dir))
    holder = hold(run_dir, seconds=2)
    started, messages = time.monotonic(), []
    render("profile", log=messages.append)
    assert time.monotonic() - started > 1.5, "the report was rendered while the run was being written"
    assert holder.wait(timeout=10) == 0
    assert messages[0] == (
        f"profile/resnet18-seed0: another process (pid {holder.pid}) is training it; waiting for it to finish"
    )
    assert messages[1].endswith("is up to date")


def test_a_plan_removes_an_out_of_date_run_only_when_no_other_process_is_in_it(tmp_path):
    """A committed quick run, planned with other images: out of date, its summary.json is removed; while another
    process holds the run, the plan says so and waits for it first."""
    images = make_imagefolder(tmp_path / "images", train_per_class=2, test_per_class=1, size=(8, 8))
    run_dir = tmp_path / "out" / "quick" / "runs" / "resnet50-seed0"
    run_dir.mkdir(parents=True)
    shutil.copy(ROOT / "outputs" / "quick" / "runs" / "resnet50-seed0" / "summary.json", run_dir)
    holder = hold(run_dir, seconds=2)
    started = time.monotonic()
    planned = plan("quick", tmp_path / "out", {}, "--data", f"imagefolder:{images}")
    assert planned.returncode == 0, planned.stderr
    lines = planned.stdout.splitlines()
    waiting = f"quick/resnet50-seed0: another process (pid {holder.pid}) is training it; waiting for it to finish"
    assert lines.index(waiting) < lines.index(
        "quick/resnet50-seed0: out of date, settings changed (dataset): will retrain"
    )
    assert time.monotonic() - started > 1.5 and holder.wait(timeout=10) == 0
    assert not (run_dir / "summary.json").exists()
