"""Synthetic clips with known motion, for the temporal benchmarks and tests."""

from __future__ import annotations

import cv2
import numpy as np


def camera_move(
    photo: np.ndarray,
    count: int,
    size: tuple[int, int],
    shift: tuple[float, float] = (2.0, 0.0),
    zoom: float = 1.0,
) -> list[np.ndarray]:
    """A clip with known motion: a ``size`` (w, h) window panning by ``shift`` pixels a frame
    and zooming by ``zoom`` a frame across ``photo``, for testing smoothing and the metric."""
    w, h = size
    ph, pw = photo.shape[:2]
    frames = []
    for t in range(count):
        scale = zoom**t
        sx, sy = shift[0] * t, shift[1] * t
        # output pixel (x, y) shows photo pixel centre + (x - w/2 + sx, y - h/2 + sy) / scale
        cx, cy = pw / 2, ph / 2
        m = np.array(
            [[1 / scale, 0, cx + (sx - w / 2) / scale], [0, 1 / scale, cy + (sy - h / 2) / scale]],
            np.float32,
        )
        frames.append(
            cv2.warpAffine(
                photo,
                m,
                (w, h),
                flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                borderMode=cv2.BORDER_REFLECT,
            )
        )
    return frames
