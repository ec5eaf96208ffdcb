"""The training loop: one config in, one run directory out.

Run directory (``config.output_dir``):
    history.csv      one row per finished epoch, rewritten as each epoch ends
    checkpoint.pt    model, optimizer, scheduler, epoch, history and RNG states after each epoch
    predictions.npz  test labels and the final model's test-set probabilities
    summary.json     the run record (``archcompare.record``), written last: a run is complete
                     exactly when this file exists

The hot loop never waits for the device: loss and accuracy accumulate on the device and are read
once per epoch, augmentation parameters are drawn on the CPU and copied without a sync.
"""

from __future__ import annotations

import csv
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
from .evaluate import Evaluation, evaluate
from .run import Run, epoch_batches, prepare_run
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


def train(
    config: RunConfig,
    *,
    resume: bool = True,
    progress: str = "auto",
    log: Callable[[str], None] = print,
    trained_by: str = DIRECT_CALL,
    step_mode: str = "auto",
    device_shared_by: int = 1,
) -> RunRecord:
    """Train one run and write its run directory; returns its record.

    ``resume``: continue from the run directory's checkpoint when it was made with this same config.
    ``progress``: ``bar`` (tqdm), ``lines`` (one line per epoch, for logs and papermill),
    ``none``, or ``auto`` (a bar when interactive, else lines).
    ``trained_by``: what called this, for the record (the notebook, the no-Jupyter runner).
    ``step_mode``: ``auto`` (a CUDA graph on a GPU, eager elsewhere), ``eager`` or ``cuda-graph``;
    it changes the speed, not what is computed (``training.steps``).
    ``device_shared_by``: how many runs were let onto this device at once (``make GPUS=0,0``: 2); a
    run that shared its device is trained for accuracy, and its timing is compared with nothing.
    """
    if progress not in ("auto", "bar", "lines", "none"):
        raise TrainingError(f"progress={progress!r} is not allowed: choose one of auto, bar, lines, none")
    if progress == "auto":
        progress = "bar" if _interactive() else "lines"
    started = now()
    wall_start = time.perf_counter()
    log(f"run config:\n{config}")
    run = prepare_run(config, log)
    env = environment(run.device)  # at the start: the code that runs is the code checked out now
    out = Path(config.output_dir)
    checkpoint_path = out / "checkpoint.pt"
    if resume and checkpoint_path.exists() and restore_checkpoint(run, checkpoint_path, log):
        log(f"resuming {out} from its checkpoint after epoch {run.resumed_from_epoch} of {config.epochs}")
    else:
        for stale in ("summary.json", "predictions.npz", "history.csv", "checkpoint.pt"):
            (out / stale).unlink(missing_ok=True)  # a fresh run must not leave an earlier run's files
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

    final_eval, steps = None, None
    with sigterm_as_keyboard_interrupt():
        for epoch in range(len(run.history) + 1, config.epochs + 1):
            if steps is None:  # once per process, before the first timed step
                warm_up(run, model)
                steps = make_steps(run, model, step_mode, log)
                run.step_modes.append(steps.mode)
            try:
                row, final_eval = run_epoch(run, model, steps, epoch, progress)
            except KeyboardInterrupt:
                done = len(run.history)
                log(
                    f"interrupted during epoch {epoch}; the checkpoint after epoch {done} is kept in "
                    f"{checkpoint_path}. Run again with resume=True (make report does) to continue from it."
                )
                raise
            run.history.append(row)
            write_history(out / "history.csv", run.history)
            save_checkpoint(run, checkpoint_path)
            if progress != "none":
                log(format_epoch(row, config.epochs))

    if final_eval is None:  # resumed after the last epoch: evaluate the restored model again
        final_eval = evaluate(run, model)
    env.update(trained_by=trained_by, device_shared_by=device_shared_by)
    record = build_record(run, final_eval, params, macs, env, started, time.perf_counter() - wall_start)
    labels = run.dataset.test_labels.cpu().numpy()
    write_atomic(
        out / "predictions.npz",
        lambda f: np.savez_compressed(f, labels=labels, probabilities=final_eval.probabilities),
        binary=True,
    )
    write_record(out / "summary.json", record)
    log(f"test accuracy {record.test_acc:.2%} after {config.epochs} epochs; wrote {out}")
    return record


def run_epoch(
    run: Run, model: nn.Module, steps: EagerSteps, epoch: int, progress: str
) -> tuple[dict[str, float], Evaluation]:
    """Train one epoch and evaluate: the epoch's history row and the evaluation."""
    config, device = run.config, run.device
    count = len(run.dataset.train_labels)
    bar = _progress_bar(run.steps_per_epoch, f"epoch {epoch}/{config.epochs}") if progress == "bar" else None
    steps.start_epoch()
    timer = Timer(device)
    model.train()
    for index, augmentation in epoch_batches(run):
        lr = steps.step(index, augmentation)
        if bar is not None:
            bar.update(1)
    train_seconds = timer.seconds()  # every step of the epoch, and nothing else
    loss_sum, ce_sum, correct = steps.totals()
    train_loss = loss_sum.item() / count  # the epoch's one host synchronisation
    train_ce = ce_sum.item() / count
    train_acc = correct.item() / count
    if bar is not None:
        bar.set_postfix(loss=f"{train_loss:.3f}", acc=f"{train_acc:.1%}")
        bar.close()
    if not math.isfinite(train_loss):
        raise NonFiniteLossError(
            f"the training loss became {train_loss} in epoch {epoch}; the run stopped and the checkpoint "
            f"after epoch {epoch - 1} is kept. Lower the learning rate (lr={config.lr}) or use precision='fp32'"
        )
    evaluation = evaluate(run, model)
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
