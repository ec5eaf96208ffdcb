"""The training loop: one config in, one run directory out.

Run directory (``config.output_dir``):
    history.csv      one row per finished epoch, rewritten as each epoch ends
    checkpoint.pt    model, optimizer, scheduler, epoch, history and RNG states after each epoch
    predictions.npz  test labels and the final model's test-set probabilities
    summary.json     written last: a run is complete exactly when this file exists

The hot loop never waits for the device: loss and accuracy accumulate on the device and are read
once per epoch, augmentation parameters are drawn on the CPU and copied without a sync.
"""

from __future__ import annotations

import csv
import io
import math
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from copy import deepcopy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import data as datamod
from .config import ArchCompareError, RunConfig
from .metrics import confusion_matrix, per_class_accuracy
from .models import build_model, count_macs, count_parameters
from .provenance import code_fingerprint, environment, now, write_atomic, write_json

EVAL_BATCH_SIZE = 500  # inference only: large batches keep the device busy without affecting results
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


class TrainingError(ArchCompareError):
    """A run cannot start or continue."""


class NonFiniteLossError(TrainingError):
    """The training loss became NaN or infinite."""


class CheckpointError(TrainingError):
    """A checkpoint exists but cannot be read."""


# --- device, precision, schedule --------------------------------------------------------------


def resolve_device(name: str) -> torch.device:
    if name == "cuda" and not torch.cuda.is_available():
        raise TrainingError(
            "device='cuda' was asked for, but torch sees no CUDA GPU on this machine; "
            "use device='auto' (the GPU when there is one) or device='cpu'"
        )
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` picks bf16 where the hardware computes it natively, where it about doubles speed."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    native_bf16 = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    return "bf16" if native_bf16 else "fp32"


AUTOCAST_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def autocast(device: torch.device, precision: str):
    if precision == "fp32":
        return nullcontext()
    return torch.autocast(device.type, dtype=AUTOCAST_DTYPES[precision])


# OneCycle follows torch.optim.lr_scheduler.OneCycleLR with its defaults (Smith & Topin 2017):
# cosine rise over 30 % of the steps from lr/25 to lr, cosine fall to lr/25e4, reached at the last
# step. One difference: momentum stays at the configured value (OneCycleLR's cycle_momentum=False),
# so a profile's `momentum` means the same under every schedule.
ONECYCLE_RISE_FRACTION = 0.3  # OneCycleLR's pct_start
ONECYCLE_START_DIVISOR = 25.0  # OneCycleLR's div_factor
ONECYCLE_END_DIVISOR = 25.0e4  # div_factor x final_div_factor (1e4)
STEP_MILESTONES = (0.5, 0.75)  # step schedule: lr x0.1 at half and at three quarters of training
STEP_GAMMA = 0.1


def _cosine(start: float, end: float, fraction: float) -> float:
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * fraction))


def lr_factor(step: int, total_steps: int, warmup_steps: int, schedule: str) -> float:
    """The learning rate at optimizer step ``step`` (0 .. total_steps - 1) as a fraction of the peak rate."""
    progress = step / max(total_steps, 1)
    if schedule == "onecycle":
        # OneCycleLR's phase ends: the peak at step rise_end, the final rate at the last step.
        rise_end = float(warmup_steps or ONECYCLE_RISE_FRACTION * total_steps) - 1
        last = total_steps - 1
        start, end = 1 / ONECYCLE_START_DIVISOR, 1 / ONECYCLE_END_DIVISOR
        if step <= rise_end:
            return _cosine(start, 1.0, step / rise_end) if rise_end > 0 else 1.0
        return _cosine(1.0, end, min((step - rise_end) / (last - rise_end), 1.0))
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        return STEP_GAMMA ** sum(progress >= milestone for milestone in STEP_MILESTONES)
    if schedule == "cosine":
        after_warmup = (step - warmup_steps) / max(total_steps - warmup_steps, 1)
        return 0.5 * (1 + math.cos(math.pi * min(after_warmup, 1.0)))
    raise ValueError(f"unknown schedule {schedule!r}")


def build_optimizer(model: nn.Module, config: RunConfig, device: torch.device) -> torch.optim.Optimizer:
    # On CUDA the fused kernels update every parameter in a few launches (the same arithmetic as
    # the default for-each path), which matters at small batches, where launches dominate.
    fused = True if device.type == "cuda" else None
    if config.optimizer == "sgd":
        return torch.optim.SGD(
            model.parameters(),
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.nesterov,
            weight_decay=config.weight_decay,
            fused=fused,
        )
    return torch.optim.AdamW(
        model.parameters(),
        lr=config.lr,
        betas=(config.momentum, 0.999),
        weight_decay=config.weight_decay,
        fused=fused,
    )


# --- the run --------------------------------------------------------------------------------


@dataclass
class Run:
    """Everything a training run holds in memory; what a checkpoint saves and restores."""

    config: RunConfig
    device: torch.device
    precision: str
    dataset: datamod.Dataset
    mean: torch.Tensor
    std: torch.Tensor
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    generator: torch.Generator  # shuffling and augmentation; CPU, so every device draws the same
    history: list[dict[str, float]] = field(default_factory=list)
    resumed_from_epoch: int | None = None


def prepare_run(config: RunConfig, log: Callable[[str], None] = print, dataset: datamod.Dataset | None = None) -> Run:
    """Everything before the first step: device, data, model, optimizer (validated, in that order).

    ``dataset`` replaces loading ``config.dataset`` (the benchmark passes generated images).
    """
    device = resolve_device(config.device)
    precision = resolve_precision(config.precision, device)
    check_writable(Path(config.output_dir))
    configure_determinism(config.deterministic, device)

    if dataset is None:
        dataset = datamod.load_dataset(config.dataset, config.data_dir, log=log)
    dataset = datamod.stratified_subset(dataset, config.train_per_class, config.test_per_class)
    mean, std = datamod.normalization_stats(config.recipe, dataset.train_images)
    dataset = dataset.to(device)  # the whole dataset stays resident as uint8 (150 MB for CIFAR-10)

    torch.manual_seed(config.seed)
    model = build_model(config.arch, dataset.num_classes, config.stem, in_channels=dataset.image_shape[0])
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    model = model.to(device=device, memory_format=memory_format)
    optimizer = build_optimizer(model, config, device)
    steps_per_epoch = math.ceil(len(dataset.train_labels) / config.batch_size)
    total_steps = config.epochs * steps_per_epoch
    warmup_steps = round(config.warmup_epochs * steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_factor(step, total_steps, warmup_steps, config.schedule)
    )
    # Loss scaling is needed for fp16 only; bf16 has fp32's exponent range.
    scaler = torch.amp.GradScaler(device.type, enabled=precision == "fp16")
    generator = torch.Generator().manual_seed(config.seed)
    return Run(config, device, precision, dataset, mean, std, model, optimizer, scheduler, scaler, generator)


def check_writable(directory: Path) -> None:
    try:
        directory.mkdir(parents=True, exist_ok=True)
        probe = directory / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise TrainingError(f"output_dir {str(directory)!r} cannot be written: {error.strerror or error}") from None


def configure_determinism(deterministic: bool, device: torch.device) -> None:
    torch.use_deterministic_algorithms(deterministic, warn_only=True)
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = deterministic
        torch.backends.cudnn.benchmark = not deterministic  # autotuned kernels may differ run to run
        torch.backends.cuda.matmul.allow_tf32 = not deterministic
        torch.backends.cudnn.allow_tf32 = not deterministic


def train(
    config: RunConfig,
    *,
    resume: bool = True,
    progress: str = "auto",
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Train one run and write its run directory; returns the summary.

    ``resume``: continue from the run directory's checkpoint when it was made with this same config.
    ``progress``: ``bar`` (tqdm), ``lines`` (one line per epoch, for logs and papermill),
    ``none``, or ``auto`` (a bar when interactive, else lines).
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

    final_eval = None
    with _signals_as_keyboard_interrupt():
        for epoch in range(len(run.history) + 1, config.epochs + 1):
            try:
                row, final_eval = _run_epoch(run, model, epoch, progress)
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
    summary = build_summary(run, final_eval, params, macs, env, started, time.perf_counter() - wall_start)
    labels = run.dataset.test_labels.cpu().numpy()
    write_atomic(
        out / "predictions.npz",
        lambda f: np.savez_compressed(f, labels=labels, probabilities=final_eval.probabilities),
        binary=True,
    )
    write_json(out / "summary.json", summary)
    log(f"test accuracy {summary['test_acc']:.2%} after {config.epochs} epochs; wrote {out}")
    return summary


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float
    probabilities: np.ndarray  # float32 (N, classes)
    seconds: float


def _run_epoch(run: Run, model: nn.Module, epoch: int, progress: str) -> tuple[dict[str, float], Evaluation]:
    config, device = run.config, run.device
    images, labels = run.dataset.train_images, run.dataset.train_labels
    count = len(labels)
    steps = math.ceil(count / config.batch_size)
    order = torch.randperm(count, generator=run.generator).to(device)
    augmentation = datamod.draw_augment_params(config.recipe, count, run.generator)
    augmentation = augmentation.to(device) if augmentation is not None else None
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.long)
    memory_format = torch.channels_last if config.channels_last else torch.contiguous_format
    bar = _progress_bar(steps, f"epoch {epoch}/{config.epochs}") if progress == "bar" else None
    ce_sum = torch.zeros((), device=device)
    if epoch == 1 + (run.resumed_from_epoch or 0):
        warm_up(run, model, memory_format)  # once per process, before the first timed step
    timer = _Timer(device)
    model.train()
    for step in range(steps):
        batch = slice(step * config.batch_size, (step + 1) * config.batch_size)
        index = order[batch]
        params = augmentation[batch] if augmentation is not None else None
        loss, ce, correct_in_batch, lr = train_step(run, model, images[index], labels[index], params, memory_format)
        loss_sum += loss * len(index)
        ce_sum += ce * len(index)
        correct += correct_in_batch
        if bar is not None:
            bar.update(1)
    train_seconds = timer.seconds()  # every step of the epoch, and nothing else
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


def train_step(
    run: Run,
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    augmentation: datamod.AugmentParams | None,
    memory_format: torch.memory_format,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """One optimizer step on a batch of uint8 images.

    Returns the loss minimised, the plain cross-entropy and the correct count (all on the device,
    not synchronised) and the learning rate the step used.
    """
    x = datamod.normalize(datamod.augment(images, augmentation), run.mean, run.std)
    x = x.contiguous(memory_format=memory_format)
    smoothing = run.config.label_smoothing
    with autocast(run.device, run.precision):
        logits = model(x)
        loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.step(run.optimizer)
    run.scaler.update()
    lr = run.scheduler.get_last_lr()[0]  # the rate this step used (a Python float: no sync)
    run.scheduler.step()
    logits = logits.detach()
    correct = (logits.argmax(1) == labels).sum()
    ce = F.cross_entropy(logits.float(), labels) if smoothing else loss.detach()
    return loss.detach().float(), ce.float(), correct, lr


def warm_up(run: Run, model: nn.Module, memory_format: torch.memory_format) -> None:
    """Pay one-time setup before the clock starts, on a throwaway copy of the model.

    The first step of each batch shape (the full batch and a smaller last one) selects kernels
    (cuDNN autotuning on CUDA, oneDNN primitives on CPU) and grows the allocator. A forward and
    backward pass of each shape on a copy does that without touching the run's weights, batch-norm
    statistics or random streams, so a resumed run computes exactly what an uninterrupted one does.
    A compiled model compiles during the first timed epoch instead (its cache is per module).
    """
    config, images = run.config, run.dataset.train_images
    sizes = {min(config.batch_size, len(images)), len(images) % config.batch_size} - {0}
    copy = deepcopy(run.model)
    for size in sorted(sizes):
        x = datamod.normalize(datamod.augment(images[:size], None), run.mean, run.std)
        with autocast(run.device, run.precision):
            copy(x.contiguous(memory_format=memory_format)).float().sum().backward()
    del copy
    if run.device.type == "cuda":
        torch.cuda.synchronize(run.device)
        torch.cuda.reset_peak_memory_stats(run.device)  # the copy is not part of the run's footprint


def evaluate(run: Run, model: nn.Module) -> Evaluation:
    """Test loss (plain cross-entropy, no smoothing), accuracy and probabilities, in the run's precision."""
    timer = _Timer(run.device)
    images, labels = run.dataset.test_images, run.dataset.test_labels
    memory_format = torch.channels_last if run.config.channels_last else torch.contiguous_format
    model.eval()
    loss_sum = torch.zeros((), device=run.device)
    probabilities = []
    with torch.inference_mode():
        for start in range(0, len(labels), EVAL_BATCH_SIZE):
            x = datamod.normalize(datamod.augment(images[start : start + EVAL_BATCH_SIZE], None), run.mean, run.std)
            with autocast(run.device, run.precision):
                logits = model(x.contiguous(memory_format=memory_format)).float()
            loss_sum += F.cross_entropy(logits, labels[start : start + EVAL_BATCH_SIZE], reduction="sum")
            probabilities.append(logits.softmax(1))
    model.train()
    probabilities = torch.cat(probabilities)
    accuracy = (probabilities.argmax(1) == labels).sum().item() / len(labels)
    return Evaluation(loss_sum.item() / len(labels), accuracy, probabilities.cpu().numpy(), timer.seconds())


class _Timer:
    """Wall time of device work: CUDA events on the GPU (no sync until read), perf_counter on the CPU."""

    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        self.restart()

    def restart(self) -> None:
        if self.cuda:
            self.start = torch.cuda.Event(enable_timing=True)
            self.start.record()
        else:
            self.start = time.perf_counter()

    def seconds(self) -> float:
        if self.cuda:
            end = torch.cuda.Event(enable_timing=True)
            end.record()
            end.synchronize()
            return self.start.elapsed_time(end) / 1000
        return time.perf_counter() - self.start


def build_summary(
    run: Run, final: Evaluation, params: int, macs: int, env: dict[str, Any], started: str, wall_seconds: float
) -> dict:
    config, dataset, history = run.config, run.dataset, run.history
    labels = dataset.test_labels.cpu().numpy()
    confusion = confusion_matrix(labels, final.probabilities.argmax(1), dataset.num_classes)
    best = max(history, key=lambda row: row["test_acc"])
    train_seconds = sum(row["epoch_seconds"] for row in history)
    images_per_second = float(np.median([row["images_per_second"] for row in history]))
    if run.device.type == "cuda":
        peak_memory = torch.cuda.max_memory_allocated(run.device)
    else:
        import resource  # the process's peak resident set; Linux reports kilobytes

        peak_memory = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    env = dict(env)
    env.update(
        dataset_spec=dataset.spec,
        dataset_fingerprint=dataset.fingerprint,
        train_images=len(dataset.train_labels),
        test_images=len(labels),
        image_shape=list(dataset.image_shape),
        precision=run.precision,
        started=started,
        finished=now(),
        resumed_from_epoch=run.resumed_from_epoch,
    )
    return {
        "arch": config.arch,
        "seed": config.seed,
        "dataset": config.dataset,
        "num_classes": dataset.num_classes,
        "classes": list(dataset.classes),
        "params": params,
        "macs": macs,
        "epochs": len(history),
        # The headline is the final epoch's accuracy; choosing the best epoch on the test set would
        # select on the data used for evaluation.
        "test_acc": history[-1]["test_acc"],
        "test_loss": history[-1]["test_loss"],
        "best_test_acc": best["test_acc"],
        "best_epoch": best["epoch"],
        "per_class_acc": per_class_accuracy(confusion).tolist(),
        "confusion_matrix": confusion.tolist(),
        "train_seconds": train_seconds,
        # The time one epoch's training images take at the measured rate (the median epoch's):
        # warm-up happened before the clock started, and evaluation is timed apart.
        "seconds_per_epoch": len(dataset.train_labels) / images_per_second,
        "images_per_second": images_per_second,
        "eval_images_per_second": len(labels) / final.seconds if final.seconds > 0 else None,
        "wall_seconds": wall_seconds,
        "peak_memory_bytes": peak_memory,
        "config": config.to_dict(),
        "env": env,
    }


# --- files --------------------------------------------------------------------------------


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


def save_checkpoint(run: Run, path: Path) -> None:
    state = {
        "config": run.config.to_dict(),
        "code_fingerprint": code_fingerprint(),
        "epoch": len(run.history),
        "history": run.history,
        "model": run.model.state_dict(),
        "optimizer": run.optimizer.state_dict(),
        "scheduler": run.scheduler.state_dict(),
        "scaler": run.scaler.state_dict(),
        "rng": {
            "torch": torch.get_rng_state(),
            "generator": run.generator.get_state(),
            "cuda": torch.cuda.get_rng_state_all() if run.device.type == "cuda" else [],
        },
    }
    write_atomic(path, lambda f: torch.save(state, f), binary=True)


def restore_checkpoint(run: Run, path: Path, log: Callable[[str], None]) -> bool:
    """Load ``path`` into ``run``; False (and a message) when it belongs to another config."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise CheckpointError(
            f"checkpoint {str(path)!r} is damaged ({type(error).__name__}: {str(error).splitlines()[0][:200]}); "
            f"delete it to restart this run from scratch: rm {path}"
        ) from None
    changed = run.config.differences(state["config"])
    if changed:
        log(f"checkpoint {path} was made with other settings ({', '.join(changed)}); starting from scratch")
        return False
    if state["code_fingerprint"] != code_fingerprint():
        log(f"checkpoint {path} was made by another version of the training code; starting from scratch")
        return False
    run.model.load_state_dict(state["model"])
    run.optimizer.load_state_dict(state["optimizer"])
    run.scheduler.load_state_dict(state["scheduler"])
    run.scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["rng"]["torch"])
    run.generator.set_state(state["rng"]["generator"])
    if state["rng"]["cuda"] and run.device.type == "cuda":
        torch.cuda.set_rng_state_all(state["rng"]["cuda"])
    run.history = list(state["history"])
    run.resumed_from_epoch = state["epoch"]
    return True


# --- progress and signals -------------------------------------------------------------------


def _interactive() -> bool:
    if sys.stderr.isatty():
        return True
    shell = sys.modules.get("IPython")
    return bool(shell and getattr(shell, "get_ipython", lambda: None)())


def _progress_bar(total: int, description: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, leave=False, unit="step")


@contextmanager
def _signals_as_keyboard_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so a killed job stops the same clean way."""

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        previous = signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
