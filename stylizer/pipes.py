"""Raw video frames through pipes: ``ffmpeg ... -f rawvideo - | stylize - --raw WxH -o - | ...``.

Frames are read whole from the input stream, stylized in batches and written whole to the
output stream in the same pixel format; nothing but frame data goes to the output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import BinaryIO

import cv2
import numpy as np

from .errors import StylizeError

#: Raw pixel formats accepted on pipes, with their channel counts.
RAW_FORMATS = {"rgb24": 3, "bgr24": 3, "gray": 1}


def parse_size(text: str) -> tuple[int, int]:
    """``1280x720`` to (1280, 720)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise StylizeError(f"--raw wants WIDTHxHEIGHT, like 1280x720, not {text!r}") from None
    if w <= 0 or h <= 0:
        raise StylizeError(f"--raw size must be positive, not {text!r}")
    return w, h


def _read_frame(stream: BinaryIO, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def stylize_raw_stream(
    source: BinaryIO,
    sink: BinaryIO,
    size: tuple[int, int],
    pix_fmt: str,
    stylize_frames: Callable[[list[np.ndarray]], list[np.ndarray]],
    batch_size: int,
    on_frames: Callable[[int], None] = lambda n: None,
) -> int:
    """Stylize raw frames from ``source`` to ``sink``; returns how many frames were written.

    A stream that ends inside a frame is an error (after the complete frames are written).
    """
    if pix_fmt not in RAW_FORMATS:
        raise StylizeError(f"raw pixel format {pix_fmt!r}: use {', '.join(RAW_FORMATS)}")
    w, h = size
    channels = RAW_FORMATS[pix_fmt]
    frame_bytes = w * h * channels
    count, batch = 0, []

    def flush() -> None:
        nonlocal count, batch
        if not batch:
            return
        for out in stylize_frames(batch):
            if channels == 1:
                out = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY) if out.shape[2] == 3 else out
            elif pix_fmt == "bgr24":
                out = out[:, :, ::-1]
            elif out.shape[2] == 1:
                out = np.repeat(out, 3, axis=2)
            sink.write(np.ascontiguousarray(out).tobytes())
        sink.flush()
        count += len(batch)
        on_frames(len(batch))
        batch = []

    while True:
        data = _read_frame(source, frame_bytes)
        if len(data) < frame_bytes:
            flush()
            if not data and not count:
                raise StylizeError("standard input is empty: no frames to stylize")
            if data:
                raise StylizeError(
                    f"input ended inside frame {count + 1} ({len(data)} of {frame_bytes} bytes): "
                    f"is --raw {w}x{h} with --pix-fmt {pix_fmt} right?"
                )
            return count
        frame = np.frombuffer(data, np.uint8).reshape(h, w, channels)
        batch.append(frame[:, :, ::-1] if pix_fmt == "bgr24" else frame)
        if len(batch) >= batch_size:
            flush()
