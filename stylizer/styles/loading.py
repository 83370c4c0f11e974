"""``load_generator``: a weight file, a preset folder or a preset name, to a ready generator."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .installing import find_preset
from .presets import MANIFEST, Preset

if TYPE_CHECKING:
    from ..models import Generator


def resolve(path_or_preset: str | Path) -> tuple[Path, Preset | None]:
    """The weight file behind a path or preset name, and the preset if it is one."""
    path = Path(path_or_preset)
    if path.is_dir() and (path / MANIFEST).is_file():
        preset = Preset.read(path)
        return preset.weights, preset
    if path.exists() or path.suffix or "/" in str(path_or_preset):
        return path, None
    preset = find_preset(str(path_or_preset))
    return preset.weights, preset


def load_generator(path_or_preset: str | Path, bn_stats: str = "image") -> Generator:
    """A generator mapping NCHW floats in [-1, 1] to NCHW in [-1, 1], in eval mode.

    Accepts a reference checkpoint (``latest_net_G_A.pth``), any state dict of a supported
    architecture, a preset folder or a preset name. ``bn_stats="image"`` normalises batch-norm
    layers with each image's own statistics, as the reference does at test time.
    """
    from .weights import load_weights  # PyTorch: only where a generator is built

    weights, preset = resolve(path_or_preset)
    return load_weights(weights, preset.spec if preset else None, bn_stats)
