"""Pencil-sketch versions of photos, so that a user with only photos can train sketch -> photo."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from stylizer.images import Picture, read_image, to_8bit, write_image

from .data import image_files


def pencil_sketch(rgb: np.ndarray, blur: int = 21) -> np.ndarray:
    """Colour-dodge of the grey image with its blurred negative: dark strokes on white."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.shape[2] == 3 else rgb[:, :, 0]
    blurred = cv2.GaussianBlur(255 - grey, (blur, blur), 0)
    return cv2.divide(grey, 255 - blurred, scale=256)


def sketchify(src: Path, dst: Path, log=print) -> int:
    """Write a sketch for every image under ``src`` to the same relative path under ``dst``."""
    count = 0
    for path in image_files(src):
        target = dst / path.relative_to(src).with_suffix(".png")
        if target.exists():
            continue
        color = to_8bit(read_image(path).color)
        write_image(target, Picture(pencil_sketch(color)[:, :, None]))
        count += 1
    log(f"wrote {count} sketch(es) to {dst}")
    return count
