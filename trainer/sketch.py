"""Pencil-sketch versions of photos, so that a user with only photos can train sketch -> photo."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from stylizer.errors import StylizeError, failure_message, first_line
from stylizer.images import Picture, read_image, to_8bit, write_image

from .data import image_files


def pencil_sketch(rgb: np.ndarray, blur: int = 21) -> np.ndarray:
    """Colour-dodge of the grey image with its blurred negative: dark strokes on white."""
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) if rgb.shape[2] == 3 else rgb[:, :, 0]
    blurred = cv2.GaussianBlur(255 - grey, (blur, blur), 0)
    return cv2.divide(grey, 255 - blurred, scale=256)


def sketchify(src: Path, dst: Path, log=print) -> int:
    """Write a sketch for every image under ``src`` to the same relative path under ``dst``, and
    return how many it wrote. Sketches already there are kept, and never sketched again where
    ``dst`` lies inside ``src``. A file that cannot be read or written is one line, and the rest
    go on; then a one-line error says how many failed."""
    outputs = dst.resolve()
    photos = [p for p in image_files(src) if not p.resolve().is_relative_to(outputs)]
    if not photos:
        raise StylizeError(f"{src}: holds no images outside {dst}")
    count, failed = 0, 0
    for path in photos:
        target = dst / path.relative_to(src).with_suffix(".png")
        try:
            if target.exists():
                continue
            color = to_8bit(read_image(path).color)
            write_image(target, Picture(pencil_sketch(color)[:, :, None]))
            count += 1
        except (StylizeError, OSError) as e:  # reading says StylizeError: OSError is writing's
            if isinstance(e, OSError):  # a name too long for the file system, a full disk
                e = StylizeError(f"cannot write {target}: {e.strerror or first_line(e)}")
            log(failure_message(str(path), e))
            failed += 1
    log(f"wrote {count} sketch(es) to {dst}")
    if failed:
        raise StylizeError(f"{failed} of {len(photos)} photo(s) not sketched (said above)")
    return count
