"""``ema``: an exponential moving average of the stylized frames, the cheap baseline.

It ignores motion, so moving content leaves trails; it resets at scene cuts.
"""

from __future__ import annotations

import cv2
import numpy as np
from typing_extensions import override

from .base import Smoother, register_smoother

#: Mean absolute grey difference (0-1) between consecutive inputs that counts as a scene cut.
CUT_DIFFERENCE = 0.1


@register_smoother("ema")
class EmaSmoother(Smoother):
    default_strength = 0.4

    def relate(self, gray: np.ndarray, prev_gray: np.ndarray) -> bool | None:
        cut = cv2.absdiff(gray, prev_gray).mean() / 255 > CUT_DIFFERENCE
        return None if cut else True

    @override
    def blend(self, analysis: bool, out: np.ndarray) -> np.ndarray:
        result = cv2.addWeighted(self.last, self.strength, out, 1 - self.strength, 0)
        return result.reshape(out.shape)
