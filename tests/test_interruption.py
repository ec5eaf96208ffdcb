"""Interrupted training through make: a power cut, Ctrl-C, SIGTERM, a dead kernel and a damaged
checkpoint; each stops cleanly, says what to do, and the run resumes from its checkpoint."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from processes import (
    finished_epochs,
    kernel_pids,
    kill_group,
    learning_history,
    make,
    plan,
    start_make,
    wait_for,
    wait_gone,
)


class Resumable:
    """`make runs PROFILE=resumable` (four deterministic epochs) into one outputs folder."""

    def __init__(self, outputs: Path, slow_images: Path, profiles: Path):
        self.outputs = outputs
        self.args = ("runs", "PROFILE=resumable", f"DATA=imagefolder:{slow_images}")
        self.env = {"ARCHCOMPARE_PROFILES": str(profiles)}
        self.run_dir = outputs / "resumable" / "runs" / "resnet18-seed0"

    def start(self) -> subprocess.Popen:
        """Started in its own process group; returns once the first epoch is checkpointed."""
        process = start_make(*self.args, outputs=self.outputs, env=self.env)
        wait_for(self.run_dir / "checkpoint.pt", process)
        return process

    def make(self, *extra: str) -> subprocess.CompletedProcess:
        """The same make command, run to its end (``extra``: e.g. RUNNER=python)."""
        return make(*self.args, *extra, outputs=self.outputs, env=self.env)


def test_killed_run_resumes_and_matches_an_uninterrupted_run(tmp_path, slow_images, profiles):
    # The uninterrupted reference trains without Jupyter (faster), which must not change what is learned.
    reference = Resumable(tmp_path / "whole", slow_images, profiles)
    whole = reference.make("RUNNER=python")
    assert whole.returncode == 0, whole.stdout + whole.stderr

    killed = Resumable(tmp_path / "killed", slow_images, profiles)
    run_dir = killed.run_dir
    process = killed.start()
    kill_group(process, signal.SIGKILL)  # like a power cut: make and its kernel, no chance to clean up
    assert not (run_dir / "summary.json").exists()
    done = finished_epochs(run_dir)
    assert 1 <= done < 4

    resumed = killed.make()
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"from its checkpoint after epoch {done}" in resumed.stdout
    assert learning_history(run_dir) == learning_history(reference.run_dir)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupted_make_stops_training_says_how_to_resume_and_resumes(tmp_path, slow_images, profiles, signum):
    run = Resumable(tmp_path / "out", slow_images, profiles)
    run_dir = run.run_dir
    process = run.start()
    kernels = kernel_pids(process)
    assert kernels
    output = kill_group(process, signum, kernels="leave")  # Ctrl-C reaches make's group; the kernel is stopped by it
    assert process.returncode != 0
    assert "error: interrupted; finished epochs are checkpointed" in output and "Traceback" not in output
    assert "kernel died" not in output
    wait_gone(kernels)  # training stopped: the kernel is gone, not training on unseen
    done = finished_epochs(run_dir)
    time.sleep(1)
    assert finished_epochs(run_dir) == done and not (run_dir / "summary.json").exists()
    # Resumed without Jupyter (RUNNER=python, faster): the checkpoint is the training code's, whichever runner.
    resumed = run.make("RUNNER=python")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"from its checkpoint after epoch {done}" in resumed.stdout


def test_a_kernel_killed_mid_run_gives_one_line_and_keeps_the_checkpoint(tmp_path, slow_images, profiles):
    run = Resumable(tmp_path / "out", slow_images, profiles)
    run_dir = run.run_dir
    process = run.start()
    # Only the kernel dies, as under the kernel's out-of-memory killer; make and papermill live on.
    # The kernel runs in a session of its own, as the child of papermill's process (`cli run`).
    kernels = kernel_pids(process)
    assert kernels, "no kernel process found under make's `cli run`"
    for pid in kernels:
        os.kill(pid, signal.SIGKILL)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0
    assert "error: run resnet18-seed0: its Jupyter kernel died" in output
    assert "Traceback" not in output, output
    assert not (run_dir / "summary.json").exists()
    wait_gone(kernels)
    done = finished_epochs(run_dir)
    # The README's advice, the same make command (without Jupyter here, which resumes the same way).
    resumed = run.make("RUNNER=python")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"from its checkpoint after epoch {done}" in resumed.stdout


def test_a_damaged_checkpoint_is_named_through_make_and_its_rm_command_restarts_the_run(tmp_path, images, profiles):
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    outputs = tmp_path / "out"
    planned = plan("pair", outputs, env, "--data", f"imagefolder:{images}")
    assert planned.returncode == 0, planned.stderr
    checkpoint = outputs / "pair" / "runs" / "resnet18-seed0" / "checkpoint.pt"
    checkpoint.write_bytes(b"half a checkpoint")
    done = make("PROFILE=pair", str(checkpoint.parent / "summary.json"), outputs=outputs, env=env)
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert done.returncode != 0 and len(errors) == 1 and "Traceback" not in done.stderr
    command = re.search(r"(rm \S+checkpoint\.pt)", errors[0])
    assert "is damaged" in errors[0] and command, errors[0]
    subprocess.run(command.group(1), shell=True, check=True)  # the README: the message gives the rm command
    again = make("PROFILE=pair", "RUNNER=python", str(checkpoint.parent / "summary.json"), outputs=outputs, env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert (checkpoint.parent / "summary.json").exists()
