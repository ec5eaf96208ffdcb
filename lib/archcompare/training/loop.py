"""The training loop: one config in, one run directory out.

Run directory (``config.output_dir``):
    history.csv      one row per finished epoch, rewritten as each epoch ends
    checkpoint.pt    model, optimizer, scheduler, epoch, history and RNG states after each epoch
                     (and every ``checkpoint_every`` steps inside a long epoch)
    predictions.npz  test labels and the final model's test-set probabilities
    summary.json     the run record (``archcompare.record``), written last: a run is complete
                     exactly when this file exists

The hot loop never waits for the device: loss and accuracy accumulate on the device and are read
once per epoch, augmentation parameters are drawn on the CPU and copied without a sync.
"""

from __future__ import annotations

import csv
import inspect
import io
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .. import execution
from ..config import RunConfig
from ..errors import NonFiniteLossError, TrainingError
from ..files import write_atomic
from ..interrupts import sigterm_as_keyboard_interrupt
from ..metrics import confusion_matrix, per_class_accuracy
from ..models import count_macs, count_parameters
from ..provenance import environment, now
from ..record import SCHEMA_VERSION, DataIdentity, Environment, RunRecord, Timing, write_record
from .checkpoint import restore_checkpoint, save_checkpoint
from .device import Timer, peak_memory_bytes
from .distributed import SINGLE, Ranks
from .evaluate import Evaluation, evaluate
from .run import EpochProgress, Run, epoch_batches, prepare_run
from .step import warm_up
from .steps import EagerSteps, make_steps

HISTORY_COLUMNS = (
    "epoch",
    "lr",
    "train_loss",  # the objective minimised: cross-entropy with the run's label smoothing
    "train_ce",  # plain cross-entropy on the training batches, comparable with test_loss
    "train_acc",
    "test_loss",
    "test_acc",
    "epoch_seconds",
    "images_per_second",
    "eval_seconds",
)
DIRECT_CALL = "archcompare.training.train"
# A checkpoint inside an epoch when the epoch is long: ImageNet's 5,005 steps at batch 256 take
# many minutes even on 8 GPUs; CIFAR's epochs (1,563 steps at batch 32, 98 at 512) checkpoint at their end.
LONG_EPOCH_STEPS = 2000
CHECKPOINT_STEPS = 1000


def train(
    config: RunConfig,
    *,
    resume: bool = True,
    progress: str = "auto",
    log: Callable[[str], None] = print,
    trained_by: str = DIRECT_CALL,
    step_mode: str = "auto",
    device_shared_by: int = 1,
    checkpoint_every: int | None = None,
    epoch_checkpoints: bool | None = None,
) -> RunRecord:
    """Train one run and write its run directory; returns its record.

    ``resume``: continue from the run directory's checkpoint when it was made with this same config.
    ``progress``: ``bar`` (tqdm), ``lines`` (one line per epoch, for logs and papermill),
    ``none``, or ``auto`` (a bar when interactive, else lines).
    ``trained_by``: what called this, for the record (the notebook, the no-Jupyter runner).
    ``step_mode``: ``auto`` (eager until captured steps have passed the GPU gate: ``execution``),
    ``eager`` or ``cuda-graph``; it changes the speed, not what is computed (``training.steps``).
    ``device_shared_by``: how many runs were let onto this device at once (``make GPUS=0,0``: 2); a
    run that shared its device is trained for accuracy, and its timing is compared with nothing.
    ``checkpoint_every``: also checkpoint every this many steps inside an epoch (0: at epochs' ends
    only; None: every ``CHECKPOINT_STEPS`` when an epoch has more than ``LONG_EPOCH_STEPS``). A run
    resumed from inside an epoch computes what an uninterrupted one does.
    ``epoch_checkpoints``: False writes no checkpoint at all (None: as the environment says,
    ``execution.epoch_checkpoints``; a lent GPU's session turns them off). Not a run setting: the
    run computes the same, and a stop starts it again from scratch.

    With ``config.processes`` above 1 the run is trained by that many processes under torchrun
    (``training.distributed``), whose output this streams to ``log``.
    """
    if progress not in ("auto", "bar", "lines", "none"):
        raise TrainingError(f"progress={progress!r} is not allowed: choose one of auto, bar, lines, none")
    if progress == "auto":
        progress = "bar" if _interactive() and config.processes == 1 else "lines"
    if checkpoint_every is not None and checkpoint_every < 0:
        raise TrainingError(f"checkpoint_every={checkpoint_every!r} is not allowed: it must be 0 or more")
    if epoch_checkpoints is None:
        epoch_checkpoints = execution.epoch_checkpoints()
    options = dict(
        resume=resume,
        progress=progress,
        trained_by=trained_by,
        step_mode=step_mode,
        device_shared_by=device_shared_by,
        checkpoint_every=checkpoint_every,
        epoch_checkpoints=epoch_checkpoints,
    )
    if config.processes > 1:
        from .distributed import launch

        return launch(config, options, log)
    return train_here(config, log=log, **options)


def train_here(
    config: RunConfig,
    *,
    resume: bool,
    progress: str,
    log: Callable[[str], None],
    trained_by: str,
    step_mode: str,
    device_shared_by: int,
    checkpoint_every: int | None = None,
    epoch_checkpoints: bool | None = None,
    ranks: Ranks = SINGLE,
) -> RunRecord:
    """``train`` in this process: the whole run, or this rank's part of a multi-process one.

    ``epoch_checkpoints``: as ``train``'s (None: as the environment says, ``execution.epoch_checkpoints``).
    """
    if epoch_checkpoints is None:
        epoch_checkpoints = execution.epoch_checkpoints()
    started = now()
    wall_start = time.perf_counter()
    log(f"run config:\n{config}")
    run = prepare_run(config, log, ranks=ranks)
    env = environment(run.device)  # at the start: the code that runs is the code checked out now
    out = Path(config.output_dir)
    checkpoint_path = out / "checkpoint.pt"
    if resume and checkpoint_path.exists() and restore_checkpoint(run, checkpoint_path, log):
        inside = run.epoch_progress
        where = f"step {inside.steps_done} of epoch {inside.epoch}" if inside else f"epoch {run.resumed_from_epoch}"
        log(f"resuming {out} from its checkpoint after {where} of {config.epochs}")
    elif ranks.main:
        for stale in ("summary.json", "predictions.npz", "history.csv", "checkpoint.pt"):
            (out / stale).unlink(missing_ok=True)  # a fresh run must not leave an earlier run's files
    ranks.barrier()  # every rank has read the checkpoint before any writes the next
    params = count_parameters(run.model)
    macs = count_macs(run.model, run.dataset.image_shape)
    log(
        f"{config.arch}: {params:,} parameters, {macs / 1e9:.2f} GMACs per image; "
        f"{run.device} {run.precision}; {len(run.dataset.train_labels):,} train / "
        f"{len(run.dataset.test_labels):,} test images of {run.dataset.num_classes} classes"
    )
    if run.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(run.device)
    model = torch.compile(run.model) if config.compile else run.model
    if ranks.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        # Batch norm's running statistics are the same on every rank (synchronised, or from the
        # same checkpoint), so DDP need not broadcast buffers before each forward pass.
        device_ids = [run.device.index] if run.device.type == "cuda" else None
        no_buffer_sync = (
            {"forward_sync_buffers": False}
            if "forward_sync_buffers" in inspect.signature(DistributedDataParallel).parameters
            else {"broadcast_buffers": False}  # its name before torch 2.13
        )
        model = DistributedDataParallel(model, device_ids=device_ids, **no_buffer_sync)
    # Evaluation needs no gradient all-reduce, and ranks evaluate unequal shares: the module itself.
    scorer = run.model if ranks.world > 1 else model

    if not epoch_checkpoints:
        checkpoint_every = 0
        log(f"no checkpoints ({execution.EPOCH_CHECKPOINTS_VARIABLE}=0): a stop starts this run again from scratch")
    elif checkpoint_every is None:
        checkpoint_every = CHECKPOINT_STEPS if run.steps_per_epoch > LONG_EPOCH_STEPS else 0
    saving = (lambda progress: save_checkpoint(run, checkpoint_path, progress)) if ranks.main else None

    final_eval, steps = None, None
    with sigterm_as_keyboard_interrupt():
        for epoch in range(len(run.history) + 1, config.epochs + 1):
            if steps is None:  # once per process, before the first timed step
                warm_up(run, model)
                steps = make_steps(run, model, step_mode, log)
                run.step_modes.append(steps.mode)
            try:
                row, final_eval = run_epoch(
                    run, model, scorer, steps, epoch, progress, checkpoint_every, saving, epoch_checkpoints
                )
            except KeyboardInterrupt:
                saved = run.epoch_progress
                where = f"step {saved.steps_done} of epoch {saved.epoch}" if saved else f"epoch {len(run.history)}"
                if epoch_checkpoints:
                    log(
                        f"interrupted during epoch {epoch}; the checkpoint after {where} is kept in "
                        f"{checkpoint_path}. Run again with resume=True (make report does) to continue from it."
                    )
                else:
                    log(f"interrupted during epoch {epoch}; no checkpoint was written: {execution.resume_hint()}")
                raise
            run.history.append(row)
            if ranks.main:
                write_history(out / "history.csv", run.history)
                if epoch_checkpoints:
                    save_checkpoint(run, checkpoint_path)
            if progress != "none":
                log(format_epoch(row, config.epochs))

    if final_eval is None:  # resumed after the last epoch: evaluate the restored model again
        final_eval = evaluate(run, scorer)
    # What trained it, which may differ from config.processes: torchrun started by hand (--run-dir) sets its own.
    env.update(trained_by=trained_by, device_shared_by=device_shared_by, world_size=ranks.world, nodes=ranks.nodes)
    record = build_record(run, final_eval, params, macs, env, started, time.perf_counter() - wall_start)
    if ranks.main:
        labels = run.dataset.test_labels.cpu().numpy()
        write_atomic(
            out / "predictions.npz",
            lambda f: np.savez_compressed(f, labels=labels, probabilities=final_eval.probabilities),
            binary=True,
        )
        write_record(out / "summary.json", record)
    ranks.barrier()  # the record is written before any process reports the run finished
    log(f"test accuracy {record.test_acc:.2%} after {config.epochs} epochs; wrote {out}")
    return record


def run_epoch(
    run: Run,
    model: nn.Module,
    scorer: nn.Module,
    steps: EagerSteps,
    epoch: int,
    progress: str,
    checkpoint_every: int = 0,
    save: Callable[[EpochProgress], None] | None = None,
    checkpointed: bool = True,
) -> tuple[dict[str, float], Evaluation]:
    """Train one epoch and evaluate: the epoch's history row and the evaluation.

    Every ``checkpoint_every`` steps (0: never) the part-done epoch is saved through ``save``
    (rank 0's; every rank takes part in summing the totals). ``checkpointed``: whether finished epochs
    are (what a stop keeps). A run restored from such a checkpoint
    finishes that epoch from the next step, with the steps done's totals and time.
    """
    config, device = run.config, run.device
    count = len(run.dataset.train_labels)
    resumed, run.epoch_progress = run.epoch_progress, None
    done = resumed.steps_done if resumed is not None else 0
    bar = _progress_bar(run.steps_per_epoch, f"epoch {epoch}/{config.epochs}") if progress == "bar" else None
    if bar is not None:
        bar.update(done)
    steps.start_epoch()
    if resumed is not None and run.ranks.main:  # the other ranks' shares are in rank 0's summed totals
        for total, value in zip((steps.loss_sum, steps.ce_sum, steps.correct), resumed.totals):
            total += value
    spent = resumed.seconds if resumed is not None else 0.0
    generator_state = run.generator.get_state()  # before the epoch draws its order: what a resume redraws
    timer = Timer(device)
    model.train()
    for step, batch in enumerate(epoch_batches(run, epoch, skip=done), start=done + 1):
        lr = steps.step(batch)
        if bar is not None:
            bar.update(1)
        if checkpoint_every and step % checkpoint_every == 0 and step < run.steps_per_epoch:
            totals = tuple(
                run.ranks.sum(total.clone()).item() for total in (steps.loss_sum, steps.ce_sum, steps.correct)
            )
            run.epoch_progress = EpochProgress(epoch, step, generator_state, totals, spent + timer.seconds())
            if save is not None:
                save(run.epoch_progress)
            run.ranks.barrier()
    run.epoch_progress = None
    train_seconds = spent + timer.seconds()  # every step of the epoch, and nothing else
    loss_sum, ce_sum, correct = steps.totals()
    train_loss = loss_sum.item() / count  # the epoch's one host synchronisation
    train_ce = ce_sum.item() / count
    train_acc = correct.item() / count
    if bar is not None:
        bar.set_postfix(loss=f"{train_loss:.3f}", acc=f"{train_acc:.1%}")
        bar.close()
    if not math.isfinite(train_loss):
        kept = f"the checkpoint after epoch {epoch - 1} is kept" if checkpointed else "no checkpoint was written"
        raise NonFiniteLossError(
            f"the training loss became {train_loss} in epoch {epoch}; the run stopped and {kept}. "
            f"Lower the learning rate (lr={config.lr}) or use precision='fp32'"
        )
    evaluation = evaluate(run, scorer)
    row = {
        "epoch": epoch,
        "lr": lr,  # at the epoch's last step
        "train_loss": train_loss,
        "train_ce": train_ce,
        "train_acc": train_acc,
        "test_loss": evaluation.loss,
        "test_acc": evaluation.accuracy,
        "epoch_seconds": train_seconds,
        "images_per_second": count / train_seconds if train_seconds > 0 else float("nan"),
        "eval_seconds": evaluation.seconds,
    }
    return row, evaluation


def build_record(
    run: Run, final: Evaluation, params: int, macs: int, env: dict[str, Any], started: str, wall_seconds: float
) -> RunRecord:
    config, dataset, history = run.config, run.dataset, run.history
    labels = dataset.test_labels.cpu().numpy()
    confusion = confusion_matrix(labels, final.probabilities.argmax(1), dataset.num_classes)
    best = max(history, key=lambda row: row["test_acc"])
    images_per_second = float(np.median([row["images_per_second"] for row in history]))
    spec = config.dataset_spec
    settings = {key: value for key, value in config.to_dict().items() if key not in ("output_dir", "data_dir")}
    return RunRecord(
        schema=SCHEMA_VERSION,
        arch=config.arch,
        seed=config.seed,
        epochs=len(history),
        config={**settings, "dataset": spec.portable},
        data=DataIdentity(
            kind=spec.kind,
            name=spec.name,
            fingerprint=dataset.fingerprint,
            classes=tuple(dataset.classes),
            train_images=len(dataset.train_labels),
            test_images=len(labels),
            image_shape=tuple(dataset.image_shape),
        ),
        params=params,
        macs=macs,
        # The headline is the final epoch's accuracy; choosing the best epoch on the test set would
        # select on the data used for evaluation.
        test_acc=history[-1]["test_acc"],
        test_loss=history[-1]["test_loss"],
        best_test_acc=best["test_acc"],
        best_epoch=best["epoch"],
        per_class_acc=tuple(per_class_accuracy(confusion).tolist()),
        confusion_matrix=tuple(tuple(row) for row in confusion.tolist()),
        timing=Timing(
            train_seconds=sum(row["epoch_seconds"] for row in history),
            # The time one epoch's training images take at the measured rate (the median epoch's):
            # warm-up happened before the clock started, and evaluation is timed apart.
            seconds_per_epoch=len(dataset.train_labels) / images_per_second,
            images_per_second=images_per_second,
            eval_images_per_second=len(labels) / final.seconds if final.seconds > 0 else None,
            wall_seconds=wall_seconds,
            peak_memory_bytes=peak_memory_bytes(run.device),
        ),
        env=Environment(
            **env,
            precision=run.precision,
            started=started,
            finished=now(),
            resumed_from_epoch=run.resumed_from_epoch,
            step_mode="+".join(dict.fromkeys(run.step_modes)) or "eager",
            loader="stream" if run.streamed else "memory",
        ),
    )


def write_history(path: Path, history: list[dict[str, float]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HISTORY_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    write_atomic(path, lambda f: f.write(buffer.getvalue()))


def format_epoch(row: dict[str, float], epochs: int) -> str:
    return (
        f"epoch {row['epoch']:>3}/{epochs}  lr {row['lr']:.4g}  "
        f"train loss {row['train_loss']:.4f} acc {row['train_acc']:.2%}  "
        f"test loss {row['test_loss']:.4f} acc {row['test_acc']:.2%}  "
        f"{row['epoch_seconds']:.1f}s  {row['images_per_second']:.1f} img/s"
    )


def _interactive() -> bool:
    if sys.stderr.isatty():
        return True
    shell = sys.modules.get("IPython")
    return bool(shell and getattr(shell, "get_ipython", lambda: None)())


def _progress_bar(total: int, description: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, leave=False, unit="step")
