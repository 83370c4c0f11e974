"""A generator on a device, ready to stylize pictures of any size, depth and channel count."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from .backends import Backend, backend_class
from .controls import model_size, scaled
from .device import resolve_device
from .errors import StylizeError
from .images import Picture
from .options import InferenceOptions, StyleOptions
from .styles.loading import resolve
from .styles.weights import load_weights


def style_name(weights: str | Path) -> str:
    """A style's name in reports and sheets: a preset's name, a weight file's stem."""
    path = Path(weights)
    return path.stem if path.suffix else str(weights)


class Stylizer:
    """A generator loaded once and run by the backend ``options`` choose."""

    def __init__(
        self,
        weights: str | Path,
        options: InferenceOptions = InferenceOptions(),
        style: StyleOptions = StyleOptions(),
        *,
        log: Callable[[str], None] = lambda msg: None,
        workload: Sequence[tuple[int, int, int]] = (),
    ) -> None:
        """``workload``: frames, height and width of each video the caller expects to process,
        if known; on a CPU, ``backend="auto"`` compiles the model only when the pixels it will
        run at are enough to pay off."""
        for control in style.controls:
            control.check()
        self.style = style
        self._log = log
        self._told_working_size = False
        #: The style's name in reports: a preset's name, a weight file's stem.
        self.name = style_name(weights)
        path, preset = resolve(weights)
        self.model = load_weights(path, preset.spec if preset else None, options.bn_stats)
        if self.model.from_noise:
            raise StylizeError(
                f"{self.name} draws new images from random numbers; it does not stylize "
                f"images: stylize generate --preset {weights} -n 16 -o new/"
            )
        #: The preset's working size (see ``Preset.working_size``); None for weight files.
        self.working_size = preset.working_size if preset else None
        where = resolve_device(options.device)
        self.backend: Backend = backend_class(
            options.backend, where, notice=log, workload=self.model_pixels(workload)
        )(
            self.model,
            where,
            memory_budget=options.memory_mb * 2**20 if options.memory_mb else None,
            tile=options.tile,
            precision=options.precision,
            notice=log,
        )
        self.max_batch = max(1, options.batch_size)

    def model_pixels(self, workload: Sequence[tuple[int, int, int]]) -> int:
        """The pixels the model runs over for videos of these frames, heights and widths."""
        return sum(frames * math.prod(self.model_size(h, w)) for frames, h, w in workload if frames)

    def _chosen_scale(self, height: int, width: int) -> float | None:
        """How much a control (``--scale``) resizes a frame of this size for the model: the
        first to choose; None if none does."""
        chosen = (c.model_scale(height, width) for c in self.style.controls)
        return next((scale for scale in chosen if scale is not None), None)

    def model_scale(self, height: int, width: int) -> float:
        """How much a frame of this size is resized for the model: as a control chooses, else
        down to the preset's working size if the frame is larger, else not at all."""
        if (chosen := self._chosen_scale(height, width)) is not None:
            return chosen
        shorter = min(height, width)
        if self.working_size and shorter > self.working_size:
            return self.working_size / shorter
        return 1.0

    def model_size(self, height: int, width: int) -> tuple[int, int]:
        """The size the model runs at for a frame of this size."""
        return model_size(height, width, self.model_scale(height, width))

    def batch_size(self, height: int, width: int) -> int:
        """How many frames of this size to stylize together, at the size the model runs at."""
        return self.backend.batch_size(*self.model_size(height, width), self.max_batch)

    def _model_input(self, color: np.ndarray) -> np.ndarray:
        want, have = self.model.spec.in_channels, color.shape[2]
        if want == have:
            return color
        if have == 1 and want == 3:
            return np.repeat(color, 3, axis=2)
        if have == 3 and want == 1:
            return cv2.cvtColor(color, cv2.COLOR_RGB2GRAY)[:, :, None]
        raise StylizeError(f"the model takes {want}-channel images, this one has {have}")

    def stylize_batch(self, pictures: list[Picture]) -> list[Picture]:
        """Pictures of one size and sample type, stylized together; alpha passes through. The
        further pages of multi-page pictures, which may have other sizes, go one by one."""
        colors = [self._model_input(p.color) for p in pictures]
        return [
            Picture(o, p.alpha, [self.stylize(page) for page in p.more_pages])
            for o, p in zip(self.finished(colors, self._model_output(colors)), pictures)
        ]

    def _model_output(self, colors: list[np.ndarray]) -> list[np.ndarray]:
        """The model's output for equal-sized frames, run at ``model_size`` and brought back to
        their size."""
        h, w = colors[0].shape[:2]
        scale = self.model_scale(h, w)
        mh, mw = model_size(h, w, scale)
        if scale != 1 and self._chosen_scale(h, w) is None and not self._told_working_size:
            self._told_working_size = True  # once a run: folders of many sizes stay quiet
            self._log(
                f"{self.name} paints at its working size, {self.working_size} px on the shorter "
                f"side: larger pictures are stylized at that size and resized back ({w}x{h} at "
                f"{mw}x{mh}); --scale 1 paints at full resolution"
            )
        inputs = colors if (mh, mw) == (h, w) else [scaled(c, mw, mh) for c in colors]
        out = list(self.backend(torch.from_numpy(np.stack(inputs))).numpy())
        return out if (mh, mw) == (h, w) else [scaled(o, w, h) for o in out]

    def finished(self, originals: list[np.ndarray], outputs: list[np.ndarray]) -> list[np.ndarray]:
        """The active controls' ``finish`` steps (colours, strength), in order, applied last:
        after smoothing, for videos, so that a frame's own colours and strength 0 give that
        frame back exactly."""
        steps = [control for control in self.style.controls if control.active]
        if not steps:
            return outputs
        results = []
        for original, styled in zip(originals, outputs):
            model_input = self._model_input(original)
            for control in steps:
                styled = control.finish(model_input, styled)
            results.append(styled)
        return results

    def stylize(self, picture: Picture) -> Picture:
        return self.stylize_batch([picture])[0]

    def model_frames(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Equal-sized HxWxC frames through the model alone (at ``model_size``), in batches the
        memory budget allows; ``finished`` applies the other controls."""
        n = self.batch_size(*frames[0].shape[:2])
        out: list[np.ndarray] = []
        for i in range(0, len(frames), n):
            out += self._model_output([self._model_input(f) for f in frames[i : i + n]])
        return out

    def stylize_frames(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Equal-sized HxWxC frames, stylized with every control."""
        return self.finished(frames, self.model_frames(frames))
