"""Interrupted training through make: Ctrl-C, SIGTERM, a dead kernel, a power cut and a damaged
checkpoint; each stops cleanly, says what to do, and the run resumes from its checkpoint.

The four interruptions happen to one run, one after another, each after the resumed run has
trained a further epoch: every stop is checked on its own, every start after one must resume where
the stop left off, and the run they end with must have learned what an uninterrupted run learns.
(One chain instead of four runs: each make starts Python processes that import torch, and the
suite's time goes mostly there. For the same reason the stops that Jupyter plays no part in train
without it, RUNNER=python, which also shows that a checkpoint resumes whichever runner wrote it.)
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from conftest import RESUMABLE_EPOCHS
from processes import (
    finished_epochs,
    inode,
    kernel_pids,
    kill_group,
    learning_history,
    make,
    plan,
    start_make,
    wait_for,
    wait_gone,
)


def start_and_wait_for_a_new_epoch(args, outputs: Path, env: dict, run_dir: Path) -> subprocess.Popen:
    """`make runs` started in its own process group; returns once it has checkpointed a further epoch.

    Checkpoints are renamed over the old file (a new inode), so a new inode is a new epoch.
    """
    checkpoint = run_dir / "checkpoint.pt"
    before = inode(checkpoint)
    process = start_make(*args, outputs=outputs, env=env)
    wait_for(checkpoint, process, replacing=before)
    return process


def assert_stopped_and_resumable(run_dir: Path, done_before: int) -> int:
    """No record of a finished run; the checkpoint holds more epochs than before and no longer changes."""
    assert not (run_dir / "summary.json").exists()
    done = finished_epochs(run_dir)
    assert done_before < done < RESUMABLE_EPOCHS, (done_before, done)
    time.sleep(0.5)
    assert finished_epochs(run_dir) == done  # nothing trains on
    return done


def test_a_run_stopped_by_ctrl_c_sigterm_a_dead_kernel_and_a_power_cut_resumes_each_time_and_learns_what_an_uninterrupted_run_does(
    tmp_path, slow_images, profiles
):
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    outputs = tmp_path / "out"
    args = ("runs", "PROFILE=resumable", f"DATA=imagefolder:{slow_images}")
    run_dir = outputs / "resumable" / "runs" / "resnet18-seed0"

    def resumes_from(output: str, done: int) -> bool:
        return f"from its checkpoint after epoch {done} of {RESUMABLE_EPOCHS}" in output

    # Ctrl-C reaches make's process group; the kernel is stopped by it, not killed.
    process = start_and_wait_for_a_new_epoch(args, outputs, env, run_dir)
    kernels = kernel_pids(process)
    assert kernels, "no kernel process found under make's `cli run`"
    output = kill_group(process, signal.SIGINT, kernels="leave")
    assert process.returncode != 0
    assert "error: interrupted; finished epochs are checkpointed" in output and "Traceback" not in output, output
    assert "kernel died" not in output
    wait_gone(kernels)  # training stopped: the kernel is gone, not training on unseen
    done = assert_stopped_and_resumable(run_dir, 0)

    # SIGTERM (a scheduler's stop) of a run trained without Jupyter: the same clean stop. The start
    # before it resumed where Ctrl-C left off.
    process = start_and_wait_for_a_new_epoch((*args, "RUNNER=python"), outputs, env, run_dir)
    output = kill_group(process, signal.SIGTERM, kernels="leave")
    assert process.returncode != 0 and resumes_from(output, done), output
    assert "error: interrupted; finished epochs are checkpointed" in output and "Traceback" not in output, output
    done = assert_stopped_and_resumable(run_dir, done)

    # Only the kernel dies, as under the out-of-memory killer; make and papermill live on and say so in one line.
    # The kernel runs in a session of its own, as the child of papermill's process (`cli run`).
    process = start_and_wait_for_a_new_epoch(args, outputs, env, run_dir)
    kernels = kernel_pids(process)
    assert kernels
    for pid in kernels:
        os.kill(pid, signal.SIGKILL)
    output, _ = process.communicate(timeout=120)
    assert process.returncode != 0 and resumes_from(output, done), output
    assert "error: run resnet18-seed0: its Jupyter kernel died" in output and "Traceback" not in output, output
    wait_gone(kernels)
    done = assert_stopped_and_resumable(run_dir, done)

    # A power cut: make and the training process killed at once, with no chance to clean up.
    process = start_and_wait_for_a_new_epoch((*args, "RUNNER=python"), outputs, env, run_dir)
    kill_group(process, signal.SIGKILL)
    done = assert_stopped_and_resumable(run_dir, done)

    # The README's advice after each: the same make command (here without Jupyter, which resumes the same way).
    resumed = make(*args, "RUNNER=python", outputs=outputs, env=env)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert resumes_from(resumed.stdout, done), resumed.stdout

    # The same run uninterrupted, trained as `make runs RUNNER=python` trains it (cli train), in this process.
    from archcompare import cli

    whole = tmp_path / "whole"
    assert plan("resumable", whole, env, "--data", f"imagefolder:{slow_images}").returncode == 0
    assert cli.main(["train", str(whole / "resumable" / "runs" / "resnet18-seed0")]) in (0, None)
    assert learning_history(run_dir) == learning_history(whole / "resumable" / "runs" / "resnet18-seed0")


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
