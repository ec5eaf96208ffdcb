"""The test-set pass: plain cross-entropy, accuracy and every image's probabilities."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.augment import augment, normalize
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
    image's probabilities do not depend on the other images of its batch.
    """
    timer = Timer(run.device)
    images, labels = run.dataset.test_images, run.dataset.test_labels
    model.eval()
    loss_sum = torch.zeros((), device=run.device)
    probabilities = []
    with torch.inference_mode():
        for start in range(0, len(labels), EVAL_BATCH_SIZE):
            x = normalize(augment(images[start : start + EVAL_BATCH_SIZE], None), run.mean, run.std)
            with autocast(run.device, run.precision):
                logits = model(x.contiguous(memory_format=run.memory_format)).float()
            loss_sum += F.cross_entropy(logits, labels[start : start + EVAL_BATCH_SIZE], reduction="sum")
            probabilities.append(logits.softmax(1))
    model.train()
    probabilities = torch.cat(probabilities)
    accuracy = (probabilities.argmax(1) == labels).sum().item() / len(labels)
    return Evaluation(loss_sum.item() / len(labels), accuracy, probabilities.cpu().numpy(), timer.seconds())
