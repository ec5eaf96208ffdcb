"""Augmentation as batched tensor operations on uint8 images, on whichever device holds them.

The random choices of a whole epoch are drawn on the CPU with the run's generator (so every device
applies the same ones) and copied to the device once; a batch then slices its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

# Blog post: Normalize((0.5,)*3, (0.5,)*3) after ToTensor, i.e. pixels mapped to [-1, 1].
BLOG_MEAN_STD = (0.5, 0.5)
ROTATION_DEGREES = 10.0  # blog post: RandomRotation(10)
CROP_PADDING = 4  # the standard CIFAR recipe (He et al. 2016, section 4.2): pad 4, random 32x32 crop
# The imagenet recipe: torchvision's references/classification defaults for ResNet-50
# (train_crop_size 224, val_resize_size 256, val_crop_size 224; RandomResizedCrop's scale (0.08, 1)
# and ratio (3/4, 4/3); the ImageNet channel statistics its Normalize uses).
IMAGENET_CROP, IMAGENET_RESIZE = 224, 256
IMAGENET_SCALE, IMAGENET_RATIO = (0.08, 1.0), (3 / 4, 4 / 3)
IMAGENET_MEAN_STD = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


def normalization_stats(recipe: str, train_images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std: the blog's 0.5/0.5, or computed from the training split."""
    channels = train_images.shape[1]
    if recipe == "blog":
        mean, std = BLOG_MEAN_STD
        return torch.full((channels,), mean), torch.full((channels,), std)
    pixels = train_images.transpose(0, 1).reshape(channels, -1)
    # Chunked float64 sums: the full split as float32 would be 600 MB for CIFAR-10.
    total = torch.zeros(channels, dtype=torch.float64)
    total_sq = torch.zeros(channels, dtype=torch.float64)
    for chunk in pixels.split(1 << 22, dim=1):
        chunk = chunk.double() / 255
        total += chunk.sum(1)
        total_sq += (chunk * chunk).sum(1)
    return mean_and_std(total, total_sq, pixels.shape[1])


def mean_and_std(total: torch.Tensor, total_sq: torch.Tensor, count: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std (float32) from float64 sums of pixels in [0, 1] and of their squares."""
    mean = total / count
    std = (total_sq / count - mean * mean).clamp_min(1e-12).sqrt()
    return mean.float(), std.float()


@dataclass(frozen=True)
class AugmentParams:
    """The random choices for N images, drawn on the CPU so that every device applies the same ones.

    The training loop draws a whole epoch's at once and copies them to the device once, then
    slices a batch's: no host-to-device copy per step.
    """

    flip: torch.Tensor  # bool (N,)
    angle_degrees: torch.Tensor | None  # float (N,), blog recipe
    shift: torch.Tensor | None  # int (N, 2) crop offsets (dy, dx) in [0, 2*padding], standard recipe

    def to(self, device: torch.device | str) -> AugmentParams:
        return AugmentParams(
            *(None if t is None else t.to(device) for t in (self.flip, self.angle_degrees, self.shift))
        )

    def __getitem__(self, index: slice) -> AugmentParams:
        return AugmentParams(*(None if t is None else t[index] for t in (self.flip, self.angle_degrees, self.shift)))

    def take(self, positions: torch.Tensor) -> AugmentParams:
        """The choices of the images at these positions."""
        return AugmentParams(
            *(None if t is None else t[positions] for t in (self.flip, self.angle_degrees, self.shift))
        )


def draw_augment_params(recipe: str, batch: int, generator: torch.Generator) -> AugmentParams | None:
    """An epoch's choices for the fixed-size recipes; the imagenet recipe's are made per image as it is read."""
    if recipe in ("none", "imagenet"):
        return None
    flip = torch.rand(batch, generator=generator) < 0.5
    if recipe == "blog":
        angle = (torch.rand(batch, generator=generator) * 2 - 1) * ROTATION_DEGREES
        return AugmentParams(flip, angle, None)
    shift = torch.randint(0, 2 * CROP_PADDING + 1, (batch, 2), generator=generator)
    return AugmentParams(flip, None, shift)


def augment(images: torch.Tensor, params: AugmentParams | None) -> torch.Tensor:
    """Apply a batch's random choices to uint8 images on their own device; returns float in [0, 1]."""
    if params is not None:
        params = params.to(images.device)  # a no-op when they are there already
        if params.shift is not None:
            images = random_crop(images, params.shift, CROP_PADDING)
        images = flip_horizontal(images, params.flip)
    x = images.float().div_(255)
    if params is not None and params.angle_degrees is not None:
        x = rotate(x, params.angle_degrees)
    return x


def flip_horizontal(images: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.where(mask[:, None, None, None], images.flip(3), images)


def random_crop(images: torch.Tensor, shift: torch.Tensor, padding: int) -> torch.Tensor:
    """Zero-pad by ``padding`` and cut each image's window at its own (dy, dx) offset."""
    n, _, h, w = images.shape
    padded = F.pad(images, (padding,) * 4)
    rows = torch.arange(h, device=images.device)[None, :] + shift[:, 0:1]
    cols = torch.arange(w, device=images.device)[None, :] + shift[:, 1:2]
    batch = torch.arange(n, device=images.device)[:, None, None]
    # Advanced indices around a slice put their dimensions first: (N, H, W, C).
    return padded[batch, :, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


def rotate(x: torch.Tensor, angle_degrees: torch.Tensor) -> torch.Tensor:
    """Rotate each image about its centre, nearest-neighbour with black fill (RandomRotation's defaults)."""
    n, _, h, w = x.shape
    radians = angle_degrees.float() * (math.pi / 180)
    cos, sin = radians.cos(), radians.sin()
    zero = torch.zeros_like(cos)
    # affine_grid works in [-1, 1] coordinates; the aspect terms keep the rotation rigid when H != W.
    theta = torch.stack([torch.stack([cos, -sin * h / w, zero], 1), torch.stack([sin * w / h, cos, zero], 1)], 1)
    grid = F.affine_grid(theta, [n, x.shape[1], h, w], align_corners=False)
    return F.grid_sample(x, grid.to(x.dtype), mode="nearest", padding_mode="zeros", align_corners=False)


def normalize(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x - mean.to(x.device)[None, :, None, None]) / std.to(x.device)[None, :, None, None]


def imagenet_geometry(image: torch.Tensor, train: bool, generator: torch.Generator) -> torch.Tensor:
    """One uint8 (C, H, W) image of any size to the imagenet recipe's 224x224.

    Training: RandomResizedCrop(224) and a horizontal flip with probability 0.5; test: resize the
    short side to 256 and cut the centre 224x224 (torchvision's ``ImageClassification`` preset).
    The random choices come from ``generator`` (the image's own), not the global stream.
    """
    from torchvision.transforms.v2 import functional as TF

    if not train:
        image = TF.resize(image, [IMAGENET_RESIZE], antialias=True)
        return TF.center_crop(image, [IMAGENET_CROP, IMAGENET_CROP])
    top, left, height, width = random_resized_crop_box(image.shape[-2], image.shape[-1], generator)
    image = TF.resized_crop(image, top, left, height, width, [IMAGENET_CROP, IMAGENET_CROP], antialias=True)
    if torch.rand((), generator=generator) < 0.5:
        image = image.flip(-1)
    return image


def random_resized_crop_box(height: int, width: int, generator: torch.Generator) -> tuple[int, int, int, int]:
    """(top, left, height, width) as torchvision's ``RandomResizedCrop.get_params`` draws them, from ``generator``.

    Ten tries for a box of a random area share and log-uniform aspect ratio that fits; else the
    centre crop of the ratio range's nearest ratio (torchvision's fallback).
    """
    area = height * width
    log_ratio = (math.log(IMAGENET_RATIO[0]), math.log(IMAGENET_RATIO[1]))
    for _ in range(10):
        target_area = area * (
            IMAGENET_SCALE[0] + (IMAGENET_SCALE[1] - IMAGENET_SCALE[0]) * torch.rand((), generator=generator).item()
        )
        aspect = math.exp(log_ratio[0] + (log_ratio[1] - log_ratio[0]) * torch.rand((), generator=generator).item())
        w = int(round(math.sqrt(target_area * aspect)))
        h = int(round(math.sqrt(target_area / aspect)))
        if 0 < w <= width and 0 < h <= height:
            top = int(torch.randint(0, height - h + 1, (), generator=generator))
            left = int(torch.randint(0, width - w + 1, (), generator=generator))
            return top, left, h, w
    ratio = width / height
    if ratio < IMAGENET_RATIO[0]:
        w, h = width, int(round(width / IMAGENET_RATIO[0]))
    elif ratio > IMAGENET_RATIO[1]:
        h, w = height, int(round(height * IMAGENET_RATIO[1]))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w
