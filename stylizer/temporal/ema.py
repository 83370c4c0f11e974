"""``ema``: an exponential moving average of the stylized frames, the cheap baseline.

It ignores motion, so moving content leaves trails; it resets at scene cuts.
"""

from __future__ import annotations

import cv2
import numpy as np

from .base import Smoother, register_smoother

#: Mean absolute grey difference (0-1) between consecutive inputs that counts as a scene cut.
CUT_DIFFERENCE = 0.1


@register_smoother("ema")
class EmaSmoother(Smoother):
    default_strength = 0.4

    def is_cut(self, gray: np.ndarray) -> bool:
        if super().is_cut(gray):
            return True
        return bool(cv2.absdiff(gray, self.prev_gray).mean() / 255 > CUT_DIFFERENCE)

    def step(self, inp: np.ndarray, out: np.ndarray) -> np.ndarray:
        gray = self.analysis_gray(inp)
        if self.is_cut(gray) or self.prev_out.shape != out.shape:
            return self.restart(gray, out)
        result = cv2.addWeighted(self.prev_out, self.strength, out, 1 - self.strength, 0)
        self.prev_gray, self.prev_out = gray, result.reshape(out.shape)
        return self.prev_out
