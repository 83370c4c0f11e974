"""What every inference backend shares: device transfer, conversion, padding, tiling, batch sizing.

A backend provides ``infer`` (padded float NCHW on the device in, float NCHW out), whole frames
and tiles alike, and declares where ``auto`` tries it (``auto_before``); everything around the
model lives here so that all backends treat frames the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch

from ..device import (
    PRECISIONS,
    default_memory_budget,
    frames_per_batch,
    pad_to_multiple,
    padded_side,
    resolve_precision,
    torch_dtype,
)
from ..errors import StylizeError
from ..models import Generator
from ..tiling import tiled_forward
from ..worker import Worker

#: Below this activation budget an out-of-memory error is final.
MIN_BUDGET = 2**18


def _is_oom(error: BaseException) -> bool:
    text = str(error)
    return (
        isinstance(error, torch.OutOfMemoryError)
        or "out of memory" in text
        or "can't allocate" in text
    )


#: The one thread that runs all inference of a process.
_inference = Worker("stylize-inference")


class Backend:
    """Runs a generator on batches of uint8/uint16 NHWC frames and returns the same."""

    name = ""
    #: A precision the backend always runs in, whatever is asked (None: as asked).
    fixed_precision: str | None = None
    #: Where ``auto`` tries this backend for a long job, per device type: ahead of the backends
    #: named (``backend_class``). On a device type not listed ``auto`` never picks it, so a new
    #: backend is only used when named until it says where it stands.
    auto_before: Mapping[str, tuple[str, ...]] = {}
    #: Whether ``infer`` runs the model's own modules, and so honours the whole-image statistics
    #: that tiling fixes in their norm layers (``stylizer.tiling``): then tiles go through it. A
    #: backend running a graph traced without them sets False and its tiles run eagerly.
    infers_tiles = True

    def __init__(
        self,
        model: Generator,
        device: torch.device,
        memory_budget: int | None = None,
        tile: int | None = None,
        precision: str = "auto",
        notice: Callable[[str], None] = lambda msg: None,
    ) -> None:
        """``notice`` takes the one-line messages a backend has for the user (building an
        engine, a damaged cache): the caller's log, so they go where its other messages go."""
        self.notice = notice
        self.dtype = resolve_precision(self.fixed_precision or precision, device)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # a video repeats one frame size: tune once
            if self.dtype == torch.float32:  # fp32 means fp32 (PyTorch's convolutions use TF32)
                torch.backends.cudnn.allow_tf32 = False
                torch.backends.cuda.matmul.allow_tf32 = False
        self.device = device
        self.model = model.to(device=device, dtype=self.dtype, memory_format=self.memory_format)  # type: ignore[call-overload]
        self.model.eval()
        self.memory_budget = memory_budget or default_memory_budget(device)
        self.tile = tile
        self.bytes_per_pixel = model.activation_bytes_per_pixel

    @classmethod
    def unavailable(cls, device: torch.device) -> str | None:  # noqa: ARG003 (the default: a subclass may use it)
        """Why this backend cannot run on ``device`` here, or None when it can."""
        return None

    @property
    def memory_format(self) -> torch.memory_format:
        """The layout frames and weights take: channels-last, on a GPU (cuDNN's tensor-core
        kernels want it) and on a CPU, where oneDNN's convolutions and above all its transposed
        ones run faster so and the norms take it as it is (``models.norms``): the vangogh preset
        at 720p on one AMD EPYC core, 1.95 s a frame against 2.92 for NCHW in fp32, 0.86
        against 1.26 in bf16."""
        return torch.channels_last

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        """The backend's forward pass on a padded batch already on the device, in ``self.dtype``
        and channels-last."""
        raise NotImplementedError

    def _padded_pixels(self, height: int, width: int) -> int:
        m, least = self.model.size_multiple, self.model.min_size
        return padded_side(height, m, least) * padded_side(width, m, least)

    def batch_size(self, height: int, width: int, limit: int) -> int:
        """How many frames of this size go together (``device.frames_per_batch``)."""
        pixels = self._padded_pixels(height, width)
        on_cpu = self.device.type == "cpu"
        return frames_per_batch(pixels, self.bytes_per_pixel, self.memory_budget, on_cpu, limit)

    def tile_core(self, height: int, width: int) -> int | None:
        """Tile core side for a frame of this size, or None when it fits whole."""
        if self.tile:
            return self.tile if max(height, width) > self.tile else None
        if self._padded_pixels(height, width) * self.bytes_per_pixel <= self.memory_budget:
            return None
        side = int((self.memory_budget / self.bytes_per_pixel) ** 0.5) - 2 * self.model.halo
        return max(side, 4 * self.model.size_multiple)

    @property
    def precision(self) -> str:
        """The precision frames run in, by name."""
        return next(name for name in PRECISIONS if torch_dtype(name) == self.dtype)

    @property
    def gpu(self) -> torch.device | None:
        """The GPU frames are stylized on, None on the CPU."""
        return self.device if self.device.type == "cuda" else None

    @property
    def in_channels(self) -> int:
        """The channels the generator takes."""
        return self.model.spec.in_channels

    def stylize_array(self, frames: np.ndarray) -> np.ndarray:
        """``__call__`` on an NHWC array: what ``Stylizer`` hands every backend."""
        return self(torch.from_numpy(frames)).numpy()

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        """NHWC uint8 or uint16 frames (any device) to stylized frames of the same shape and type.

        Every call runs on the process's one inference thread, whichever thread makes it: CUDA
        graphs (``compile`` on a GPU) belong to the thread that recorded them, and each video
        is decoded and stylized by threads of its own.
        """
        if _inference.running_here():
            return self._on_device(frames)
        return _inference.submit(self._on_device, frames).result()

    def _on_device(self, frames: torch.Tensor) -> torch.Tensor:
        """``_stylize`` with the engine's GPU current on the inference thread (``cuda:1`` too)."""
        if self.device.type != "cuda":
            return self._stylize(frames)
        with torch.cuda.device(self.device):
            return self._stylize(frames)

    def _stylize(self, frames: torch.Tensor) -> torch.Tensor:
        """Out of memory, the same frames are retried one by one with half the memory budget,
        which ends in tiling: a frame is never skipped."""
        try:
            return self._run(frames)
        except (torch.OutOfMemoryError, RuntimeError) as e:
            if not _is_oom(e):
                raise
            if self.device.type == "cuda":
                torch.cuda.empty_cache()
            need = self._padded_pixels(*frames.shape[1:3]) * self.bytes_per_pixel * len(frames)
            budget = min(self.memory_budget, need) // 2
            if budget < MIN_BUDGET:
                raise StylizeError(f"out of memory even in small tiles on {self.device}") from None
            self.memory_budget = budget
            self.out_of_memory()
            return torch.cat([self._stylize(frame[None]) for frame in frames])

    def out_of_memory(self) -> None:
        """Called before the frames of a batch that ran out of memory are retried one by one:
        a backend drops whatever would make them cost as much again."""

    @torch.inference_mode()
    def _run(self, frames: torch.Tensor) -> torch.Tensor:
        peak = 255.0 if frames.dtype == torch.uint8 else 65535.0
        if self.device.type == "cuda" and frames.device.type == "cpu":
            frames = frames.pin_memory()  # integer frames cross once, pinned; floats made there
        x = frames.to(self.device, non_blocking=True).permute(0, 3, 1, 2).float()
        x = x.mul_(2 / peak).sub_(1)
        h, w = x.shape[-2:]
        x, (top, left) = pad_to_multiple(x, self.model.size_multiple, self.model.min_size)
        x = x.to(self.dtype).contiguous(memory_format=self.memory_format)
        core = self.tile_core(h, w)
        if core:
            forward = self.infer if self.infers_tiles else self.model
            y = tiled_forward(self.model, x, core, forward)
        else:
            y = self.infer(x)
        y = y[..., top : top + h, left : left + w].float()
        y = y.add_(1).mul_(peak / 2).round_().clamp_(0, peak)
        return y.to(frames.dtype).permute(0, 2, 3, 1).contiguous().cpu()
