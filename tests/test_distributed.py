"""One run over several processes (torchrun, DistributedDataParallel) on CPUs with gloo."""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from conftest import make_imagefolder, tiny_config
from processes import ROOT, finished_epochs, learning_history, make, plan, start_make, wait_for
from torch import nn

from archcompare.errors import TrainingError
from archcompare.record import read_record
from archcompare.training import train
from archcompare.training.device import autocast, memory_format
from archcompare.training.distributed import synchronise_batchnorm

quiet = dict(progress="none", log=lambda message: None)


def train_in_one_and_two_processes(tmp_path, **settings) -> dict:
    """The same tiny run (global batch 7: shares of 4 and 3 images) in one and in two processes, into p1/ and p2/."""
    images = make_imagefolder(tmp_path / "images", train_per_class=10, test_per_class=5, size=(16, 16))
    return {
        processes: train(
            tiny_config(
                images,
                tmp_path,
                batch_size=7,
                lr=1e-3,
                processes=processes,
                output_dir=str(tmp_path / f"p{processes}"),
                **settings,
            ),
            **quiet,
        )
        for processes in (1, 2)
    }


def test_two_processes_compute_what_one_process_computes_with_the_same_global_batch(tmp_path):
    """Same seed, same global batch (7: shares of 4 and 3 images), two epochs, in one and in two processes.

    The two differ only in the order of floating-point sums (all-reduced gradients and batch-norm
    statistics): measured, the first epoch's training loss agreed to every printed digit and the
    second's to 3e-4. Tolerance 2e-3 relative on every epoch's losses: a broken share of the work
    moves them further (per-process batch norm moved the first epoch's training loss by 1 %,
    unweighted losses of unequal shares by 0.5 %), and accuracies must be equal.
    """
    runs = train_in_one_and_two_processes(tmp_path, epochs=2)
    for one, two in zip(learning_history(tmp_path / "p1", None), learning_history(tmp_path / "p2", None), strict=True):
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
    # The record says what trained it.
    assert (runs[1].env.world_size, runs[1].env.nodes, runs[2].env.world_size, runs[2].env.nodes) == (1, 1, 2, 1)


def test_two_processes_agree_with_one_in_bf16_as_closely_as_bf16_agrees_with_fp32(tmp_path):
    """bf16, set explicitly (``auto`` is bf16 only on CPUs that compute it natively), with channels_last (the default).

    In bf16 the runs differ by more than the order of sums: each process's gradients of its share are
    rounded to bf16's 8 significant bits before the two are summed, where one process rounds the whole
    batch's once (up to 2^-8 = 0.4 % apart), and such differences compound with every step. Measured here
    (this config, first epoch, seeds 0 to 2): one against two processes 0.5 to 0.9 % apart in training
    loss and 0.1 to 1.0 % in test loss; one process in bf16 against fp32, 0.8 to 1.5 % and 0.2 to 0.4 %.
    Tolerance 3e-2 relative: twice bf16's own distance from fp32. One epoch only: after a second, at this
    size, the gaps grow past 5 % (before the fix, the two-process run stopped at its first step).
    """
    runs = train_in_one_and_two_processes(tmp_path, epochs=1, precision="bf16")
    assert runs[1].env.precision == runs[2].env.precision == "bf16"
    (one,), (two,) = learning_history(tmp_path / "p1", None), learning_history(tmp_path / "p2", None)
    for key in ("train_loss", "train_ce", "test_loss"):
        assert float(two[key]) == pytest.approx(float(one[key]), rel=3e-2), key
    assert (runs[2].env.world_size, runs[2].env.nodes) == (2, 1)


@pytest.mark.filterwarnings("ignore:torch.distributed.nn.functional.all_reduce is deprecated")
@pytest.mark.parametrize("channels_last", [True, False])
@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_cpu_sync_batchnorm_computes_what_batch_norm_computes_in_every_precision_and_layout(precision, channels_last):
    """In a group of one process the all-reduced statistics are the batch's own, so CpuSyncBatchNorm must compute
    what nn.BatchNorm2d computes under autocast: bf16 out for bf16 in, the same fp32 running statistics and
    gradients. Measured: bf16 outputs and the convolution's gradients identical, the rest within 5e-7 relative
    (its sums against batch norm's own algorithm); tolerance 1e-5."""
    import torch.distributed as dist

    device, layout = torch.device("cpu"), memory_format(channels_last)
    torch.manual_seed(0)
    plain = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 3))
    synced = synchronise_batchnorm(copy.deepcopy(plain), device)
    images = torch.randn(6, 3, 10, 10).mul(3).add(1).to(memory_format=layout)
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        normalized = []
        for model in (plain, synced):
            model.to(memory_format=layout).train()
            with autocast(device, precision):
                hidden = model[1](model[0](images))
                output = model[3](model[2](hidden))
            output.float().square().mean().backward()
            normalized.append(hidden)
    finally:
        dist.destroy_process_group()
    assert type(synced[1]).__name__ == "CpuSyncBatchNorm"
    assert normalized[1].dtype == normalized[0].dtype == {"fp32": torch.float32, "bf16": torch.bfloat16}[precision]
    assert normalized[1].is_contiguous(memory_format=layout)
    close = dict(rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(normalized[1], normalized[0], **close)
    for name in ("running_mean", "running_var"):
        torch.testing.assert_close(getattr(synced[1], name), getattr(plain[1], name), **close)
    for one, other in zip(synced.parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(one.grad, other.grad, **close)


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
    # Killed without an exception: the line keeps the exit code and signal, not the other rank's lost connection.
    assert len(errors) == 1 and re.search(
        r"a process of the 2-process run stopped \(exitcode\s*: -9 .*\); finished epochs", errors[0]
    ), errors
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


def test_a_workers_exception_reaches_the_error_line_with_its_type_and_message(tmp_path, monkeypatch):
    """A real failure in every worker: gloo told to use a network interface this machine lacks, as on a
    misconfigured cluster node. The error (the CLI's one line) says what the workers raised, from
    torch.distributed.elastic's error file, not torchrun's exit code (before: "exitcode : 1 (pid: ...)")."""
    images = make_imagefolder(tmp_path / "images", train_per_class=2, test_per_class=1, size=(8, 8))
    monkeypatch.setenv("GLOO_SOCKET_IFNAME", "no-such-interface")  # the launcher's environment is torchrun's
    with pytest.raises(TrainingError) as stopped:
        train(tiny_config(images, tmp_path, epochs=1, batch_size=4, processes=2), **quiet)
    message = str(stopped.value)
    assert re.search(r"run stopped \(RuntimeError: .*Unable to find address for: no-such-interface\); ", message)
    assert "exitcode" not in message and "\n" not in message


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("localhost", 0))
        return probe.getsockname()[1]


def test_a_run_started_by_torchrun_by_hand_records_the_processes_and_nodes_that_trained_it(tmp_path, profiles):
    """The Slurm recipe on one machine: two node agents (torchrun --nnodes=2, c10d rendezvous on localhost), one
    process each, for a planned run of a profile that asks for one process. The record's environment says
    2 processes on 2 nodes; its settings keep the profile's processes, which decide whether the run is current."""
    images = make_imagefolder(tmp_path / "images", train_per_class=4, test_per_class=2, size=(8, 8))
    env = {"ARCHCOMPARE_PROFILES": str(profiles)}
    planned = plan("pair", tmp_path / "out", env, "--data", f"imagefolder:{images}")
    assert planned.returncode == 0, planned.stderr
    run_dir = tmp_path / "out" / "pair" / "runs" / "resnet18-seed0"
    endpoint = f"localhost:{free_port()}"
    agent = [sys.executable, "-m", "torch.distributed.run", "--nnodes=2", "--nproc-per-node=1"]
    agent += ["--rdzv-backend=c10d", f"--rdzv-endpoint={endpoint}", "--rdzv-id=by-hand"]
    agent += ["-m", "archcompare.training.worker", "--run-dir", str(run_dir)]
    environment = {**os.environ, **env, "ARCHCOMPARE_OUTPUTS": str(tmp_path / "out")}
    agents = [
        subprocess.Popen(agent, cwd=ROOT, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for _ in range(2)
    ]
    outputs = [agent.communicate(timeout=240)[0] for agent in agents]
    assert [agent.returncode for agent in agents] == [0, 0], outputs
    record = read_record(run_dir / "summary.json")
    assert (record.env.world_size, record.env.nodes, record.config["processes"]) == (2, 2, 1)
    again = plan("pair", tmp_path / "out", env)
    assert "pair/resnet18-seed0: up to date" in again.stdout, again.stdout


def test_records_from_before_the_world_size_was_recorded_still_load():
    record = read_record(ROOT / "outputs" / "quick" / "runs" / "resnet50-seed0" / "summary.json")
    assert "world_size" not in json.loads((ROOT / "outputs/quick/runs/resnet50-seed0/summary.json").read_text())["env"]
    assert (record.env.world_size, record.env.nodes) == (None, None)


@pytest.mark.parametrize(
    "stopped",
    [
        # SIGTERM reached the survivor outside training: the default action.
        ("exitcode  : -15 (pid: 24877) (SIGTERM)", "traceback : Signal 15 (SIGTERM) received by PID 24877"),
        # Inside training, where SIGTERM stops like Ctrl-C and the worker exits with 130 (CI saw this order).
        (
            "exitcode  : 130 (pid: 24877)",
            "traceback : To enable traceback see: https://pytorch.org/docs/stable/elastic/errors.html",
        ),
    ],
    ids=["sigterm", "clean-stop"],
)
def test_the_error_line_names_the_killed_worker_not_the_one_torchrun_stopped_after_it(tmp_path, stopped):
    """torchrun's failure summary, as it printed it once a rank was killed: the survivor that torchrun then
    stopped listed first, the killed rank second. The line names the killed one (the kill test above saw
    either order, and the survivor exit with either code)."""
    from archcompare.training.distributed import _failure

    exitcode, traceback = stopped
    summary = f"""
    Failures:
    [1]:
      time      : 2026-12-04_22:20:01
      host      : box
      rank      : 1 (local_rank: 1)
      {exitcode}
      error_file: <N/A>
      {traceback}
    ------------------------------------------------------------
    Root Cause (first observed failure):
    [0]:
      time      : 2026-12-04_22:20:01
      host      : box
      rank      : 0 (local_rank: 0)
      exitcode  : -9 (pid: 24878) (SIGKILL)
      error_file: <N/A>
      traceback : Signal 9 (SIGKILL) received by PID 24878
    """.splitlines()
    assert _failure(summary, tmp_path / "no-error-file.json") == "exitcode  : -9 (pid: 24878) (SIGKILL)"
