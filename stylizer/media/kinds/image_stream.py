"""Streams of concatenated PNG or JPEG images on a pipe (``ffmpeg -f image2pipe``, ``cat
*.png``): decoded and stylized like a video, and written back as the same kind of images unless
``--format`` says otherwise."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import BinaryIO, ClassVar

from ..kind import StreamRun, register_kind
from .videos import Videos

#: The first bytes of each image format, and the stream format that writes it back.
_MAGIC = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg"}


def _image_format(head: bytes) -> str | None:
    return next((name for magic, name in _MAGIC.items() if head.startswith(magic)), None)


@register_kind("image stream", before=("video",))
class ImageStream(Videos):
    extensions: ClassVar[tuple[str, ...]] = ()
    benchmarked = False
    streams_files = False

    def claims_stream(self, head: bytes, raw: tuple[int, int] | None) -> bool:
        return raw is None and _image_format(head) is not None

    def stylize_stream(
        self, source: Path | BinaryIO, target: Path | BinaryIO | None, pipe: StreamRun
    ) -> int:
        if pipe.video.stream_format is None and not isinstance(target, Path):
            written_as = _image_format(pipe.head)
            pipe = replace(pipe, video=replace(pipe.video, stream_format=written_as))
        return super().stylize_stream(source, target, pipe)
