"""What every temporal smoother shares: the registry, state across batches, scene cuts.

A GAN run frame by frame answers small changes of its input with different textures, which
shows as flicker. A smoother sees the input frames and the stylized frames in order (batch after
batch, its state carried over) and returns the frames to write.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from ..errors import StylizeError
from ..flow import to_gray
from ..registry import Registry

SMOOTHERS = Registry("temporal smoothing")
register_smoother = SMOOTHERS.register

#: Frames are compared at about this many pixels on the longer side (flow, scene cuts).
ANALYSIS_SIDE = 480


class Smoother:
    """No smoothing; subclasses override ``step``. ``strength`` is in [0, 1]."""

    default_strength = 0.0

    def __init__(self, strength: float | None = None, device: torch.device | None = None) -> None:
        self.strength = self.default_strength if strength is None else strength
        if not 0.0 <= self.strength <= 1.0:
            raise StylizeError(f"temporal strength must be between 0 and 1, not {self.strength}")
        self.device = device or torch.device("cpu")
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame starts afresh (a new video, a scene cut)."""
        self.prev_gray: np.ndarray | None = None
        self.prev_out: np.ndarray | None = None

    def __call__(self, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> list[np.ndarray]:
        """Smooth a batch of stylized frames, in order, given the frames they were made from."""
        return [self.step(i, o) for i, o in zip(inputs, outputs, strict=True)]

    def analysis_gray(self, frame: np.ndarray) -> np.ndarray:
        return to_gray(frame, min(1.0, ANALYSIS_SIDE / max(frame.shape[:2])))

    def step(self, inp: np.ndarray, out: np.ndarray) -> np.ndarray:
        return out

    def restart(self, gray: np.ndarray, out: np.ndarray) -> np.ndarray:
        """Start the history at this frame, which passes unchanged."""
        self.prev_gray, self.prev_out = gray, out
        return out

    def is_cut(self, gray: np.ndarray) -> bool:
        """No history or a new frame size; methods add their own test for scene cuts."""
        return self.prev_gray is None or self.prev_gray.shape != gray.shape


register_smoother("none")(Smoother)


def make_smoother(
    name: str, strength: float | None = None, device: torch.device | None = None
) -> Smoother:
    """The smoother called ``name`` (none, ema, flow)."""
    return SMOOTHERS.get_class(name)(strength, device)


def smoothed(
    stylize_frames: Callable[[list[np.ndarray]], list[np.ndarray]], smoother: Smoother
) -> Callable[[list[np.ndarray]], list[np.ndarray]]:
    """``stylize_frames`` followed by ``smoother``: frames in, smoothed stylized frames out."""

    def run(frames: list[np.ndarray]) -> list[np.ndarray]:
        return smoother(frames, stylize_frames(frames))

    return run
