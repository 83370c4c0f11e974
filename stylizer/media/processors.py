"""Processors: the stage between sources and sinks, a ``Stylizer`` and for videos a smoother."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np

from ..images import Picture
from ..inference import Stylizer
from ..options import TemporalOptions
from ..temporal import make_smoother, smoothed
from .stages import Failure, Frame, Processor


class FrameProcessor(Processor):
    """A video's frames through ``stylize_frames`` (HxWxC arrays in, as many out), which may
    keep state across batches (a temporal smoother): a failure ends the video."""

    def __init__(
        self, stylize_frames: Callable[[list[np.ndarray]], list[np.ndarray]], max_batch: int
    ) -> None:
        super().__init__(max_batch)
        self.stylize_frames = stylize_frames

    def __call__(self, frames: list[Frame]) -> list[Frame | Failure]:
        out = self.stylize_frames([f.picture.color for f in frames])
        return [replace(f, picture=Picture(o)) for f, o in zip(frames, out, strict=True)]


class PictureProcessor(Processor):
    """Image files, each independent: alpha and further pages kept, batches as large as the
    memory allows. A batch that fails is retried image by image, so only the culprit fails."""

    def __init__(self, stylizer: Stylizer) -> None:
        super().__init__(stylizer.max_batch)
        self.stylizer = stylizer

    def batch_size(self, height: int, width: int) -> int:
        return self.stylizer.batch_size(height, width)

    def __call__(self, frames: list[Frame]) -> list[Frame | Failure]:
        started = time.perf_counter()
        try:
            pictures = self.stylizer.stylize_batch([f.picture for f in frames])
        except Exception as e:
            if len(frames) == 1:
                assert frames[0].job is not None
                return [Failure(frames[0].job, e)]
            return [done for frame in frames for done in self([frame])]
        share = (time.perf_counter() - started) / len(frames)
        return [replace(f, picture=p, seconds=share) for f, p in zip(frames, pictures, strict=True)]


def frame_processor(stylizer: Stylizer, temporal: TemporalOptions) -> FrameProcessor:
    """The video processor: the model, the smoother (on the backend's device), then the colour
    and strength controls."""
    smoother = make_smoother(temporal.temporal, temporal.temporal_strength, stylizer.backend.gpu)
    model_then_smoother = smoothed(stylizer.model_frames, smoother)

    def frames(batch: list[np.ndarray]) -> list[np.ndarray]:
        return stylizer.finished(batch, model_then_smoother(batch))

    return FrameProcessor(frames, stylizer.max_batch)
