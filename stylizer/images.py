"""Reading and writing still images: any depth, grey or colour, alpha kept, EXIF orientation applied.

OpenCV decodes and encodes (8- and 16-bit, alpha, every common format); Pillow, which torchvision
already brings, only reads the EXIF orientation tag, which OpenCV applies only when it also drops
alpha and depth.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PILImage

from .errors import StylizeError

#: Extensions read and written as still images.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
_NO_ALPHA = (".jpg", ".jpeg")
_8BIT_ONLY = (".jpg", ".jpeg", ".webp", ".bmp")
_ORIENTATION_TAG = 0x0112
# EXIF orientation -> OpenCV operations that bring the stored pixels upright.
_ORIENT_OPS = {
    2: [lambda a: cv2.flip(a, 1)],
    3: [lambda a: cv2.rotate(a, cv2.ROTATE_180)],
    4: [lambda a: cv2.flip(a, 0)],
    5: [lambda a: cv2.transpose(a)],
    6: [lambda a: cv2.rotate(a, cv2.ROTATE_90_CLOCKWISE)],
    7: [lambda a: cv2.transpose(a), lambda a: cv2.rotate(a, cv2.ROTATE_180)],
    8: [lambda a: cv2.rotate(a, cv2.ROTATE_90_COUNTERCLOCKWISE)],
}


@dataclass
class Picture:
    """An upright image: ``color`` is HxWx1 or HxWx3 RGB, uint8 or uint16; ``alpha`` HxW or None."""

    color: np.ndarray
    alpha: np.ndarray | None = None

    @property
    def size(self) -> tuple[int, int]:
        return self.color.shape[1], self.color.shape[0]


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def _orientation(data: bytes) -> int:
    try:
        with PILImage.open(io.BytesIO(data)) as im:
            return int(im.getexif().get(_ORIENTATION_TAG, 1))
    except Exception:  # no EXIF or a format Pillow does not know: nothing to rotate
        return 1


def decode_image(data: bytes, name: str = "image") -> Picture:
    """Decode encoded image bytes, or raise a one-line ``StylizeError`` naming ``name``."""
    if not data:
        raise StylizeError(f"{name}: empty file")
    pixels = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if pixels is None or pixels.size == 0:
        raise StylizeError(f"{name}: not a readable image (corrupt or unsupported format)")
    if pixels.dtype not in (np.uint8, np.uint16):
        if np.issubdtype(pixels.dtype, np.floating):
            pixels = (np.clip(pixels, 0, 1) * 65535 + 0.5).astype(np.uint16)
        else:
            raise StylizeError(f"{name}: unsupported sample type {pixels.dtype}")
    for op in _ORIENT_OPS.get(_orientation(data), []):
        pixels = op(pixels)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    channels = pixels.shape[2]
    alpha = None
    if channels in (2, 4):
        alpha, pixels = pixels[:, :, -1], pixels[:, :, :-1]
    if pixels.shape[2] == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
    return Picture(np.ascontiguousarray(pixels).reshape(*pixels.shape[:2], -1), alpha)


def read_image(path: str | Path) -> Picture:
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StylizeError(f"{path}: no such file") from None
    except OSError as e:
        raise StylizeError(f"{path}: cannot read ({e.strerror})") from None
    return decode_image(data, str(path))


def encode_image(picture: Picture, ext: str) -> bytes:
    """Encode for the format ``ext`` names, lowering depth or dropping alpha where it must."""
    ext = ext.lower()
    color, alpha = picture.color, picture.alpha
    if color.shape[2] == 3:
        color = cv2.cvtColor(color, cv2.COLOR_RGB2BGR)
    if alpha is not None and ext not in _NO_ALPHA:
        color = np.dstack([color, alpha.astype(color.dtype)])
    if color.dtype == np.uint16 and ext in _8BIT_ONLY:
        color = (color // 257).astype(np.uint8)
    try:
        ok, buf = cv2.imencode(ext, color)
    except cv2.error:
        ok = False
    if not ok:
        raise StylizeError(f"cannot encode an image as {ext}")
    return buf.tobytes()


def write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file in the same folder and rename: never a partial file at ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes files private; results are ordinary files
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_image(path: str | Path, picture: Picture) -> None:
    path = Path(path)
    write_atomic(path, encode_image(picture, path.suffix))
