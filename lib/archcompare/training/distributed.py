"""One run over several processes: torchrun, DistributedDataParallel, batch norm synchronised.

Laid out as torchvision's ``references/classification`` does it: torchrun starts one process per
device (``--nproc-per-node``, NCCL on GPUs, gloo on CPUs); each reads its place from ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK``; batch norm is converted before the DDP wrap; only rank 0 writes
files; evaluation gathers every rank's share of the test set, which covers it exactly once.

What one run of N processes computes, against one process with the same global batch: every rank
draws the same epoch permutation and augmentation choices from the run's seed and takes its own
contiguous share of each global batch; gradients are averaged over ranks, and a rank's loss is
weighted by its share of the batch, so that the averaged gradient is the whole batch's mean (also
for an epoch's last, unevenly split batch); batch norm takes its statistics over the whole batch.
Only the order of floating-point sums differs from one process.

``train`` (``training.loop``) launches ``training.worker`` under torchrun when ``config.processes > 1``
and streams its output; ``training.worker`` is what each process runs.
"""

from __future__ import annotations

import collections
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from ..errors import TrainingError
from ..execution import resume_hint
from ..interrupts import INTERRUPTED_EXIT_CODE


@dataclass(frozen=True)
class Ranks:
    """This process's place in a run: rank 0 of 1 unless torchrun started it."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    nodes: int = 1  # the machines (torchrun's node agents) the processes run on

    @property
    def main(self) -> bool:
        """Whether this process writes the run's files and logs."""
        return self.rank == 0

    def share(self, items: torch.Tensor) -> torch.Tensor:
        """This rank's contiguous share of a batch (sizes differ by at most one)."""
        return items if self.world == 1 else torch.tensor_split(items, self.world)[self.rank]

    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The tensor summed over ranks (in place)."""
        if self.world > 1:
            dist.all_reduce(tensor)
        return tensor

    def gather(self, value):
        """Every rank's ``value``, in rank order."""
        if self.world == 1:
            return [value]
        values = [None] * self.world
        dist.all_gather_object(values, value)
        return values

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()


SINGLE = Ranks()


# torch 2.14 marks the differentiable all_reduce as deprecated in favour of a private module; it is
# still the public, documented way to all-reduce with gradients.
warnings.filterwarnings("ignore", message="torch.distributed.nn.functional.all_reduce is deprecated")


class CpuSyncBatchNorm(nn.BatchNorm2d):
    """Batch norm whose training statistics cover every process's share of the batch, on CPUs (gloo).

    torch's ``nn.SyncBatchNorm`` (used on GPUs) accepts only GPU tensors. This computes the same
    statistics from per-channel sums all-reduced with torch.distributed.nn's differentiable
    all_reduce, so gradients flow through them as through SyncBatchNorm's.

    Under bf16 autocast its input is bf16 (the convolution before it ran in bf16). As
    ``nn.BatchNorm2d`` does on a CPU, it takes the statistics in fp32, updates its fp32 running
    buffers, and returns the input's dtype; in fp32 the casts do nothing.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        from torch.distributed.nn.functional import all_reduce

        values = x.float()  # bf16's 8-bit mantissa cannot hold sums over thousands of values
        channels = values.shape[1]
        count = torch.full((1,), values.numel() / channels, dtype=values.dtype, device=values.device)
        stats = all_reduce(torch.cat([values.sum((0, 2, 3)), (values * values).sum((0, 2, 3)), count]))
        n = stats[-1].detach()
        mean = stats[:channels] / n
        var = stats[channels : 2 * channels] / n - mean * mean
        with torch.no_grad():
            self.num_batches_tracked += 1
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * n / (n - 1), self.momentum)
        shape = (1, channels, 1, 1)
        normalized = (values - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return (normalized * self.weight.view(shape) + self.bias.view(shape)).to(x.dtype)


def synchronise_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Batch norm with statistics over every process: torch's SyncBatchNorm on GPUs, CpuSyncBatchNorm on CPUs."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for name, child in model.named_children():
        if isinstance(child, nn.BatchNorm2d) and not isinstance(child, CpuSyncBatchNorm):
            synced = CpuSyncBatchNorm(child.num_features, child.eps, child.momentum, child.affine)
            synced.load_state_dict(child.state_dict())
            setattr(model, name, synced)
        else:
            synchronise_batchnorm(child, device)
    return model


# --- the launcher: train() with processes > 1 ------------------------------------------------------


def launch(config, options: dict, log: Callable[[str], None]):
    """Train ``config`` in ``config.processes`` processes under torchrun; stream their output to ``log``.

    Returns the run's record, as rank 0 wrote it. A process that dies stops the run with one line;
    the checkpoint of the last finished epoch stays, and the same call resumes from it.
    """
    from ..record import read_record

    if config.device != "cpu" and torch.cuda.is_available() and torch.cuda.device_count() < config.processes:
        raise TrainingError(
            f"processes={config.processes} asks for one GPU per process, but this machine has "
            f"{torch.cuda.device_count()}"
        )
    payload = json.dumps({"config": config.to_dict(), "options": options})
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc-per-node={config.processes}",
        "-m",
        "archcompare.training.worker",
        "--payload",
        payload,
    ]
    log(f"training in {config.processes} processes: torchrun --standalone --nproc-per-node={config.processes}")
    with tempfile.TemporaryDirectory(prefix="archcompare-torchrun-") as scratch:
        # torch.distributed.elastic's error files: each worker's @record (training.worker) writes its
        # exception to the file torchrun names for it, and torchrun's own @record copies the first
        # failed worker's file to the one named here (https://pytorch.org/docs/stable/elastic/errors.html).
        error_file = Path(scratch) / "error.json"
        environment = {**os.environ, "TORCHELASTIC_ERROR_FILE": str(error_file)}
        # The workers' log lines (rank 0 prints them) go to stdout and are streamed as they come; their
        # warnings and tracebacks go to stderr, kept aside: a failure's exit code or signal is there.
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
        errors: collections.deque[str] = collections.deque(maxlen=200)
        reader = threading.Thread(target=lambda: errors.extend(process.stderr), daemon=True)
        reader.start()
        try:
            for line in process.stdout:
                log(line.rstrip("\n"))
            process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGTERM)  # torchrun stops its workers, which keep their checkpoint
            process.wait()
            raise
        reader.join(timeout=10)
        if process.returncode != 0:
            # As the loop's own stop messages: a lent GPU's session writes no per-epoch checkpoint.
            where = f" (in {Path(config.output_dir) / 'checkpoint.pt'})" if options["epoch_checkpoints"] else ""
            raise TrainingError(
                f"a process of the {config.processes}-process run stopped ({_failure(list(errors), error_file)}); "
                f"{resume_hint()}{where}"
            )
    return read_record(Path(config.output_dir) / "summary.json")


def _failure(lines: list[str], error_file: Path) -> str:
    """Why the run stopped: a worker that died without an exception (killed: its exit code or signal), else
    the first failed worker's exception (its type and message, from torch.distributed.elastic's error file),
    else torchrun's most telling line.

    A worker that died without an exception comes first: when one is killed, the others can fail with
    an exception of their own (a closed connection), which torchrun may observe first.
    """
    lines = [re.sub(r"^\[rank\d+\]:\s*", "", line.strip()) for line in lines if line.strip()]
    # torchrun's failure summary gives each failed worker an "exitcode : ..." line, then its error file,
    # "<N/A>" when the worker wrote none: it died without an exception. Once one worker has failed,
    # torchrun stops the others with SIGTERM, and its summary lists them too, in no fixed order (its
    # "root cause" is the earliest by a timestamp in whole seconds). A stopped worker exits with -15
    # (SIGTERM arrived outside training) or 130 (inside it, where SIGTERM stops like Ctrl-C: worker.py).
    # The worker that died otherwise (SIGKILL, the OOM killer, a crash) is what stopped the run.
    killed = [
        exitcode
        for exitcode, error in zip(lines, lines[1:])
        if exitcode.startswith("exitcode") and re.fullmatch(r"error_file\s*:\s*<N/A>", error)
    ]
    if killed:
        return next((exitcode for exitcode in killed if not _stopped_by_torchrun(exitcode)), killed[0])
    exception = _worker_exception(error_file)
    if exception:
        return exception
    for line in reversed(lines):
        if line.startswith("archcompare.errors.") or line.startswith("exitcode"):
            return line
    for line in reversed(lines):
        if "Error" in line.split(":")[0]:
            return line
    return f"torchrun exited without an error message (last line: {lines[-1][:200]!r})" if lines else "no output"


def _stopped_by_torchrun(exitcode_line: str) -> bool:
    """Whether torchrun's "exitcode : N (pid: ...)" line is a worker it stopped itself with SIGTERM."""
    code = re.match(r"exitcode\s*:\s*(-?\d+)", exitcode_line)
    return code is not None and int(code.group(1)) in (-signal.SIGTERM, INTERRUPTED_EXIT_CODE)


def _worker_exception(error_file: Path) -> str | None:
    """The first line of the exception a worker recorded ("RuntimeError: ..."), or None when none did."""
    try:
        recorded = json.loads(error_file.read_text())["message"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    message = recorded["message"] if isinstance(recorded, dict) else recorded
    first = next((line.strip() for line in str(message).splitlines() if line.strip()), "")
    return first[:500] or None
