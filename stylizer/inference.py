"""A generator on a device, ready to stylize pictures of any size, depth and channel count."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from .controls import model_size, scaled
from .device import cpu_has_fast_bf16, surely_cpu
from .errors import StylizeError
from .graph import FrameEngine, GraphBackend, onnxruntime_problem
from .images import Picture
from .options import InferenceOptions, StyleOptions
from .styles.loading import resolve

#: ``auto`` runs a preset's graph (``stylizer.graph``, no PyTorch) on a CPU for jobs of less
#: arithmetic than this (GFLOP, by the preset's figure per 720p frame), by whether the CPU
#: multiplies bf16 natively: past it, the second PyTorch takes to start is earned back by its
#: faster frames (bench/startup.py).
GRAPH_GFLOP = {"bf16": 500.0, "fp32": 1500.0}


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
        workload: Sequence[tuple[int, int, int]] | None = (),
    ) -> None:
        """``workload``: frames, height and width of each image and video the caller expects
        to process (None: unknown, a pipe); on a CPU, ``backend="auto"`` runs a preset's graph
        when the job is short and compiles the model only when it is long enough to pay off."""
        for control in style.controls:
            control.check()
        self.style = style
        self._log = log
        self._told_working_size = False
        #: The style's name in reports: a preset's name, a weight file's stem.
        self.name = style_name(weights)
        self._weights, self._preset = resolve(weights)
        #: The preset's working size (see ``Preset.working_size``); None for weight files.
        self.working_size = self._preset.working_size if self._preset else None
        graph = self._graph(options, workload)
        if graph is None:
            self.backend: FrameEngine = self._torch_backend(options, workload)
        else:
            budget = options.memory_mb * 2**20 if options.memory_mb else None
            tiles = replace(options, backend="eager", precision="fp32")  # what the graph runs
            self.backend = GraphBackend(graph, lambda: self._torch_backend(tiles), budget)
        self.max_batch = max(1, options.batch_size)

    def _graph(
        self, options: InferenceOptions, workload: Sequence[tuple[int, int, int]] | None
    ) -> Path | None:
        """The preset's graph, where it is to run: on the CPU, in float32 (unless another
        precision is asked for with ``auto``), with the generator as exported (per-image
        statistics, no forced tiles), named (``--backend ort``) or ``auto`` for a job shorter
        than ``GRAPH_GFLOP``; None: the PyTorch path."""
        graph = self._preset.graph if self._preset else None
        wanted = options.backend == "ort" or (options.backend == "auto" and self._short(workload))
        plain = (
            options.tile is None
            and options.bn_stats == "image"
            and (options.backend == "ort" or options.precision in ("auto", "fp32"))
        )
        if not (graph and wanted and plain and surely_cpu(options.device)):
            return None
        return graph if onnxruntime_problem() is None else None

    def _short(self, workload: Sequence[tuple[int, int, int]] | None) -> bool:
        """Whether a job is short enough for the graph (``GRAPH_GFLOP``); a pipe of unknown
        length is not."""
        gflop = self._preset.manifest.get("gflop_per_720p_frame") if self._preset else None
        if workload is None or not isinstance(gflop, int | float):
            return False
        job = self.model_pixels(workload) * gflop / (1280 * 720)
        return job < GRAPH_GFLOP["bf16" if cpu_has_fast_bf16() else "fp32"]

    def _torch_backend(
        self, options: InferenceOptions, workload: Sequence[tuple[int, int, int]] | None = ()
    ) -> FrameEngine:
        """The generator in PyTorch, run by the backend ``options`` choose."""
        from .backends.choice import backend_class
        from .device import resolve_device
        from .styles.weights import load_weights

        log = self._log
        preset = self._preset
        model = load_weights(self._weights, preset.spec if preset else None, options.bn_stats)
        if model.from_noise:
            raise StylizeError(
                f"{self.name} draws new images from random numbers; it does not stylize "
                f"images: stylize generate --preset {self.name} -n 16 -o new/"
            )
        where = resolve_device(options.device)
        return backend_class(
            options.backend, where, notice=log, workload=self.model_pixels(workload or ())
        )(
            model,
            where,
            memory_budget=options.memory_mb * 2**20 if options.memory_mb else None,
            tile=options.tile,
            precision=options.precision,
            notice=log,
        )

    def model_pixels(self, workload: Sequence[tuple[int, int, int]]) -> int:
        """The pixels the model runs over for images and videos of these frames, heights and
        widths."""
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
        want, have = self.backend.in_channels, color.shape[2]
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
        out = list(self.backend.stylize_array(np.stack(inputs)))
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
