"""``--scale``: the style's brush size. Unlike the other controls it acts before the model: it
picks the size the model runs at (the result is resized back), and leaves the result alone."""

from __future__ import annotations

from dataclasses import dataclass

from typing_extensions import override

from .base import Control, option, register_control


def model_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """The size the model runs at for a frame of ``height`` x ``width``: ``scale`` times it, at
    least 8 pixels a side."""
    return max(8, round(height * scale)), max(8, round(width * scale))


@register_control("scale", before=["keep-colors", "strength"])  # it acts first, on the input
@dataclass(frozen=True)
class Scale(Control):
    scale: float | None = option(
        None,
        "Brush size: run the style at this fraction of each frame's size and resize the result "
        "back: 0.5 doubles the strokes, 2 halves them, 1 paints at full resolution. By default "
        "a preset paints frames larger than its working size (--list-presets) at that size, so "
        "its strokes keep their size relative to the picture.",
        between=(0.05, 8),
    )

    @override
    def model_scale(self, height: int, width: int) -> float | None:
        return self.scale
