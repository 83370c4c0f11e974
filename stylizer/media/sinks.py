"""Sinks: image files, a video encoded by PyAV (a file, a pipe, or nothing for benchmarks), raw
frames to a pipe."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import cv2
import numpy as np

from ..errors import StylizeError
from ..files import atomic_output
from ..images import write_image
from ..options import VideoOptions
from ..registry import lazy_module
from .formats import (
    RAW_FORMATS,
    Media,
    encoder_options,
    media_label,
    output_format,
    output_pix_fmt,
)
from .sources import VideoReader
from .stages import Batch, Failure, Frame, Job, Packets, Sink

if TYPE_CHECKING:
    from av.container import OutputContainer

av = lazy_module("av")  # PyAV: loaded on first use (only videos need it)

_COLOR_FIELDS = ("color_primaries", "color_trc", "colorspace", "color_range")

#: Audio codecs MPEG-TS can carry; FFmpeg's muxer would write any other as an opaque data stream.
_MPEGTS_AUDIO = {"aac", "aac_latm", "mp2", "mp3", "ac3", "eac3", "dts", "truehd", "opus", "s302m"}

_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


class ImageWriter(Sink):
    """Each image written atomically to its job's target; ``done`` and ``failed`` hear of every
    image, so one that cannot be written is reported and the others go on."""

    def __init__(
        self,
        overwrite: bool,
        done: Callable[[Frame], None],
        failed: Callable[[Job, Exception], None],
    ) -> None:
        self.overwrite, self.done, self.failed = overwrite, done, failed

    def write(self, batch: Batch) -> None:
        for frame in batch.frames:
            job = frame.job
            assert job is not None
            try:
                write_image(job.target, frame.picture, self.overwrite)
            except OSError as e:
                self.failed(job, StylizeError(f"{job.target}: cannot write ({e.strerror or e})"))
            except Exception as e:
                self.failed(job, e)
            else:
                self.done(frame)
        for rider in batch.riders:
            if isinstance(rider, Failure):
                self.failed(rider.job, rider.error)


class RawFrameWriter(Sink):
    """Bare frames to ``stream`` in ``pix_fmt``, flushed after every batch; nothing else."""

    def __init__(self, stream: BinaryIO, pix_fmt: str) -> None:
        self.stream, self.pix_fmt = stream, pix_fmt

    def write(self, batch: Batch) -> None:
        for frame in batch.frames:
            out = frame.picture.color
            if RAW_FORMATS[self.pix_fmt] == 1:
                out = cv2.cvtColor(out, cv2.COLOR_RGB2GRAY) if out.shape[2] == 3 else out
            elif self.pix_fmt == "bgr24":
                out = out[:, :, ::-1]
            elif out.shape[2] == 1:
                out = np.repeat(out, 3, axis=2)
            self.stream.write(np.ascontiguousarray(out).tobytes())
        self.stream.flush()


class _Route:
    """Where one input stream's packets go: copied untouched, or (audio the output container
    cannot hold, with ``reencode_audio``) decoded and encoded again; PyAV's encoder converts
    the sample format and frame size itself."""

    def __init__(self, out_stream: Any, source_stream: Any = None) -> None:
        self.out = out_stream
        self.decoder = source_stream.codec_context if source_stream is not None else None

    def packets(self, packet: Any) -> list[Any]:
        """Output packets for ``packet`` (None flushes a re-encoder)."""
        if self.decoder is None:
            if packet is None:
                return []
            packet.stream = self.out
            return [packet]
        out = []
        for frame in self.decoder.decode(packet):
            frame.pts = None  # the encoder counts samples from the first
            out += self.out.encode(frame)
        if packet is None:
            out += self.out.encode(None)
        return out


def _named_layout(layout: Any) -> Any:
    """Encoders such as AAC want a named channel layout; sources may only give a count."""
    if "channels" not in layout.name:
        return layout
    return _LAYOUTS.get(len(layout.channels), layout)


def _reencoded_audio(out: Any, s: Any) -> Any:
    """An output audio stream for ``s`` in the first codec the container takes (AAC, Opus, its
    default), at the source's sample rate where the encoder allows it."""
    rate = s.codec_context.sample_rate
    for codec in ("aac", "libopus", out.default_audio_codec):
        try:
            rates = av.Codec(codec, "w").audio_rates
            stream = out.add_stream(codec, rate=rate if not rates or rate in rates else max(rates))
        except (av.FFmpegError, ValueError):
            continue
        stream.codec_context.layout = _named_layout(s.codec_context.layout)
        stream.bit_rate = 192_000
        return stream
    raise StylizeError("no audio encoder that this container takes")


class VideoWriter(Sink):
    """Frames encoded with each one's source timestamp, the source's other streams routed
    along, into ``target``: a file (written under a temporary name and published whole; without
    ``overwrite`` never over a file another run published meanwhile), an open stream (in
    ``options.stream_format``), or None to encode and discard (benchmarks)."""

    def __init__(
        self,
        target: Media | None,
        source: VideoReader,
        options: VideoOptions,
        *,
        overwrite: bool = True,
    ) -> None:
        self.label = media_label(target, "standard output") if target is not None else "output"
        self.source, self.options, self.count = source, options, 0
        self._cleanup = ExitStack()
        destination: str | BinaryIO = os.devnull
        if isinstance(target, Path):
            keep = target.with_name(f"{target.stem}.partial{target.suffix}")
            tmp = atomic_output(
                target, overwrite=overwrite, partial=keep if options.keep_partial else None
            )
            destination = str(self._cleanup.enter_context(tmp))
        elif target is not None:
            destination = target
        self.container: OutputContainer | None = None
        try:
            self._open(destination, target)
        except BaseException as e:
            self.abort(e)
            if isinstance(e, av.FFmpegError | ValueError):
                raise StylizeError(
                    f"{self.label}: cannot set up the output ({e}); nothing was written"
                ) from None
            raise

    def _open(self, destination: str | BinaryIO, target: Media | None) -> None:
        vin = self.source.video
        muxer, codec = output_format(self.source.container, target, self.options)
        try:
            self.container = av.open(destination, "w", format=muxer)
        except (av.FFmpegError, ValueError) as e:
            raise StylizeError(f"{self.label}: cannot write this container ({e})") from None
        codec = self.options.codec or codec
        cc = vin.codec_context
        rate = vin.average_rate or vin.guessed_rate or 25
        self.stream: Any = cast(Any, self.container.add_stream(codec, rate=rate))  # a video stream
        self.stream.width, self.stream.height = cc.width, cc.height
        self.stream.pix_fmt = self.options.pix_fmt or output_pix_fmt(
            cc.pix_fmt or "", codec, cc.width, cc.height
        )
        self.stream.time_base = self.stream.codec_context.time_base = vin.time_base
        for name in _COLOR_FIELDS:
            value = getattr(cc, name, None)
            if value:
                setattr(self.stream.codec_context, name, value)
        self.stream.options = encoder_options(codec, self.options)
        self.routes = {s.index: self._route(s) for s in self.source.others}

    def _route(self, s: Any) -> _Route:
        assert self.container is not None
        try:
            codec = s.codec_context.name
            if (
                self.container.format.name == "mpegts"
                and s.type == "audio"
                and codec not in _MPEGTS_AUDIO
            ):
                raise ValueError(f"'mpegts' format does not support '{s.codec_context.name}' audio")
            return _Route(self.container.add_stream_from_template(s))
        except ValueError as e:
            if s.type == "audio" and self.options.reencode_audio:
                return _Route(_reencoded_audio(self.container, s), s)
            can_audio = self.container.default_audio_codec not in (None, "none")
            hint = "--reencode-audio converts it; " if s.type == "audio" and can_audio else ""
            raise StylizeError(
                f"{self.label}: this container cannot hold the {s.type} stream "
                f"#{s.index} ({s.codec_context.name}): {e}; nothing was written. "
                f"{hint}a .mkv output (or --format matroska) holds every kind of stream"
            ) from None

    def _mux(self, packets: list[Any]) -> None:
        assert self.container is not None
        for packet in packets:
            self.container.mux(packet)

    def write(self, batch: Batch) -> None:
        try:
            for frame in batch.frames:
                array = frame.picture.color
                if not self.count and frame.rotation:
                    self.stream.set_display_rotation(frame.rotation)
                if array.shape[:2] != (self.stream.height, self.stream.width):
                    raise StylizeError(
                        f"{self.source.label}: frame {self.count + 1} is {array.shape[1]}x"
                        f"{array.shape[0]}, the first was {self.stream.width}x{self.stream.height}: "
                        "one size per video"
                    )
                picture = av.VideoFrame.from_ndarray(array, format="rgb24")
                picture.pts, picture.time_base = frame.pts, self.source.video.time_base
                self._mux(self.stream.encode(picture.reformat(format=self.stream.pix_fmt)))
                self.count += 1
            for rider in batch.riders:
                if isinstance(rider, Packets):
                    for packet in rider.packets:
                        self._mux(self.routes[packet.stream.index].packets(packet))
        except av.FFmpegError as e:
            raise StylizeError(f"{self.label}: video failed at frame {self.count} ({e})") from None

    def close(self) -> None:
        try:
            self._mux(self.stream.encode(None))
            for route in self.routes.values():
                self._mux(route.packets(None))
        except av.FFmpegError as e:
            raise StylizeError(f"{self.label}: video failed at its end ({e})") from None
        assert self.container is not None
        self.container.close()
        self.container = None
        self._cleanup.close()

    def abort(self, error: BaseException) -> None:
        if self.container is not None:
            with contextlib.suppress(Exception):
                self.container.close()  # flushes what was muxed, for keep_partial
            self.container = None
        self._cleanup.__exit__(type(error), error, error.__traceback__)
