"""New images from a generator of noise (``stylize generate``): samples from seeded random
vectors, and walks through the vector space for videos.

A walk visits a new random vector every ``seconds_per_stop`` seconds and travels between
neighbours along the great circle (spherical interpolation): random vectors of this length lie
near a sphere, and a straight line between two of them passes through vectors much shorter than
any the generator saw in training, which draw washed-out images. Each leg eases in and out, so
the motion has no jolt where one leg meets the next.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from .device import resolve_device
from .errors import StylizeError
from .models import Generator
from .styles.loading import resolve
from .styles.weights import load_weights

#: Images drawn per forward pass.
BATCH = 64


@dataclass(frozen=True)
class GenerateOptions:
    """What ``stylize generate`` draws: from which preset, on which device, at what size."""

    preset: str
    device: str = "auto"
    #: Side of the images written; None: the generator's own.
    size: int | None = None
    seed: int = 0


class NoiseSampler:
    """A generator of new images, loaded once, and what it draws."""

    def __init__(self, options: GenerateOptions) -> None:
        path, preset = resolve(options.preset)
        model = load_weights(path, preset.spec if preset else None, bn_stats="running")
        if not model.from_noise:
            raise StylizeError(
                f"{options.preset} stylizes images; it does not draw new ones: stylize IMAGE "
                f"--preset {options.preset} (generate takes presets trained with "
                "stylize-train --task unconditional)"
            )
        self.options = options
        self.device = resolve_device(options.device)
        self.model: Generator = model.to(self.device)
        self.latent = model.spec.in_channels

    def vectors(self, count: int, seed: int | None = None) -> torch.Tensor:
        """``count`` random vectors, the same for the same seed (``options.seed`` by default)."""
        generator = torch.Generator().manual_seed(self.options.seed if seed is None else seed)
        return torch.randn(count, self.latent, generator=generator)

    @torch.no_grad()
    def draw(self, vectors: torch.Tensor) -> list[np.ndarray]:
        """One HxWx3 uint8 RGB image per vector, at ``options.size`` if given."""
        images = []
        for start in range(0, len(vectors), BATCH):
            out = self.model(vectors[start : start + BATCH].to(self.device)).float().cpu()
            pixels = ((out.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).numpy()
            images += [self._sized(p) for p in pixels]
        return images

    def _sized(self, image: np.ndarray) -> np.ndarray:
        side = self.options.size
        if side is None or side == image.shape[0]:
            return np.ascontiguousarray(image)
        smaller = side < image.shape[0]
        return cv2.resize(
            image, (side, side), interpolation=cv2.INTER_AREA if smaller else cv2.INTER_LANCZOS4
        )

    def walk(self, frames: int, fps: int, seconds_per_stop: float = 2.0) -> Iterator[np.ndarray]:
        """``frames`` images along a smooth walk (see the module's docstring)."""
        per_leg = max(1, round(seconds_per_stop * fps))
        stops = self.vectors(frames // per_leg + 2)
        for start in range(0, frames, BATCH):
            indices = torch.arange(start, min(frames, start + BATCH))
            leg, within = indices // per_leg, (indices % per_leg).float() / per_leg
            eased = within * within * (3 - 2 * within)  # smoothstep: still at each stop
            yield from self.draw(slerp(stops[leg], stops[leg + 1], eased))


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation from rows ``a`` to rows ``b`` by fractions ``t`` (one per row);
    lengths are interpolated linearly."""
    a_len, b_len = a.norm(dim=1, keepdim=True), b.norm(dim=1, keepdim=True)
    a_unit, b_unit = a / a_len, b / b_len
    cos = (a_unit * b_unit).sum(1, keepdim=True).clamp(-1 + 1e-7, 1 - 1e-7)
    angle = torch.acos(cos)
    t = t[:, None]
    direction = (torch.sin((1 - t) * angle) * a_unit + torch.sin(t * angle) * b_unit) / torch.sin(
        angle
    )
    return direction * (a_len + (b_len - a_len) * t)


def sample_names(folder: Path, prefix: str, count: int, ext: str) -> list[Path]:
    """Where ``count`` samples go: ``folder/PREFIX_0000.EXT`` and on."""
    return [folder / f"{prefix}_{i:04d}.{ext}" for i in range(count)]
