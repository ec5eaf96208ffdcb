"""The architectures by name: plain data, so that choosing and describing a network needs no torch.

Every entry is built from torchvision's ``ResNet`` class (``models.build_model``). ResNeXt differs
from ResNet only in the bottleneck's grouped 3x3 convolution: torchvision's ``Bottleneck`` uses
``int(planes * width_per_group / 64) * groups`` inner channels, so an entry is a block, the layer
counts, ``groups`` and ``width_per_group``, and nothing is re-implemented.
"""

from __future__ import annotations

from dataclasses import dataclass

RESNET50_LAYERS = (3, 4, 6, 3)


@dataclass(frozen=True)
class Architecture:
    block: str  # torchvision's block: "bottleneck" (Bottleneck) or "basic" (BasicBlock)
    layers: tuple[int, int, int, int]
    groups: int = 1
    width_per_group: int = 64
    description: str = ""


# The ResNeXt paper's equal-complexity cardinality sweep for ResNet-50 (Xie et al. 2017,
# "Aggregated Residual Transformations for Deep Neural Networks", Table 2): C x d with
# C groups of d channels in the first stage; 1x64d is ResNet-50 itself.
ARCHITECTURES: dict[str, Architecture] = {
    "resnet18": Architecture("basic", (2, 2, 2, 2), description="ResNet-18, a small baseline"),
    "resnet50": Architecture("bottleneck", RESNET50_LAYERS, description="ResNet-50"),
    "resnext50_1x64d": Architecture("bottleneck", RESNET50_LAYERS, 1, 64, "ResNeXt-50 1x64d (= ResNet-50)"),
    "resnext50_2x40d": Architecture("bottleneck", RESNET50_LAYERS, 2, 40, "ResNeXt-50 2x40d"),
    "resnext50_4x24d": Architecture("bottleneck", RESNET50_LAYERS, 4, 24, "ResNeXt-50 4x24d"),
    "resnext50_8x14d": Architecture("bottleneck", RESNET50_LAYERS, 8, 14, "ResNeXt-50 8x14d"),
    "resnext50_32x4d": Architecture("bottleneck", RESNET50_LAYERS, 32, 4, "ResNeXt-50 32x4d"),
}


def display_name(arch: str) -> str:
    """The architecture's readable name from the registry (its key when it is not registered)."""
    return ARCHITECTURES[arch].description if arch in ARCHITECTURES else arch


def cardinality_of(arch: str) -> tuple[int, int] | None:
    """(cardinality, width per group) of a ResNet-50-shaped entry; None for other architectures."""
    spec = ARCHITECTURES.get(arch)
    if spec is None or spec.layers != RESNET50_LAYERS or spec.block != "bottleneck":
        return None
    return spec.groups, spec.width_per_group
