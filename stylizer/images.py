"""Reading and writing still images: any depth, grey or colour, alpha kept, EXIF orientation applied.

OpenCV decodes and encodes (8- and 16-bit, alpha, every common format); Pillow, which torchvision
already brings, only reads the EXIF orientation tag, which OpenCV applies only when it also drops
alpha and depth.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image as PILImage

from .errors import StylizeError
from .files import write_atomic

# Our own one-line messages name every unreadable file; OpenCV's "[ WARN:0@...]" lines for the
# same files (truncated PNGs, say) only repeat them in another form.
cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
# Pillow only reads headers here; the pixel limit is ours (``--max-pixels``), not Pillow's.
PILImage.MAX_IMAGE_PIXELS = None

#: Extensions read and written as still images.
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
_NO_ALPHA = (".jpg", ".jpeg")
_8BIT_ONLY = (".jpg", ".jpeg", ".webp", ".bmp")
_MULTI_PAGE = (".tif", ".tiff")
#: OpenCV refuses to decode images of more pixels than this (its CV_IO_MAX_IMAGE_PIXELS).
OPENCV_MAX_PIXELS = 2**30
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
    """An upright image: ``color`` is HxWx1 or HxWx3 RGB, uint8 or uint16; ``alpha`` HxW or None.
    A multi-page TIFF is its first page, with the others in ``more_pages``."""

    color: np.ndarray
    alpha: np.ndarray | None = None
    more_pages: list[Picture] = field(default_factory=list)

    @property
    def size(self) -> tuple[int, int]:
        return self.color.shape[1], self.color.shape[0]

    @property
    def pages(self) -> list[Picture]:
        return [Picture(self.color, self.alpha), *self.more_pages]


def to_8bit(samples: np.ndarray) -> np.ndarray:
    """16-bit samples as 8-bit ones (65535 -> 255, the scale of 257 that 8-bit-to-16 uses)."""
    if samples.dtype == np.uint8:
        return samples
    return (samples // 257).astype(np.uint8)


def is_image_path(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS


def check_pages_fit(pages: int, ext: str) -> None:
    """A one-line error when ``pages`` pages cannot go into one file of format ``ext``: only
    TIFF holds several."""
    if pages > 1 and ext.lower() not in _MULTI_PAGE:
        raise StylizeError(
            f"{pages} pages do not fit in one {ext} image; write it as .tif to keep them all"
        )


def default_max_pixels() -> int:
    """The largest image read by default: what a 128th of this machine's memory holds at one
    byte a pixel (200 megapixels with 24 GiB; decoding, the float copies and tiling take about
    60 bytes a pixel), within OpenCV's own limit of 2**30."""
    memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return min(OPENCV_MAX_PIXELS, max(16_000_000, memory // 128))


@dataclass(frozen=True)
class _Header:
    width: int
    height: int
    pages: int
    orientation: int


def _header(data: bytes) -> _Header | None:
    """Size, page count and EXIF orientation from the header alone (Pillow reads no pixels to
    open a file), or None for what Pillow does not know."""
    try:
        with PILImage.open(io.BytesIO(data)) as im:
            try:
                orientation = int(im.getexif().get(_ORIENTATION_TAG, 1))
            except Exception:  # a damaged EXIF block: nothing to rotate
                orientation = 1
            return _Header(im.width, im.height, getattr(im, "n_frames", 1), orientation)
    except Exception:
        return None


def image_size(path: Path) -> tuple[int, int] | None:
    """Height and width of the image file at ``path`` from its header alone, or None."""
    try:
        with PILImage.open(path) as im:
            return im.height, im.width
    except Exception:  # what Pillow does not know, or cannot read: the reader will say
        return None


def _picture(pixels: np.ndarray, orientation: int, name: str) -> Picture:
    if pixels.dtype not in (np.uint8, np.uint16):
        if np.issubdtype(pixels.dtype, np.floating):
            pixels = (np.clip(pixels, 0, 1) * 65535 + 0.5).astype(np.uint16)
        else:
            raise StylizeError(f"{name}: unsupported sample type {pixels.dtype}")
    for op in _ORIENT_OPS.get(orientation, []):
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


def check_pixels(
    name: str, width: int, height: int, max_pixels: int | None, pages: int = 1
) -> None:
    """Refuse a picture (or a video's frames) whose header claims more than ``max_pixels``
    (default ``default_max_pixels()``): found before any pixel is decoded, so a crafted header
    cannot take all memory."""
    limit = max_pixels or default_max_pixels()
    if width * height * pages > limit:
        several = f" x {pages} pages" if pages > 1 else ""
        raise StylizeError(
            f"{name}: {width}x{height}{several} is {width * height * pages:,} pixels, over the "
            f"limit of {limit:,} (--max-pixels raises it)"
        )


def decode_image(data: bytes, name: str = "image", max_pixels: int | None = None) -> Picture:
    """Decode encoded image bytes (every page of a multi-page TIFF), or raise a one-line
    ``StylizeError`` naming ``name``. An image whose header claims more than ``max_pixels``
    (default ``default_max_pixels()``) is refused before any pixel is decoded."""
    if not data:
        raise StylizeError(f"{name}: empty file")
    header = _header(data)
    if header:
        check_pixels(name, header.width, header.height, max_pixels, header.pages)
    buffer = np.frombuffer(data, np.uint8)
    try:
        if header and header.pages > 1:
            ok, found = cv2.imdecodemulti(buffer, cv2.IMREAD_UNCHANGED)
            decoded = list(found) if ok else []
        else:
            page = cv2.imdecode(buffer, cv2.IMREAD_UNCHANGED)
            decoded = [] if page is None else [page]
    except cv2.error as e:
        detail = (str(e).strip().splitlines() or ["OpenCV refused it"])[-1].strip()
        raise StylizeError(f"{name}: not a readable image ({detail})") from None
    if not decoded or any(p.size == 0 for p in decoded):
        raise StylizeError(f"{name}: not a readable image (corrupt or unsupported format)")
    orientation = header.orientation if header else 1
    first, *more = [_picture(p, orientation, name) for p in decoded]
    first.more_pages = more
    return first


def read_image(path: str | Path, max_pixels: int | None = None) -> Picture:
    path = Path(path)
    if path.is_dir():
        raise StylizeError(f"{path}: a folder, not an image")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise StylizeError(f"{path}: no such file") from None
    except OSError as e:
        raise StylizeError(f"{path}: cannot read ({e.strerror})") from None
    return decode_image(data, str(path), max_pixels)


def _encodable(picture: Picture, ext: str) -> np.ndarray:
    color, alpha = picture.color, picture.alpha
    if color.shape[2] == 3:
        color = cv2.cvtColor(color, cv2.COLOR_RGB2BGR)
    if alpha is not None and ext not in _NO_ALPHA:
        color = np.dstack([color, alpha.astype(color.dtype)])
    if color.dtype == np.uint16 and ext in _8BIT_ONLY:
        color = to_8bit(color)
    return color


def encode_image(picture: Picture, ext: str) -> bytes:
    """Encode for the format ``ext`` names, lowering depth or dropping alpha where it must; a
    multi-page picture as a multi-page TIFF (other formats hold one page: an error)."""
    ext = ext.lower()
    check_pages_fit(len(picture.pages), ext)
    pages = [_encodable(p, ext) for p in picture.pages]
    try:
        ok, buf = cv2.imencodemulti(ext, pages) if len(pages) > 1 else cv2.imencode(ext, pages[0])
    except cv2.error:
        ok = False
    if not ok:
        raise StylizeError(f"cannot encode an image as {ext}")
    return np.asarray(buf).tobytes()


def write_image(path: str | Path, picture: Picture, overwrite: bool = True) -> None:
    """Encode by the extension and write atomically (see ``files.atomic_output``)."""
    path = Path(path)
    write_atomic(path, encode_image(picture, path.suffix), overwrite)


def resized(picture: Picture, size: int | None = None, max_size: int | None = None) -> Picture:
    """Scale keeping the aspect ratio: shorter side to ``size``; longer side at most ``max_size``."""
    w, h = picture.size
    scale = 1.0
    if size:
        scale = size / min(w, h)
    if max_size and max(w, h) * scale > max_size:
        scale = max_size / max(w, h)
    if scale == 1.0:
        return picture
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC

    def fit(a: np.ndarray) -> np.ndarray:
        return cv2.resize(a, new, interpolation=interp).reshape(new[1], new[0], *a.shape[2:])

    return Picture(
        fit(picture.color),
        None if picture.alpha is None else fit(picture.alpha),
        [resized(page, size, max_size) for page in picture.more_pages],
    )
