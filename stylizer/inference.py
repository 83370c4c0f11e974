"""A generator on a device, ready to stylize pictures of any size, depth and channel count."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

from .engines import Engine, engine_class, resolve_device
from .errors import StylizeError
from .images import Picture
from .loading import load_generator
from .options import InferenceOptions


class Stylizer:
    """A generator loaded once and run by the backend ``options`` choose."""

    def __init__(
        self,
        weights: str | Path,
        options: InferenceOptions = InferenceOptions(),
        *,
        log: Callable[[str], None] = lambda msg: None,
        workload: int = 0,
    ) -> None:
        """``workload``: pixels (frames x size) the caller expects to process, if known; on a
        CPU, ``backend="auto"`` compiles the model only when that is enough to pay off."""
        self.model = load_generator(weights, bn_stats=options.bn_stats)
        where = resolve_device(options.device)
        self.engine: Engine = engine_class(options.backend, where, log, workload)(
            self.model,
            where,
            memory_budget=options.memory_mb * 2**20 if options.memory_mb else None,
            tile=options.tile,
            precision=options.precision,
        )
        self.max_batch = max(1, options.batch_size)

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
        frames = torch.from_numpy(np.stack([self._model_input(p.color) for p in pictures]))
        out = self.engine(frames).numpy()
        return [
            Picture(o, p.alpha, [self.stylize(page) for page in p.more_pages])
            for o, p in zip(out, pictures)
        ]

    def stylize(self, picture: Picture) -> Picture:
        return self.stylize_batch([picture])[0]

    def stylize_frames(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Equal-sized HxWxC frames, in batches the memory budget allows."""
        h, w = frames[0].shape[:2]
        n = self.engine.batch_size(h, w, self.max_batch)
        out: list[np.ndarray] = []
        for i in range(0, len(frames), n):
            out += [p.color for p in self.stylize_batch([Picture(f) for f in frames[i : i + n]])]
        return out
