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

from ..flow import dis_flow, inside, resize_flow, warp, warp_tensor
from .base import Smoother, register_smoother

#: Grey-level error (0-255) at which a warped pixel stops counting as the same surface.
MATCH_TOLERANCE = 24.0
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
        weight = cv2.resize(visible * self.strength, (w, h), interpolation=cv2.INTER_LINEAR)
        big = resize_flow(flow, w, h)
        if self.device.type == "cuda":
            result = self._blend_tensor(out, big, weight)
        else:
            moved = warp(self.prev_out, big).reshape(out.shape)
            result = cv2.blendLinear(moved, out, weight, 1 - weight).reshape(out.shape)
        self.prev_gray, self.prev_out = gray, result
        return result

    def _blend_tensor(self, out: np.ndarray, flow: np.ndarray, weight: np.ndarray) -> np.ndarray:
        """The warp and blend on the device, for frames that are stylized there."""

        def dev(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a).to(self.device, non_blocking=True)

        prev = dev(self.prev_out).permute(2, 0, 1)[None].float()
        moved = warp_tensor(prev, dev(flow)[None])[0].permute(1, 2, 0)
        wt = dev(weight)[..., None]
        result = moved * wt + dev(out).float() * (1 - wt)
        return result.round_().clamp_(0, 255).to(torch.uint8).cpu().numpy()
