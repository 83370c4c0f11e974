"""``--strength``: how much of the style, a per-pixel blend of the original and the result."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from typing_extensions import override

from .base import Control, option, register_control


@register_control("strength")
@dataclass(frozen=True)
class Strength(Control):
    strength: float = option(
        1.0,
        "How much of the style: 0 gives the input back, 0.5 is halfway (a per-pixel blend).",
        between=(0, 1),
    )

    @property
    @override
    def active(self) -> bool:
        return self.strength < 1

    @override
    def finish(self, original: np.ndarray, styled: np.ndarray) -> np.ndarray:
        """``strength`` of ``styled`` over ``original``, per pixel, rounded to the samples'
        type."""
        if original.shape != styled.shape:
            return styled
        mixed = original.astype(np.float32) * (1 - self.strength)
        mixed += styled.astype(np.float32) * self.strength
        top = np.iinfo(styled.dtype).max
        return np.clip(np.rint(mixed), 0, top).astype(styled.dtype)
