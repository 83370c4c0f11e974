"""Bare frames of one size on pipes (``--raw WxH``): from standard input, stylized and smoothed
like a video's, to standard output in the same pixel format."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from ...progress import Progress
from .. import sinks, sources
from ..kind import MediaKind, StreamRun, register_kind
from ..processors import frame_processor
from ..stages import run


@register_kind("raw frames", before=("video",))
class RawFrames(MediaKind):
    def claims_stream(self, head: bytes, raw: tuple[int, int] | None) -> bool:  # noqa: ARG002
        return raw is not None

    def stream_problem(self, source: Path | BinaryIO, target: Path | BinaryIO) -> str | None:
        if isinstance(source, Path) or isinstance(target, Path):
            return "--raw reads frames from standard input and writes them to standard output"
        return None

    def stylize_stream(
        self, source: Path | BinaryIO, target: Path | BinaryIO | None, pipe: StreamRun
    ) -> int:
        assert pipe.raw is not None
        assert not isinstance(source, Path) and target is not None and not isinstance(target, Path)
        pix_fmt = pipe.video.pix_fmt or "rgb24"
        frames = sources.RawFrameReader(source, pipe.raw, pix_fmt)
        sink = sinks.RawFrameWriter(target, pix_fmt)
        bar = Progress(frames.label, "frame", enabled=pipe.run.progress)
        count = run(frames, frame_processor(pipe.stylizer, pipe.temporal), sink, bar).frames
        pipe.log(f"{count} frames stylized")
        return count
