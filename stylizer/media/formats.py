"""Media kinds and formats: which paths are videos, container and pixel formats on pipes, and
the encoder defaults a source implies."""

from __future__ import annotations

from pathlib import Path
from typing import Any, BinaryIO

from ..errors import StylizeError
from ..options import VideoOptions
from ..registry import lazy_module

av = lazy_module("av")  # PyAV: loaded on first use (only videos need it)

#: Extensions treated as videos.
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".ts", ".mts", ".nut")

#: A video file's path, or an open binary stream (a pipe: standard input or output).
Media = Path | BinaryIO

#: Formats for streams (pipes): name -> (FFmpeg muxer, video codec or None for the default).
#: ``png`` and ``jpeg`` are streams of concatenated images.
STREAM_FORMATS = {
    "nut": ("nut", None),
    "matroska": ("matroska", None),
    "mpegts": ("mpegts", None),
    "png": ("image2pipe", "png"),
    "jpeg": ("image2pipe", "mjpeg"),
}
#: Input formats that can be written to a stream again, by FFmpeg's demuxer name.
_STREAMABLE_INPUTS = {
    "png_pipe": "png",
    "jpeg_pipe": "jpeg",
    "mjpeg": "jpeg",
    "nut": "nut",
    "matroska": "matroska",
    "mpegts": "mpegts",
}
_FILE_FORMATS = {"mkv": "matroska", "m4v": "mp4", "ts": "mpegts", "mts": "mpegts"}

#: Raw pixel formats accepted on pipes, with their channel counts.
RAW_FORMATS = {"rgb24": 3, "bgr24": 3, "gray": 1}


def is_video_path(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def media_label(media: Media, stream_name: str) -> str:
    """A path names itself; a stream is ``stream_name`` (standard input or output)."""
    return str(media) if isinstance(media, Path) else stream_name


def video_shape(path: Path) -> tuple[int, int, int]:
    """Frames, height and width, from the container's metadata (zeros when it does not say):
    how much work a video is, before decoding any of it."""
    try:
        with av.open(str(path)) as inp:
            vin = inp.streams.video[0]
            frames = vin.frames
            if not frames and inp.duration and vin.average_rate:
                frames = int(inp.duration / av.time_base * vin.average_rate)
            return int(frames), vin.height, vin.width
    except (av.FFmpegError, OSError, ValueError, IndexError):
        return 0, 0, 0


def video_info(path: Path) -> dict[str, Any]:
    """A video file's frame size, frame rate and other streams, for reports (empty when it
    cannot be read)."""
    try:
        with av.open(str(path)) as container:
            video = container.streams.video[0]
            rate = video.average_rate or video.guessed_rate
            return {
                "size": [video.width, video.height],
                "fps": float(rate) if rate else None,
                "streams_kept": len(container.streams) - 1,
            }
    except (av.FFmpegError, OSError, ValueError, IndexError):
        return {}


def parse_size(text: str) -> tuple[int, int]:
    """``1280x720`` to (1280, 720)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise StylizeError(f"--raw wants WIDTHxHEIGHT, like 1280x720, not {text!r}") from None
    if w <= 0 or h <= 0:
        raise StylizeError(f"--raw size must be positive, not {text!r}")
    return w, h


def output_format(
    input_container: Any, target: Media | None, options: VideoOptions
) -> tuple[str | None, str]:
    """(FFmpeg muxer, default video codec): a file's from its extension (None lets FFmpeg
    guess); a stream's from ``stream_format``, else the input's format when it streams, else
    Matroska; no target is FFmpeg's null muxer, which discards what it gets."""
    if target is None:
        return "null", "libx264"
    if isinstance(target, Path):
        suffix = target.suffix.lower().lstrip(".")
        return _FILE_FORMATS.get(suffix), "libvpx-vp9" if suffix == "webm" else "libx264"
    demuxer = input_container.format.name.split(",")[0]
    name = options.stream_format or _STREAMABLE_INPUTS.get(demuxer, "matroska")
    if name not in STREAM_FORMATS:
        raise StylizeError(f"stream format {name!r}: use {', '.join(STREAM_FORMATS)}")
    muxer, codec = STREAM_FORMATS[name]
    return muxer, codec or "libx264"


def output_pix_fmt(source: str, codec: str, width: int, height: int) -> str:
    """Keep 4:4:4 sources 4:4:4; 4:2:0 otherwise, unless odd sizes forbid chroma subsampling."""
    if codec == "png":
        return "rgb24"
    full = "444" in source or width % 2 or height % 2
    if codec == "mjpeg":
        return "yuvj444p" if full else "yuvj420p"
    if full:
        return "yuv444p"
    return "yuv420p10le" if "10" in source and codec == "libx264" else "yuv420p"


def encoder_options(codec: str, options: VideoOptions) -> dict[str, str]:
    crf = str(options.crf if options.crf is not None else 18)
    if codec in ("libx264", "libx265"):
        return {"crf": crf, "preset": options.encoder_preset or "medium"}
    if codec == "libvpx-vp9":
        return {"crf": crf, "b:v": "0"}
    if codec == "mjpeg":
        return {"qmin": "1", "qmax": "3"}
    return {}
