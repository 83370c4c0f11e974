"""``--keep-colors``: the original's colours with the style's light, strokes and texture."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from typing_extensions import override

from .base import Control, option, register_control


@register_control("keep-colors", before=["strength"])  # the strength blends the kept colours
@dataclass(frozen=True)
class KeepColors(Control):
    keep_colors: bool = option(
        False,
        "Keep the input's colours; take the style's light, strokes and texture (YCrCb luma).",
    )

    @property
    @override
    def active(self) -> bool:
        return self.keep_colors

    @override
    def finish(self, original: np.ndarray, styled: np.ndarray) -> np.ndarray:
        """The luma (Y of YCrCb) of ``styled`` with the chroma of ``original``. Grey images have
        no colours to keep."""
        if original.shape[2] != 3 or styled.shape[2] != 3:
            return styled
        ycc = cv2.cvtColor(original, cv2.COLOR_RGB2YCrCb)
        ycc[:, :, 0] = cv2.cvtColor(styled, cv2.COLOR_RGB2YCrCb)[:, :, 0]
        return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)
