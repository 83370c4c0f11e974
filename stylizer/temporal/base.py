"""What every temporal smoother shares: the registry, state across batches, scene cuts.

A GAN run frame by frame answers small changes of its input with different textures, which
shows as flicker. A smoother sees the input frames and the stylized frames in order (batch after
batch, its state carried over) and returns the frames to write.

Its work is in two halves: ``analyse`` looks at input frames only (scene cuts, optical flow),
so ``smoothed`` runs it on a thread of its own while the model stylizes the same frames;
``apply`` then blends each stylized frame with the previous result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import StylizeError
from ..optical_flow import to_gray
from ..registry import Registry
from ..worker import Worker

if TYPE_CHECKING:
    import torch

SMOOTHERS: Registry[Smoother] = Registry("temporal smoothing")
#: Analyses input frames (OpenCV's flow releases the GIL) while the model stylizes them.
_analysis = Worker("stylize-analysis")
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
        #: Where frames were stylized (None: the CPU), for smoothers that work there too.
        self.device = device
        self.reset()

    def reset(self) -> None:
        """Forget the past: the next frame starts afresh (a new video, a scene cut)."""
        self.prev_gray: np.ndarray | None = None  # the last input analysed
        self.prev_out: np.ndarray | None = None  # the last result

    def __call__(self, inputs: list[np.ndarray], outputs: list[np.ndarray]) -> list[np.ndarray]:
        """Smooth a batch of stylized frames, in order, given the frames they were made from."""
        return self.apply(self.analyse(inputs), outputs)

    def analyse(self, inputs: list[np.ndarray]) -> list[object | None]:
        """What blending each frame needs, from the input frames alone; None starts the history
        afresh at that frame (the first one, a new size, a scene cut)."""
        found = []
        for frame in inputs:
            gray = self.analysis_gray(frame)
            prev = self.prev_gray
            cut = prev is None or prev.shape != gray.shape
            found.append(None if cut else self.relate(gray, prev))  # type: ignore[arg-type]
            self.prev_gray = gray
        return found

    def apply(self, analyses: list[object | None], outputs: list[np.ndarray]) -> list[np.ndarray]:
        """The frames to write: each stylized frame blended as its analysis says."""
        results = []
        for analysis, out in zip(analyses, outputs, strict=True):
            if analysis is None or self.prev_out is None or self.prev_out.shape != out.shape:
                self.restart()
                self.prev_out = out
            else:
                self.prev_out = self.blend(analysis, out)
            results.append(self.prev_out)
        return results

    def analysis_gray(self, frame: np.ndarray) -> np.ndarray:
        return to_gray(frame, min(1.0, ANALYSIS_SIDE / max(frame.shape[:2])))

    def relate(self, gray: np.ndarray, prev_gray: np.ndarray) -> object | None:  # noqa: ARG002 (the default: a subclass may use it)
        """How this input frame follows the previous one, for ``blend``; None at a scene cut.
        Without smoothing every frame stands alone."""
        return None

    @property
    def last(self) -> np.ndarray:
        """The previous result: ``blend`` is called only when there is one."""
        assert self.prev_out is not None
        return self.prev_out

    def blend(self, analysis: Any, out: np.ndarray) -> np.ndarray:  # noqa: ARG002 (the default: a subclass may use it)
        """The frame to write for the stylized ``out``, given ``self.prev_out``."""
        return out

    def restart(self) -> None:
        """The history starts afresh at this frame, which passes unchanged."""


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
        analyses = _analysis.submit(smoother.analyse, frames)  # while the model runs
        outputs = stylize_frames(frames)
        return smoother.apply(analyses.result(), outputs)

    return run
