"""What the measurements are set beside, and the levels every analysis uses.

The blog post's figures are inputs to the report, not results of it; the levels (significance,
confidence, power) are the conventions the analyses share, so that each is stated once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType


@dataclass(frozen=True)
class Reference:
    """Published figures to set the measurements beside: inputs to the report, not results of it."""

    source: str
    test_acc: Mapping[str, float]  # final test accuracy (fraction) by architecture name
    epochs: int
    batch_size: int
    slower: str  # the architecture reported as slower to train
    faster: str
    slowdown: float  # the slower one's training time over the faster one's, minus 1


# The blog post whose claims this project checks: ResNet-50 reached 92.3 % and ResNeXt-50 (32x4d)
# 91.8 % CIFAR-10 test accuracy after 50 epochs at batch size 32, and ResNeXt-50 was "about 30 %
# slower" to train.
BLOG_POST = Reference(
    source="the blog post comparing ResNet-50 and ResNeXt-50 (32x4d) on CIFAR-10",
    test_acc=MappingProxyType({"resnet50": 0.923, "resnext50_32x4d": 0.918}),
    epochs=50,
    batch_size=32,
    slower="resnext50_32x4d",
    faster="resnet50",
    slowdown=0.30,
)
# "About 30 %" comes without a spread; a measured slowdown within 10 points of it counts as agreeing.
SLOWDOWN_AGREEMENT = (0.20, 0.40)
# The conditions the blog's timing claim was made under (its loop: fp32, batch 32, PyTorch's default
# memory layout). A slowdown measured otherwise (bf16, channels_last, another batch) is reported
# with its conditions and no verdict: grouped convolutions gain differently from those choices.
BLOG_TIMING_CONDITIONS = MappingProxyType({"precision": "fp32", "batch_size": 32, "channels_last": False})
ALPHA = 0.05  # significance level of the per-seed McNemar tests
CONFIDENCE = 0.95  # of the t-intervals over seeds: mean accuracy difference, mean slowdown
POWER = 0.80  # the usual power for planning how many seeds a difference needs
OTHER = "resnext50_32x4d"  # the architecture compared with the baseline by default: the blog's other one
