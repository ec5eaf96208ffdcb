"""One optimizer step, and the one-time setup paid before the clock starts."""

from __future__ import annotations

from copy import deepcopy

import torch
import torch.nn.functional as F
from torch import nn

from ..data.augment import AugmentParams, augment, normalize
from .device import autocast, synchronize
from .run import Run


def train_step(
    run: Run,
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    augmentation: AugmentParams | None,
    share: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """One optimizer step on a batch of uint8 images.

    Returns the loss minimised, the plain cross-entropy and the correct count (all on the device,
    not synchronised) and the learning rate the step used. ``share`` weights this process's loss
    in a multi-process run, so that the gradients averaged over processes are the whole batch's.
    """
    x = normalize(augment(images, augmentation), run.mean, run.std)
    x = x.contiguous(memory_format=run.memory_format)
    smoothing = run.config.label_smoothing
    with autocast(run.device, run.precision):
        logits = model(x)
        loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
    run.optimizer.zero_grad(set_to_none=True)
    run.scaler.scale(loss if share == 1 else loss * share).backward()
    run.scaler.step(run.optimizer)
    run.scaler.update()
    lr = run.scheduler.get_last_lr()[0]  # the rate this step used (a Python float: no sync)
    run.scheduler.step()
    logits = logits.detach()
    correct = (logits.argmax(1) == labels).sum()
    ce = F.cross_entropy(logits.float(), labels) if smoothing else loss.detach()
    return loss.detach().float(), ce.float(), correct, lr


def warm_up(run: Run, model: nn.Module) -> None:
    """Pay one-time setup before the clock starts, on a throwaway copy of the model.

    The first step of each batch shape (the full batch and a smaller last one) selects kernels
    (cuDNN autotuning on CUDA, oneDNN primitives on CPU) and grows the allocator. A forward and
    backward pass of each shape on a copy does that without touching the run's weights, batch-norm
    statistics or random streams, so a resumed run computes exactly what an uninterrupted one does.
    A compiled model compiles during the first timed epoch instead (its cache is per module).
    """
    count = len(run.dataset.train_labels)
    sizes = {len(run.ranks.share(torch.arange(size))) for size in _batch_sizes(run.config.batch_size, count)}
    images = _first_images(run, max(sizes))
    copy = deepcopy(run.model)
    for size in sorted(sizes - {0}):
        x = normalize(augment(images[:size], None), run.mean, run.std)
        with autocast(run.device, run.precision):
            copy(x.contiguous(memory_format=run.memory_format)).float().sum().backward()
    del copy
    synchronize(run.device)
    if run.device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(run.device)  # the copy is not part of the run's footprint


def _first_images(run: Run, count: int) -> torch.Tensor:
    """The first ``count`` training images, uint8 on the device (a streamed run decodes them)."""
    if not run.streamed:
        return run.dataset.train_images[:count]
    from ..data.stream import stream_batches

    geometry = run.dataset.geometry(run.config.recipe, train=False)
    return next(stream_batches(run.dataset.train_files, [list(range(count))], geometry, run.device, workers=0))


def _batch_sizes(batch_size: int, count: int) -> set[int]:
    """The sizes of an epoch's batches: the full batch and a smaller last one."""
    return {min(batch_size, count), count % batch_size} - {0}
