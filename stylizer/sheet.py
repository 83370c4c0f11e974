"""``stylize sheet``: one image with a photo and every style's result, labelled, so that a user
picks a style by looking; a folder of photos gives one row each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .errors import StylizeError, failure_message
from .images import Picture, is_image_path, read_image, resized, to_8bit
from .inference import Stylizer, style_name
from .options import InferenceOptions, StyleOptions
from .outputs import not_a_file

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


@dataclass
class Sheet:
    """The sheet's pixels (HxWx3 uint8 RGB), and what could not be shown."""

    image: np.ndarray
    failed_photos: list[str] = field(default_factory=list)
    failed_styles: list[str] = field(default_factory=list)


def contact_sheet(
    photos: list[Path],
    styles: list[str],
    *,
    side: int = 256,
    inference: InferenceOptions = InferenceOptions(),
    style: StyleOptions = StyleOptions(),
    log: Callable[[str], None] = lambda msg: None,
) -> Sheet:
    """One row per photo: the photo, then its result with each of ``styles`` (preset names or
    weight files), every tile labelled; and what failed (photos that cannot be read, which get
    no row, and styles, whose tiles are left white), each logged on one line."""
    failed_photos, failed_styles = [], []
    pictures, names = [], []
    for photo in photos:
        try:
            pictures.append(resized(read_image(photo), max_size=side))
            names.append(photo.name)
        except StylizeError as e:
            log(f"error: {failure_message(str(photo), e)}")
            failed_photos.append(str(photo))
    if not pictures:
        raise StylizeError("none of the photos could be read: no sheet")
    rows = [[labelled(_square(pic.color, side), name)] for name, pic in zip(names, pictures)]
    for name in styles:
        try:
            stylizer = Stylizer(name, inference, style)
            results = [stylizer.stylize(Picture(pic.color)).color for pic in pictures]
        except StylizeError as e:
            log(f"error: {failure_message(name, e)}")
            failed_styles.append(name)
            results = [np.full((1, 1, 3), 255, np.uint8) for _ in pictures]
        for row, result in zip(rows, results):
            row.append(labelled(_square(result, side), style_name(name)))
    return Sheet(tile_grid(rows), failed_photos, failed_styles)


def tile_grid(rows: list[list[np.ndarray]], padding: int = _PADDING) -> np.ndarray:
    """The tiles (all of one size) on a white sheet, ``padding`` pixels around each."""
    th, tw = rows[0][0].shape[:2]
    columns = max(len(row) for row in rows)
    step_y, step_x = th + padding, tw + padding
    sheet = np.full((len(rows) * step_y + padding, columns * step_x + padding, 3), 255, np.uint8)
    for r, row in enumerate(rows):
        for c, tile in enumerate(row):
            y, x = padding + r * step_y, padding + c * step_x
            sheet[y : y + th, x : x + tw] = tile
    return sheet


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
            raise StylizeError(not_a_file(path))
    if not photos:
        raise StylizeError("no photos to show: give image files or folders of them")
    return photos
