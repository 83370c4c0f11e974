"""A preset's own ONNX graph run by ONNX Runtime on the CPU, without PyTorch.

Importing PyTorch alone takes over a second, longer than stylizing a photo with a fast preset;
ONNX Runtime imports in a fifth of that. A preset whose manifest names a ``graph`` (the bare
generator exported by ``stylizer.onnx``, checked against its weights by the test suite) is run
here when the CPU is the device and the backend is ``ort``, or ``auto`` on a short job
(``Stylizer``). The graph carries what the engine needs to know of its generator in its
metadata (``GraphFacts``): nothing of the generator's code is imported.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .device import cpu_memory_budget, frames_per_batch, padded_side, padding
from .errors import StylizeError

#: The ONNX metadata keys' prefix.
META_PREFIX = "stylize."


class FrameEngine(Protocol):
    """What ``Stylizer`` asks of a backend: NHWC integer frames in and out, and how many of a
    size go together. ``device`` and ``name`` are for reports; ``gpu`` is the GPU frames are
    stylized on (a ``torch.device``; None on the CPU), where smoothing can work too."""

    name: str
    device: Any

    @property
    def precision(self) -> str:
        """The precision frames run in, by name (``device.PRECISIONS``)."""
        ...

    @property
    def gpu(self) -> Any: ...

    @property
    def in_channels(self) -> int: ...

    def batch_size(self, height: int, width: int, limit: int) -> int: ...

    def stylize_array(self, frames: np.ndarray) -> np.ndarray: ...


@dataclass(frozen=True)
class GraphFacts:
    """What running a generator needs to know of it, stored in its graph's metadata."""

    #: Input height and width must be multiples of this.
    size_multiple: int
    #: Smallest input side; smaller frames are padded up to it.
    min_size: int
    #: Peak activation memory per input pixel, which sizes batches.
    activation_bytes_per_pixel: int
    #: ``weights_digest`` of the generator it was exported from.
    weights_digest: str

    def metadata(self) -> dict[str, str]:
        return {META_PREFIX + k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, metadata: dict[str, str], source: Path) -> GraphFacts:
        try:
            values = {f.name: metadata[META_PREFIX + f.name] for f in fields(cls)}
            return cls(
                size_multiple=int(values["size_multiple"]),
                min_size=int(values["min_size"]),
                activation_bytes_per_pixel=int(values["activation_bytes_per_pixel"]),
                weights_digest=values["weights_digest"],
            )
        except (KeyError, ValueError):
            raise StylizeError(
                f"{source}: not a stylize graph (its metadata lacks what stylize writes): "
                "export it again with stylize-train export"
            ) from None


def onnxruntime_problem() -> str | None:
    """Why ONNX Runtime cannot run here, or None when it can."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return "onnxruntime is not installed: pip install onnxruntime"
    return None


def open_session(path: Path, threads: int | None = None) -> Any:
    """An ONNX Runtime session for the graph at ``path`` on the CPU, with ``threads`` threads
    (default: ``$OMP_NUM_THREADS`` if set, else one per core this process may use: ONNX
    Runtime's own default, a thread per physical core it finds, ran vangogh-fast's first two
    frames a fifth slower on 2 cores)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    default = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 0
    options.intra_op_num_threads = threads or int(os.environ.get("OMP_NUM_THREADS") or default)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings are not the user's business
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class GraphBackend:
    """A generator's ONNX graph on the CPU, in float32: frames normalised, padded and cropped
    back exactly as ``backends.base.Backend`` does, so results match the PyTorch path to
    rounding. A frame too large for the memory budget goes to ``fallback`` (a PyTorch backend,
    made on first need), which tiles it with whole-image statistics as the graph cannot."""

    name = "ort"
    device = "cpu"
    precision = "fp32"
    gpu = None

    def __init__(
        self,
        path: Path,
        fallback: Callable[[], FrameEngine],
        memory_budget: int | None = None,
    ) -> None:
        try:
            self.session = open_session(path)
        except Exception as e:  # ONNX Runtime's own errors: a damaged or foreign file
            raise StylizeError(f"{path}: cannot load the graph ({str(e).splitlines()[0]})") from e
        meta = self.session.get_modelmeta().custom_metadata_map
        self.facts = GraphFacts.from_metadata(meta, path)
        #: The channels the generator takes (fixed in the graph; its other axes are dynamic).
        self.in_channels = int(self.session.get_inputs()[0].shape[1])
        self.memory_budget = memory_budget or cpu_memory_budget()
        self._fallback = fallback
        self._fallback_engine: FrameEngine | None = None

    def _padded_pixels(self, height: int, width: int) -> int:
        m, least = self.facts.size_multiple, self.facts.min_size
        return padded_side(height, m, least) * padded_side(width, m, least)

    def batch_size(self, height: int, width: int, limit: int) -> int:
        pixels = self._padded_pixels(height, width)
        per_pixel = self.facts.activation_bytes_per_pixel
        return frames_per_batch(pixels, per_pixel, self.memory_budget, True, limit)

    def fits(self, height: int, width: int) -> bool:
        """Whether one frame of this size runs whole within the memory budget."""
        need = self._padded_pixels(height, width) * self.facts.activation_bytes_per_pixel
        return need <= self.memory_budget

    def stylize_array(self, frames: np.ndarray) -> np.ndarray:
        """NHWC uint8 or uint16 frames to stylized frames of the same shape and type."""
        _, h, w, _ = frames.shape
        if not self.fits(h, w):
            if self._fallback_engine is None:
                self._fallback_engine = self._fallback()
            return self._fallback_engine.stylize_array(frames)
        peak = 255.0 if frames.dtype == np.uint8 else 65535.0
        x = frames.transpose(0, 3, 1, 2).astype(np.float32) * np.float32(2 / peak) - 1
        (top, bottom, left, right), mode = padding(
            h, w, self.facts.size_multiple, self.facts.min_size
        )
        if top or bottom or left or right:
            pads = ((0, 0), (0, 0), (top, bottom), (left, right))
            x = np.pad(x, pads, mode="reflect") if mode == "reflect" else np.pad(x, pads, "edge")
        y = self.session.run(None, {"x": np.ascontiguousarray(x)})[0]
        y = y[:, :, top : top + h, left : left + w]
        y = np.clip(np.round((y + 1) * np.float32(peak / 2)), 0, peak)
        return y.astype(frames.dtype).transpose(0, 2, 3, 1).copy()
