"""Videos made from frames that come from no video (a walk through a generator's noise space, a
training timelapse): the same encoders, containers and options as stylized videos, a constant
frame rate, written under a temporary name and published whole."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..errors import StylizeError
from ..files import atomic_output
from ..options import VideoOptions
from ..registry import lazy_module
from .formats import encoder_options, output_format, output_pix_fmt

av = lazy_module("av")  # PyAV: loaded on first use (only videos need it)


def write_frames(
    path: Path,
    frames: Iterable[np.ndarray],
    fps: int,
    options: VideoOptions = VideoOptions(),
    *,
    overwrite: bool = False,
) -> int:
    """Encode HxWx3 uint8 RGB ``frames`` (all one size) at ``fps`` into ``path``; the number
    written. Nothing is left at ``path`` if it fails."""
    muxer, default_codec = output_format(None, path, options)
    codec = options.codec or default_codec
    count = 0
    try:
        with (
            atomic_output(path, overwrite=overwrite) as tmp,
            av.open(str(tmp), "w", format=muxer) as out,
        ):
            stream: Any = None
            for array in frames:
                if stream is None:
                    stream = cast(Any, out.add_stream(codec, rate=Fraction(fps)))
                    stream.codec_context.time_base = Fraction(1, fps)
                    stream.height, stream.width = array.shape[:2]
                    stream.pix_fmt = options.pix_fmt or output_pix_fmt(
                        "", codec, *array.shape[1::-1]
                    )
                    stream.options = encoder_options(codec, options)
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")
                frame.pts, frame.time_base = count, Fraction(1, fps)
                out.mux(stream.encode(frame.reformat(format=stream.pix_fmt)))
                count += 1
            if stream is None:
                raise StylizeError(f"{path}: no frames to write")
            out.mux(stream.encode(None))
    except (av.FFmpegError, ValueError, OSError) as e:
        raise StylizeError(f"{path}: cannot write the video ({e}); nothing was written") from None
    return count
