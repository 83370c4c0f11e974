"""``stylize sheet``: one image with a photo and every style's result, labelled, so that a user
picks a style by looking; a folder of photos gives one row each."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch
from torchvision.utils import make_grid

from .errors import StylizeError, failure_message
from .images import Picture, is_image_path, read_image, resized, to_8bit
from .inference import Stylizer, style_name
from .options import InferenceOptions, StyleOptions

#: Height of the strip above each tile that names it, in pixels.
LABEL_HEIGHT = 22
_PADDING = 4


def labelled(tile: np.ndarray, label: str) -> np.ndarray:
    """``tile`` (HxWx3 uint8 RGB) under a white strip with ``label`` in black, cut to fit."""
    strip = np.full((LABEL_HEIGHT, tile.shape[1], 3), 255, np.uint8)
    font, scale = cv2.FONT_HERSHEY_SIMPLEX, 0.5
    while len(label) > 1 and cv2.getTextSize(label, font, scale, 1)[0][0] > tile.shape[1] - 8:
        label = label[:-1]
    cv2.putText(strip, label, (4, 16), font, scale, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([strip, tile])


def _rgb8(color: np.ndarray) -> np.ndarray:
    color = to_8bit(color)
    return np.repeat(color, 3, axis=2) if color.shape[2] == 1 else color[:, :, :3]


def _square(color: np.ndarray, side: int) -> np.ndarray:
    """``color`` centred on a white square of ``side`` pixels (its longer side)."""
    square = np.full((side, side, 3), 255, np.uint8)
    h, w = color.shape[:2]
    top, left = (side - h) // 2, (side - w) // 2
    square[top : top + h, left : left + w] = _rgb8(color)
    return square


def contact_sheet(
    photos: list[Path],
    styles: list[str],
    *,
    side: int = 256,
    inference: InferenceOptions = InferenceOptions(),
    style: StyleOptions = StyleOptions(),
    log: Callable[[str], None] = lambda msg: None,
) -> tuple[np.ndarray, list[str]]:
    """One row per photo: the photo, then its result with each of ``styles`` (preset names or
    weight files), every tile labelled; and the styles that failed, which are logged and whose
    tiles are left white."""
    pictures = [resized(read_image(p), max_size=side) for p in photos]
    rows = [[labelled(_square(pic.color, side), p.name)] for p, pic in zip(photos, pictures)]
    failed = []
    for name in styles:
        try:
            stylizer = Stylizer(name, inference, style)
            results = [stylizer.stylize(Picture(pic.color)).color for pic in pictures]
        except StylizeError as e:
            log(f"error: {failure_message(name, e)}")
            failed.append(name)
            results = [np.full((1, 1, 3), 255, np.uint8) for _ in pictures]
        for row, result in zip(rows, results):
            row.append(labelled(_square(result, side), style_name(name)))
    batch = torch.from_numpy(np.stack([t for row in rows for t in row])).permute(0, 3, 1, 2)
    grid = make_grid(batch, nrow=len(styles) + 1, padding=_PADDING, pad_value=255)
    return grid.permute(1, 2, 0).numpy(), failed


def sheet_inputs(inputs: list[str]) -> list[Path]:
    """The photos ``inputs`` name: image files, and the images in folders (sorted)."""
    photos: list[Path] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            photos += sorted(p for p in path.iterdir() if p.is_file() and is_image_path(p))
        elif path.is_file():
            photos.append(path)
        else:
            raise StylizeError(f"{path}: no such file or folder")
    if not photos:
        raise StylizeError("no photos to show: give image files or folders of them")
    return photos
