"""Differentiable augmentation of what a discriminator sees (DiffAugment; Zhao, Liu, Lin, Zhu and
Han, NeurIPS 2020).

A discriminator trained on a few hundred paintings memorises them, and its verdicts stop
teaching the generator. Augmenting only the real images would teach the generator to make
augmented-looking images; DiffAugment instead applies the same random colour, translation and
cutout to real and generated batches alike, on both the discriminator's and the generator's
steps, through operations gradients pass through. Each sample draws its own parameters from the
global random generator, which the training loop reseeds every step, so a resumed run draws the
same ones.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from stylizer.errors import StylizeError

Operation = Callable[[torch.Tensor], torch.Tensor]

#: Translations move images by up to this fraction of their side, filling with zeros.
TRANSLATION = 1 / 8
#: Cutout blanks a square of this fraction of each side, somewhere in the image.
CUTOUT = 1 / 2


def _uniform(x: torch.Tensor, low: float, high: float) -> torch.Tensor:
    """One value per sample, in [low, high), shaped to broadcast over N x G x 3 x H x W."""
    return torch.rand(x.shape[0], 1, 1, 1, 1).to(x.device, x.dtype) * (high - low) + low


def color(x: torch.Tensor) -> torch.Tensor:
    """Random brightness, saturation and contrast, as the paper's ``color`` policy (on [-1, 1]).
    A conditional discriminator's input (an image beside its condition, 6 channels) gets the
    same change on each of its images."""
    n, c, h, w = x.shape
    images = x.reshape(n, c // 3, 3, h, w) if c % 3 == 0 else x.reshape(n, 1, c, h, w)
    images = images + _uniform(x, -0.5, 0.5)
    mean = images.mean(dim=2, keepdim=True)
    images = (images - mean) * _uniform(x, 0.0, 2.0) + mean
    mean = images.mean(dim=(2, 3, 4), keepdim=True)
    images = (images - mean) * _uniform(x, 0.5, 1.5) + mean
    return images.reshape(n, c, h, w)


def translation(x: torch.Tensor) -> torch.Tensor:
    """Move each image by a random whole number of pixels, up to ``TRANSLATION`` of its side,
    filling what comes in with zeros."""
    n, _, h, w = x.shape
    reach_y, reach_x = int(h * TRANSLATION + 0.5), int(w * TRANSLATION + 0.5)
    dy = torch.randint(-reach_y, reach_y + 1, (n, 1, 1)).to(x.device)
    dx = torch.randint(-reach_x, reach_x + 1, (n, 1, 1)).to(x.device)
    rows = (torch.arange(h, device=x.device).view(1, h, 1) + dy + 1).clamp(0, h + 1)
    cols = (torch.arange(w, device=x.device).view(1, 1, w) + dx + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1]).permute(0, 2, 3, 1)  # a zero border to read from
    batch = torch.arange(n, device=x.device).view(n, 1, 1)
    return padded[batch, rows, cols].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor) -> torch.Tensor:
    """Blank a random square of ``CUTOUT`` of each side in each image."""
    n, _, h, w = x.shape
    size_y, size_x = int(h * CUTOUT + 0.5), int(w * CUTOUT + 0.5)
    top = torch.randint(0, h + (1 - size_y % 2), (n, 1, 1)).to(x.device) - size_y // 2
    left = torch.randint(0, w + (1 - size_x % 2), (n, 1, 1)).to(x.device) - size_x // 2
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = (rows >= top) & (rows < top + size_y) & (cols >= left) & (cols < left + size_x)
    return x * (~inside).unsqueeze(1).to(x.dtype)


OPERATIONS: dict[str, Operation] = {"color": color, "translation": translation, "cutout": cutout}


def parse_policy(policy: str) -> tuple[str, ...]:
    """The operations a ``--diffaugment`` value names, in the order they apply; '' (or
    ``none``) is none."""
    if policy.strip() == "none":
        return ()
    names = tuple(n.strip() for n in policy.split(",") if n.strip())
    if unknown := [n for n in names if n not in OPERATIONS]:
        raise StylizeError(
            f"--diffaugment {policy}: unknown {', '.join(unknown)}; use any of "
            f"{','.join(OPERATIONS)} (comma-separated)"
        )
    return names


class DiffAugment:
    """The augmentation of a ``--diffaugment`` policy, applied to every batch a discriminator
    judges, real and generated alike."""

    def __init__(self, policy: str) -> None:
        self.operations = [OPERATIONS[name] for name in parse_policy(policy)]

    def __bool__(self) -> bool:
        return bool(self.operations)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if not self.operations:
            return x  # untouched: no copy, the same memory layout
        for operation in self.operations:
            x = operation(x)
        return x.contiguous()
