"""One run over several processes (torchrun, DistributedDataParallel) on CPUs with gloo."""

from __future__ import annotations

import csv
import json
import re
import subprocess

import numpy as np
import pytest
from conftest import make_imagefolder, tiny_config
from processes import finished_epochs, make, start_make, wait_for

from archcompare.training import train

quiet = dict(progress="none", log=lambda message: None)


def history(run_dir) -> list[dict]:
    with open(run_dir / "history.csv") as f:
        return list(csv.DictReader(f))


def test_two_processes_compute_what_one_process_computes_with_the_same_global_batch(tmp_path):
    """Same seed, same global batch (7: shares of 4 and 3 images), two epochs, in one and in two processes.

    The two differ only in the order of floating-point sums (all-reduced gradients and batch-norm
    statistics): measured, the first epoch's training loss agreed to every printed digit and the
    second's to 3e-4. Tolerance 2e-3 relative on every epoch's losses: a broken share of the work
    moves them further (per-process batch norm moved the first epoch's training loss by 1 %,
    unweighted losses of unequal shares by 0.5 %), and accuracies must be equal.
    """
    images = make_imagefolder(tmp_path / "images", train_per_class=10, test_per_class=5, size=(16, 16))
    runs = {}
    for processes in (1, 2):
        config = tiny_config(
            images,
            tmp_path,
            epochs=2,
            batch_size=7,
            lr=1e-3,
            processes=processes,
            output_dir=str(tmp_path / f"p{processes}"),
        )
        runs[processes] = train(config, **quiet)
    for one, two in zip(history(tmp_path / "p1"), history(tmp_path / "p2"), strict=True):
        for key in ("train_loss", "train_ce", "test_loss"):
            assert float(two[key]) == pytest.approx(float(one[key]), rel=2e-3), key
        assert (two["train_acc"], two["test_acc"]) == (one["train_acc"], one["test_acc"])
    assert runs[2].config["processes"] == 2 and runs[2].data.train_images == 30
    # Evaluation covered the test set exactly once: the same 15 labels, in order, and a probability row each.
    with np.load(tmp_path / "p1" / "predictions.npz") as one, np.load(tmp_path / "p2" / "predictions.npz") as two:
        assert np.array_equal(one["labels"], two["labels"]) and two["probabilities"].shape == (15, 3)
        np.testing.assert_allclose(two["probabilities"], one["probabilities"], atol=2e-3)
    # Only rank 0 wrote the run's files, once.
    assert sorted(p.name for p in (tmp_path / "p2").iterdir()) == sorted(p.name for p in (tmp_path / "p1").iterdir())


def test_a_killed_process_stops_the_run_in_one_line_and_the_same_command_resumes(tmp_path, profiles):
    # 16x16 images: an epoch of two gloo processes still takes seconds here (1.8 s; 4.7 s at 32x32), time
    # enough to kill a rank between the first checkpoint and the end.
    images = make_imagefolder(tmp_path / "images", train_per_class=20, test_per_class=4, size=(16, 16))
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    args = ("runs", "PROFILE=ddp", f"DATA=imagefolder:{images}", "RUNNER=python")
    run_dir = tmp_path / "out" / "ddp" / "runs" / "resnet18-seed0"
    process = start_make(*args, outputs=tmp_path / "out", env=env)
    wait_for(run_dir / "checkpoint.pt", process, timeout=240)
    # torchrun (in make's session) starts the two workers as its children.
    torchrun = subprocess.run(
        ["pgrep", "-s", str(process.pid), "-f", "torch.distributed.run"], capture_output=True, text=True
    ).stdout.split()
    workers = subprocess.run(["pgrep", "-P", ",".join(torchrun)], capture_output=True, text=True).stdout.split()
    assert len(torchrun) == 1 and len(workers) == 2, (torchrun, workers)
    subprocess.run(["kill", "-KILL", workers[-1]], check=True)  # one rank dies, as under the OOM killer
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and re.search(r"a process of the 2-process run stopped \(.+\); finished epochs", errors[0])
    assert "Traceback" not in output, output
    assert not (run_dir / "summary.json").exists()
    done = finished_epochs(run_dir)
    resumed = make(*args, outputs=tmp_path / "out", env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"from its checkpoint after epoch {done}" in resumed.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert (
        summary["epochs"] == 4 and summary["config"]["processes"] == 2 and summary["env"]["resumed_from_epoch"] == done
    )
