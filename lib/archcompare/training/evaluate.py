"""The test-set pass: plain cross-entropy, accuracy and every image's probabilities."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.augment import augment, normalize
from ..data.stream import stream_batches
from .device import Timer, autocast
from .run import Run

EVAL_BATCH_SIZE = 500  # inference only: large batches keep the device busy without affecting results


@dataclass(frozen=True)
class Evaluation:
    loss: float
    accuracy: float
    probabilities: np.ndarray  # float32 (N, classes)
    seconds: float


def evaluate(run: Run, model: nn.Module) -> Evaluation:
    """Test loss (no label smoothing), accuracy and probabilities, in the run's precision.

    The model is in eval mode: batch norm uses its running statistics and leaves them alone, so an
    image's probabilities do not depend on the other images of its batch. In a multi-process run each
    process scores its contiguous share of the test images and every process gets all of them back:
    each image is scored exactly once.
    """
    timer = Timer(run.device)
    ranks = run.ranks
    labels = run.dataset.test_labels
    mine = ranks.share(torch.arange(len(labels), device=run.device)) if ranks.world > 1 else None
    if mine is not None:
        labels = labels[mine]
    model.eval()
    loss_sum = torch.zeros((), device=run.device)
    probabilities = []
    with torch.inference_mode():
        for start, images in evaluation_batches(run, mine):
            x = normalize(augment(images, None), run.mean, run.std)
            with autocast(run.device, run.precision):
                logits = model(x.contiguous(memory_format=run.memory_format)).float()
            loss_sum += F.cross_entropy(logits, labels[start : start + EVAL_BATCH_SIZE], reduction="sum")
            probabilities.append(logits.softmax(1))
    model.train()
    probabilities = torch.cat(probabilities)
    if ranks.world > 1:
        ranks.sum(loss_sum)
        probabilities = torch.cat([torch.from_numpy(p) for p in ranks.gather(probabilities.cpu().numpy())])
        labels = run.dataset.test_labels.cpu()
    accuracy = (probabilities.argmax(1) == labels).sum().item() / len(labels)
    return Evaluation(loss_sum.item() / len(labels), accuracy, probabilities.cpu().numpy(), timer.seconds())


def evaluation_batches(run: Run, mine: torch.Tensor | None) -> Iterator[tuple[int, torch.Tensor]]:
    """This process's test images (all of them, or the positions ``mine``) in batches, with each batch's start."""
    count = len(run.dataset.test_labels) if mine is None else len(mine)
    starts = range(0, count, EVAL_BATCH_SIZE)
    if not run.streamed:
        images = run.dataset.test_images if mine is None else run.dataset.test_images[mine]
        yield from ((start, images[start : start + EVAL_BATCH_SIZE]) for start in starts)
        return
    positions = torch.arange(count) if mine is None else mine.cpu()
    geometry = run.dataset.geometry(run.config.recipe, train=False)
    batches = [positions[start : start + EVAL_BATCH_SIZE].tolist() for start in starts]
    yield from zip(starts, stream_batches(run.dataset.test_files, batches, geometry, run.device))
