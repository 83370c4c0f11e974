"""Sources: image files, a video decoded by PyAV (a file or a pipe), raw frames from a pipe."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, cast

import numpy as np

from ..errors import StylizeError
from ..images import Picture, check_pages_fit, check_pixels, read_image, resized
from ..options import ImageOptions
from ..registry import lazy_module
from .formats import RAW_FORMATS, Media, media_label
from .stages import Failure, Frame, Job, Packets, Source

if TYPE_CHECKING:
    from av import VideoFrame
    from av.container import InputContainer

av = lazy_module("av")  # PyAV: loaded on first use (only videos need it)

#: Images decoded ahead of the engine, at most.
_IMAGES_AHEAD = 8


class ImageReader(Source):
    """The images of ``jobs``, decoded ahead on two threads (OpenCV's codecs release the GIL)
    and resized as ``options`` say; one that cannot be read is a ``Failure``, not the end."""

    label, unit = "images", "image"

    def __init__(self, jobs: list[Job], options: ImageOptions) -> None:
        self.jobs, self.options, self.total = jobs, options, len(jobs)

    def _load(self, job: Job) -> Picture:
        picture = read_image(job.source, self.options.max_pixels)
        check_pages_fit(len(picture.pages), job.target.suffix)  # before, not after, inference
        return resized(picture, self.options.size, self.options.max_size)

    def __iter__(self) -> Iterator[Frame | Failure]:
        readers = ThreadPoolExecutor(2)
        try:
            jobs = iter(self.jobs)
            ahead = deque(
                (job, readers.submit(self._load, job)) for job in islice(jobs, _IMAGES_AHEAD)
            )
            while ahead:
                job, future = ahead.popleft()
                following = next(jobs, None)
                if following is not None:
                    ahead.append((following, readers.submit(self._load, following)))
                try:
                    yield Frame(future.result(), job=job)
                except Exception as e:
                    yield Failure(job, e)
        finally:
            readers.shutdown(cancel_futures=True)  # a stop signal waits for no queued decode


class VideoReader(Source):
    """Every frame of a video's first video stream with its timestamp and rotation, and the
    packets of its audio, subtitle and data streams. ``media`` is a path or an open binary stream
    (a pipe: any container FFmpeg reads from one). Opened at once, so a file that is not a video,
    or whose frames are larger than ``max_pixels`` (``check_pixels``), fails before any work; a
    context manager that closes it."""

    def __init__(self, media: Media, max_pixels: int | None = None) -> None:
        self.label = media_label(media, "standard input")
        self.piped = not isinstance(media, Path)
        try:
            self.container = cast("InputContainer", av.open(media if self.piped else str(media)))
        except (av.FFmpegError, OSError, ValueError) as e:
            raise StylizeError(f"{self.label}: not a readable video ({e})") from None
        if not self.container.streams.video:
            self.container.close()
            raise StylizeError(f"{self.label}: has no video stream")
        self.video = self.container.streams.video[0]
        try:
            check_pixels(self.label, self.video.width, self.video.height, max_pixels)
        except StylizeError:
            self.container.close()
            raise
        self.video.thread_type = "AUTO"
        self.total = self.video.frames or None
        self.others = [
            s
            for s in self.container.streams
            if s is not self.video and s.type in ("audio", "subtitle", "data")
        ]

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *_: object) -> None:
        self.container.close()

    def __iter__(self) -> Iterator[Frame | Packets]:
        count = 0
        try:
            for packet in self.container.demux([self.video, *self.others]):
                if packet.stream.index != self.video.index:
                    if packet.dts is not None:
                        yield Packets([packet])
                    continue
                for frame in cast("list[VideoFrame]", packet.decode()):
                    count += 1
                    yield Frame(
                        Picture(frame.to_ndarray(format="rgb24")), frame.pts, frame.rotation
                    )
        except av.FFmpegError as e:
            hint = ""
            if self.piped and self.container.format.name.startswith("mov"):
                hint = "; an MP4/MOV read from a pipe needs its index first (-movflags +faststart)"
            raise StylizeError(f"{self.label}: video failed at frame {count} ({e}){hint}") from None
        if self.total and count < self.total:
            raise StylizeError(
                f"{self.label}: only {count} of {self.total} frames could be decoded "
                "(truncated or corrupt file)"
            )


def _read_exactly(stream: BinaryIO, size: int) -> bytes:
    chunks, got = [], 0
    while got < size:
        chunk = stream.read(size - got)
        if not chunk:
            break
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


class RawFrameReader(Source):
    """Bare frames of ``size`` (width, height) in ``pix_fmt`` (a key of ``RAW_FORMATS``) from a
    stream. A stream that ends inside a frame is an error, after the complete frames."""

    label = "standard input"

    def __init__(self, stream: BinaryIO, size: tuple[int, int], pix_fmt: str) -> None:
        if pix_fmt not in RAW_FORMATS:
            raise StylizeError(f"raw pixel format {pix_fmt!r}: use {', '.join(RAW_FORMATS)}")
        self.stream, self.size, self.pix_fmt = stream, size, pix_fmt

    def __iter__(self) -> Iterator[Frame]:
        w, h = self.size
        channels = RAW_FORMATS[self.pix_fmt]
        frame_bytes = w * h * channels
        count = 0
        while True:
            data = _read_exactly(self.stream, frame_bytes)
            if len(data) == frame_bytes:
                frame = np.frombuffer(data, np.uint8).reshape(h, w, channels)
                yield Frame(Picture(frame[:, :, ::-1] if self.pix_fmt == "bgr24" else frame))
                count += 1
            elif data:
                raise StylizeError(
                    f"input ended inside frame {count + 1} ({len(data)} of {frame_bytes} bytes): "
                    f"is --raw {w}x{h} with --pix-fmt {self.pix_fmt} right?"
                )
            elif not count:
                raise StylizeError("standard input is empty: no frames to stylize")
            else:
                return
