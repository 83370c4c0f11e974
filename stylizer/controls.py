"""The creative controls applied around the model: ``--scale`` (the style's brush size),
``--keep-colors`` (the original's colours with the style's light and texture) and ``--strength``
(how much of the style)."""

from __future__ import annotations

import cv2
import numpy as np

from .options import StyleOptions


def scaled(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """``image`` resized to ``width`` x ``height`` (area when shrinking, cubic when growing),
    keeping its channel axis."""
    shrink = width * height < image.shape[0] * image.shape[1]
    out = cv2.resize(
        image, (width, height), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    )
    return out.reshape(height, width, *image.shape[2:])


def model_size(height: int, width: int, scale: float) -> tuple[int, int]:
    """The size the model runs at for a frame of ``height`` x ``width``: ``scale`` times it, at
    least 8 pixels a side."""
    return max(8, round(height * scale)), max(8, round(width * scale))


def keep_colors(original: np.ndarray, styled: np.ndarray) -> np.ndarray:
    """The luma (Y of YCrCb) of ``styled`` with the chroma of ``original``: the style's light,
    strokes and texture in the photo's own colours. Grey images have no colours to keep."""
    if original.shape[2] != 3 or styled.shape[2] != 3:
        return styled
    ycc = cv2.cvtColor(original, cv2.COLOR_RGB2YCrCb)
    ycc[:, :, 0] = cv2.cvtColor(styled, cv2.COLOR_RGB2YCrCb)[:, :, 0]
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def blend(original: np.ndarray, styled: np.ndarray, strength: float) -> np.ndarray:
    """``strength`` of ``styled`` over ``original``, per pixel, rounded to the samples' type."""
    mixed = original.astype(np.float32) * (1 - strength) + styled.astype(np.float32) * strength
    top = np.iinfo(styled.dtype).max
    return np.clip(np.rint(mixed), 0, top).astype(styled.dtype)


def apply_controls(original: np.ndarray, styled: np.ndarray, style: StyleOptions) -> np.ndarray:
    """What the model made of ``original`` (both HxWxC, same size and sample type), with the
    colour and strength controls applied."""
    if style.keep_colors:
        styled = keep_colors(original, styled)
    if style.strength < 1 and original.shape == styled.shape:
        styled = blend(original, styled, style.strength)
    return styled
