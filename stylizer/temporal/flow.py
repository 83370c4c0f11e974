"""``flow``: the previous output, moved along the optical flow of the input frames, blended into
the current stylized frame wherever that pixel was visible in the previous frame.

Flow (OpenCV DIS) is computed on small grey versions of the input frames; a pixel counts as
visible as far as the previous input, warped the same way, matches the current input (the
photometric error), so occluded and newly revealed areas keep the fresh stylized pixels. Scene
cuts, and frames whose pixels mostly cannot be matched, restart the history. On a GPU the
full-resolution warp and blend run there.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from ..optical_flow import coarse_map, dis_flow, inside, sample_map, warp
from .base import Smoother, register_smoother

if TYPE_CHECKING:
    import torch

#: Grey-level error (0-255) at which a warped pixel stops counting as the same surface.
MATCH_TOLERANCE = 40.0
#: Frames smaller than this on both sides are too small for flow, and pass unchanged.
MIN_SIDE = 16
#: Below this fraction of visible pixels the frame is treated as a scene cut.
MIN_VISIBLE = 0.4


@register_smoother("flow")
class FlowSmoother(Smoother):
    default_strength = 0.6

    def __init__(self, strength: float | None = None, device: torch.device | None = None) -> None:
        super().__init__(strength, device)
        #: Warp and blend on the device (frames stylized on a GPU); tests set it on a CPU.
        self.on_device = device is not None and device.type == "cuda"

    def reset(self) -> None:
        super().reset()
        self.prev_tensor: Any = None  # ``prev_out`` on the device, NCHW float (a torch.Tensor)

    def restart(self) -> None:
        self.prev_tensor = None

    def relate(self, gray: np.ndarray, prev_gray: np.ndarray):
        """The flow to the previous frame and where it holds, or None (a cut, too small)."""
        if max(gray.shape) < MIN_SIDE:
            return None
        flow = dis_flow(gray, prev_gray, "ultrafast")  # current -> previous
        error = cv2.absdiff(gray, warp(prev_gray, flow)).astype(np.float32)
        visible = np.clip(1 - error / MATCH_TOLERANCE, 0, 1) * inside(flow)
        return None if visible.mean() < MIN_VISIBLE else (flow, visible)

    def blend(self, analysis, out: np.ndarray) -> np.ndarray:
        flow, visible = analysis
        h, w = out.shape[:2]
        if self.on_device:
            result = self._blend_tensor(out, coarse_map(flow, w, h), visible * self.strength)
        else:
            weight = cv2.resize(
                (visible * (255 * self.strength)).astype(np.uint8),
                (w, h),
                interpolation=cv2.INTER_LINEAR,
            )
            moved = cv2.remap(
                self.last,
                sample_map(flow, w, h),
                None,
                cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_REPLICATE,
            )
            result = blend(moved.reshape(out.shape), out, weight)
        return result

    def _blend_tensor(self, out: np.ndarray, coarse: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """The warp and blend on the device (``temporal._gpu``); the result stays there."""
        from ._gpu import blend_on_device

        device = self.device or "cpu"  # tests run the GPU code on the CPU
        result, self.prev_tensor = blend_on_device(
            device, self.last, self.prev_tensor, out, coarse, weight
        )
        return result


def blend(moved: np.ndarray, fresh: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``moved * w + fresh * (1 - w)`` per pixel, ``weight`` w in 0-255, in 8-bit arithmetic
    (a third of the time of floats; off by at most one grey level)."""
    channels = fresh.shape[2] if fresh.ndim == 3 else 1
    w = cv2.merge([weight] * channels) if channels > 1 else weight.reshape(fresh.shape)
    kept = cv2.multiply(moved, w, scale=1 / 255)
    new = cv2.multiply(fresh, cv2.bitwise_not(w), scale=1 / 255)
    return cv2.add(kept, new).reshape(fresh.shape)
