"""Train one planned run directory: ``train.ipynb`` through papermill, or in this process without Jupyter."""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from ..config import RunConfig
from ..errors import PipelineError
from ..execution import resume_hint
from ..paths import TRAIN_NOTEBOOK, outputs_dir
from .locks import TRAINING, run_label, run_lock
from .notebooks import execute_notebook

GPUS_VARIABLE = "ARCHCOMPARE_GPUS"  # make GPUS=0,1,...: the GPU ids runs may be pinned to, one run per id
NOTEBOOK_RUNNER = "train.ipynb"
PYTHON_RUNNER = "archcompare.cli train (no notebook)"


def planned_parameters(directory: Path) -> dict:
    return yaml.safe_load((Path(directory) / "params.yaml").read_text())


@contextmanager
def gpu_slot() -> Iterator[int]:
    """Hold one of the GPU slots listed in ``ARCHCOMPARE_GPUS`` for as long as a run takes; yields the
    number of slots on that GPU (1 when no GPUs are listed).

    ``make -jN GPUS=0,1`` starts up to N runs; each takes the first slot no other run holds (a file
    lock per slot, released when its process ends, also when it is killed) and waits while every
    slot is taken. An id listed twice (``GPUS=0,0``) lets two runs share that GPU: trained for
    accuracy, their timings are not compared. The run's process, or its kernel, sees only its GPU:
    ``CUDA_VISIBLE_DEVICES`` is how CUDA is told, and it must be set before CUDA starts there.
    """
    ids = [gpu.strip() for gpu in os.environ.get(GPUS_VARIABLE, "").split(",") if gpu.strip()]
    if not ids:
        yield 1
        return
    from filelock import FileLock, Timeout

    locks = outputs_dir() / ".gpu-slots"
    locks.mkdir(parents=True, exist_ok=True)
    while True:
        for slot, gpu in enumerate(ids):
            lock = FileLock(locks / (re.sub(r"[^\w.-]", "_", gpu) + f".{slot}.lock"))
            try:
                lock.acquire(timeout=0)
            except Timeout:
                continue
            previous = os.environ.get("CUDA_VISIBLE_DEVICES")
            os.environ["CUDA_VISIBLE_DEVICES"] = gpu
            try:
                yield ids.count(gpu)
            finally:
                if previous is None:
                    os.environ.pop("CUDA_VISIBLE_DEVICES", None)
                else:
                    os.environ["CUDA_VISIBLE_DEVICES"] = previous
                lock.release()
            return
        time.sleep(1)


def train_without_jupyter(directory: Path) -> None:
    """Train one planned run directory in this process: the same files as ``execute_run`` but the notebook.

    For cluster workers and schedulers without Jupyter; the report marks runs trained this way.
    """
    from ..training import train

    directory = Path(directory)
    with run_lock(directory, TRAINING) as waited:
        parameters = planned_parameters(directory)
        config = RunConfig.from_parameters(parameters)
        if _trained_meanwhile(directory, waited, config):
            return
        with gpu_slot() as shared_by:
            record = train(
                config,
                resume=parameters["resume"],
                progress=parameters["progress"],
                trained_by=PYTHON_RUNNER,
                step_mode=parameters.get("step_mode", "auto"),
                device_shared_by=shared_by,
            )
    print(
        f"{record.arch}, seed {record.seed}: test accuracy {record.test_acc:.2%}, "
        f"{record.timing.seconds_per_epoch:.1f} s per epoch"
    )


def execute_run(directory: Path) -> None:
    """Execute ``train.ipynb`` for one planned run; the executed notebook lands only on success."""
    directory = Path(directory)
    # The run's lock before a GPU slot: a process waiting for another's run holds no GPU.
    with run_lock(directory, TRAINING) as waited:
        if _trained_meanwhile(directory, waited):
            return
        with gpu_slot() as shared_by:
            _execute_train_notebook(directory, shared_by)


def _trained_meanwhile(directory: Path, waited: bool, config: RunConfig | None = None) -> bool:
    """Whether another process finished this run (as planned now) since Make decided to train it.

    Judged as ``plan`` judges a run, so a run another process trained with other settings is trained again.
    ``config``: the run's, when the caller has read its ``params.yaml`` (else read here, when needed).
    """
    if not (directory / "summary.json").exists():
        return False
    from .plan import stale_reason

    if config is None:
        config = RunConfig.from_parameters(planned_parameters(directory))
    if stale_reason(directory, config):
        return False
    source = "the process it waited for" if waited else "another process"
    print(f"{run_label(directory)}: trained by {source}, as planned; using its result")
    return True


def _execute_train_notebook(directory: Path, shared_by: int) -> None:
    import papermill
    from nbclient.exceptions import DeadKernelError

    partial = directory / ".train.partial.ipynb"
    failed = directory / "train.failed.ipynb"
    failed.unlink(missing_ok=True)
    try:
        parameters = {**planned_parameters(directory), "device_shared_by": shared_by}
        execute_notebook(TRAIN_NOTEBOOK, partial, parameters, log_output=True)
    except BaseException as error:
        if partial.exists():
            os.replace(partial, failed)
        if isinstance(error, papermill.PapermillExecutionError):
            raise PipelineError(
                f"run {directory.name} failed: {error.ename}: {error.evalue} (notebook: {failed})"
            ) from None
        if isinstance(error, DeadKernelError):
            raise PipelineError(
                f"run {directory.name}: its Jupyter kernel died before the run finished (killed, or out of memory); "
                + resume_hint()
            ) from None
        raise
    os.replace(partial, directory / "train.ipynb")
    if not (directory / "summary.json").exists():
        raise PipelineError(f"run {directory.name} finished without writing summary.json")
