"""``flow``: the previous output, moved along the optical flow of the input frames, blended into
the current stylized frame wherever that pixel was visible in the previous frame.

Flow (OpenCV DIS) is computed on small grey versions of the input frames; a pixel counts as
visible as far as the previous input, warped the same way, matches the current input (the
photometric error), so occluded and newly revealed areas keep the fresh stylized pixels. Scene
cuts, and frames whose pixels mostly cannot be matched, restart the history. On a GPU the
full-resolution warp and blend run there.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from ..flow import dis_flow, inside, sample_map, warp, warp_tensor
from .base import Smoother, register_smoother

#: Grey-level error (0-255) at which a warped pixel stops counting as the same surface.
MATCH_TOLERANCE = 40.0
#: Frames smaller than this on both sides are too small for flow, and pass unchanged.
MIN_SIDE = 16
#: Below this fraction of visible pixels the frame is treated as a scene cut.
MIN_VISIBLE = 0.4


@register_smoother("flow")
class FlowSmoother(Smoother):
    default_strength = 0.6

    def step(self, inp: np.ndarray, out: np.ndarray) -> np.ndarray:
        gray = self.analysis_gray(inp)
        if self.is_cut(gray) or self.prev_out.shape != out.shape or max(gray.shape) < MIN_SIDE:
            return self.restart(gray, out)
        flow = dis_flow(gray, self.prev_gray, "ultrafast")  # current -> previous
        error = cv2.absdiff(gray, warp(self.prev_gray, flow)).astype(np.float32)
        visible = np.clip(1 - error / MATCH_TOLERANCE, 0, 1) * inside(flow)
        if visible.mean() < MIN_VISIBLE:
            return self.restart(gray, out)
        h, w = out.shape[:2]
        weight = cv2.resize(
            (visible * (255 * self.strength)).astype(np.uint8), (w, h), cv2.INTER_LINEAR
        )
        coords = sample_map(flow, w, h)
        if self.device.type == "cuda":
            result = self._blend_tensor(out, coords, weight)
        else:
            moved = cv2.remap(self.prev_out, coords, None, cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)  # fmt: skip
            result = blend(moved.reshape(out.shape), out, weight)
        self.prev_gray, self.prev_out = gray, result
        return result

    def _blend_tensor(self, out: np.ndarray, coords: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """The warp and blend on the device, for frames that are stylized there."""

        def dev(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a).to(self.device, non_blocking=True)

        prev = dev(self.prev_out).permute(2, 0, 1)[None].float()
        moved = warp_tensor(prev, dev(coords))[0].permute(1, 2, 0)
        wt = dev(weight)[..., None].float() / 255
        result = torch.lerp(dev(out).float(), moved, wt)
        return result.round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()


def blend(moved: np.ndarray, fresh: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """``moved * w + fresh * (1 - w)`` per pixel, ``weight`` w in 0-255, in 8-bit arithmetic
    (a third of the time of floats; off by at most one grey level)."""
    channels = fresh.shape[2] if fresh.ndim == 3 else 1
    w = cv2.merge([weight] * channels) if channels > 1 else weight.reshape(fresh.shape)
    kept = cv2.multiply(moved, w, scale=1 / 255)
    new = cv2.multiply(fresh, cv2.bitwise_not(w), scale=1 / 255)
    return cv2.add(kept, new).reshape(fresh.shape)
