"""Video files in and out with PyAV: every frame stylized, every other stream copied untouched.

Decoding, inference and encoding run as three overlapping stages joined by bounded queues, so
memory does not grow with the video's length. Each output frame carries its source frame's
timestamp (variable frame rate stays variable); audio, subtitle and data packets are remuxed
packet for packet. Output goes to a temporary file that is renamed only when complete.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import av
import numpy as np

from .errors import StylizeError
from .files import atomic_output
from .progress import Progress

#: Extensions treated as videos.
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".ts", ".mts", ".nut")
_COLOR_FIELDS = ("color_primaries", "color_trc", "colorspace", "color_range")
_QUEUE_BATCHES = 3

#: Formats for streams (pipes): name -> (FFmpeg muxer, video codec or None for the default).
#: ``png`` and ``jpeg`` are streams of concatenated images.
STREAM_FORMATS = {
    "nut": ("nut", None),
    "matroska": ("matroska", None),
    "mpegts": ("mpegts", None),
    "png": ("image2pipe", "png"),
    "jpeg": ("image2pipe", "mjpeg"),
}
_STREAMABLE_INPUTS = {"png_pipe": "png", "jpeg_pipe": "jpeg", "mjpeg": "jpeg", "nut": "nut",
                      "matroska": "matroska", "mpegts": "mpegts"}  # fmt: skip
_FILE_FORMATS = {"mkv": "matroska", "m4v": "mp4", "ts": "mpegts", "mts": "mpegts"}

#: A video file's path, or an open binary stream (a pipe: standard input or output).
Media = Path | BinaryIO


def is_video_path(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


def video_pixels(path: Path) -> int:
    """Frames times frame size, from the container's metadata (0 when it does not say): how much
    work a video is, before decoding any of it."""
    try:
        with av.open(str(path)) as inp:
            vin = inp.streams.video[0]
            frames = vin.frames
            if not frames and inp.duration and vin.average_rate:
                frames = int(inp.duration / av.time_base * vin.average_rate)
            return int(frames) * vin.width * vin.height
    except (av.FFmpegError, OSError, ValueError, IndexError):
        return 0


@dataclass
class VideoOptions:
    """Encoder choices; None picks a sensible default for the container and source."""

    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    keep_partial: bool = False
    #: Streams only (files take it from the extension): a key of ``STREAM_FORMATS``.
    format: str | None = None
    #: Re-encode audio the output container cannot hold (instead of stopping).
    reencode_audio: bool = False


@dataclass
class StageTimes:
    """Seconds each stage spent working (not waiting on the others), for ``--benchmark``."""

    decode: float = 0.0
    infer: float = 0.0
    encode: float = 0.0
    frames: int = 0
    wall: float = 0.0

    def report(self) -> str:
        def fps(seconds: float) -> str:
            return f"{self.frames / seconds:.1f} fps" if seconds else "n/a"

        return (
            f"{self.frames} frames: decode {fps(self.decode)}, infer {fps(self.infer)}, "
            f"encode {fps(self.encode)}; overall {fps(self.wall)}"
        )


@dataclass
class _Batch:
    """Stylized frames with their timestamps, and the other streams' packets (already routed to
    their output streams) that came with them: the muxer interleaves by timestamp, so they need
    not keep their exact place."""

    arrays: list[np.ndarray]
    pts: list[int | None]
    packets: list
    rotation: int = 0


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def _put(q: queue.Queue, item, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _drain(q: queue.Queue, stop: threading.Event) -> Iterator:
    while True:
        try:
            item = q.get(timeout=0.1)
        except queue.Empty:
            if stop.is_set():
                return
            continue
        if item is _END:
            return
        if isinstance(item, _Failed):
            raise item.error
        yield item


def _label(media: Media, role: str) -> str:
    return str(media) if isinstance(media, Path) else role


def _output_format(inp, target: Media, options: VideoOptions) -> tuple[str | None, str]:
    """(FFmpeg muxer, default video codec): a file's from its extension (None lets FFmpeg
    guess); a stream's from ``--format``, else the input's format when it streams, else Matroska."""
    if isinstance(target, Path):
        suffix = target.suffix.lower().lstrip(".")
        return _FILE_FORMATS.get(suffix), "libvpx-vp9" if suffix == "webm" else "libx264"
    name = options.format or _STREAMABLE_INPUTS.get(inp.format.name.split(",")[0], "matroska")
    if name not in STREAM_FORMATS:
        raise StylizeError(f"stream format {name!r}: use {', '.join(STREAM_FORMATS)}")
    muxer, codec = STREAM_FORMATS[name]
    return muxer, codec or "libx264"


def _output_pix_fmt(source: str, codec: str, width: int, height: int) -> str:
    """Keep 4:4:4 sources 4:4:4; 4:2:0 otherwise, unless odd sizes forbid chroma subsampling."""
    if codec == "png":
        return "rgb24"
    full = "444" in source or width % 2 or height % 2
    if codec == "mjpeg":
        return "yuvj444p" if full else "yuvj420p"
    if full:
        return "yuv444p"
    return "yuv420p10le" if "10" in source and codec == "libx264" else "yuv420p"


def _encoder_options(codec: str, options: VideoOptions) -> dict[str, str]:
    crf = str(options.crf if options.crf is not None else 18)
    if codec in ("libx264", "libx265"):
        return {"crf": crf, "preset": options.preset or "medium"}
    if codec == "libvpx-vp9":
        return {"crf": crf, "b:v": "0"}
    if codec == "mjpeg":
        return {"qmin": "1", "qmax": "3"}
    return {}


class _Route:
    """Where one input stream's packets go: copied untouched, or (audio the output container
    cannot hold, with ``reencode_audio``) decoded and encoded again; PyAV's encoder converts
    the sample format and frame size itself."""

    def __init__(self, out_stream, source_stream=None) -> None:
        self.out = out_stream
        self.decoder = source_stream.codec_context if source_stream is not None else None

    def packets(self, packet) -> list:
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


def stylize_video(
    source: Media,
    target: Media,
    stylize_frames: Callable[[list[np.ndarray]], list[np.ndarray]],
    batch_size: int,
    options: VideoOptions | None = None,
    progress: bool = False,
    benchmark: StageTimes | None = None,
    overwrite: bool = True,
) -> int:
    """Stylize every frame of ``source`` into ``target``; returns the number of frames.

    ``source`` and ``target`` are paths or open binary streams (pipes; a stream's output format
    is ``options.format``). ``stylize_frames`` maps a list of HxWx3 uint8 RGB frames to as many
    stylized frames. A file is written under a temporary name of this run's own and published
    when complete (without ``overwrite``, never over a file another run published meanwhile).
    With ``benchmark``, everything runs as usual but the output goes to FFmpeg's null muxer,
    and the stage timings are filled in.
    """
    options = options or VideoOptions()
    name = _label(source, "standard input")
    piped = not isinstance(source, Path)
    try:
        inp = av.open(str(source) if isinstance(source, Path) else source)
    except (av.FFmpegError, OSError, ValueError) as e:
        raise StylizeError(f"{name}: not a readable video ({e})") from None
    try:
        if not inp.streams.video:
            raise StylizeError(f"{name}: has no video stream")
        if not isinstance(target, Path) or benchmark is not None:
            return _transcode(inp, name, target, stylize_frames, batch_size, options, progress,
                              benchmark, piped)  # fmt: skip
        partial = target.with_name(f"{target.stem}.partial{target.suffix}")
        keep = partial if options.keep_partial else None
        with atomic_output(target, overwrite=overwrite, partial=keep) as tmp:
            return _transcode(inp, name, tmp, stylize_frames, batch_size, options, progress,
                              benchmark, piped, str(target))  # fmt: skip
    finally:
        inp.close()


def _transcode(inp, name: str, target: Media, stylize_frames, batch_size: int,
               options: VideoOptions, progress: bool, benchmark: StageTimes | None,
               piped: bool, label: str | None = None) -> int:  # fmt: skip
    """The three stages of ``stylize_video`` from the open input (``piped``: read from a
    stream) to ``target`` (a path, a stream, or ignored with ``benchmark``); ``label`` names a
    file target in messages."""
    times = benchmark or StageTimes()
    started = time.perf_counter()
    stop = threading.Event()
    count = 0
    out = None
    try:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        destination = os.devnull if benchmark is not None else target
        destination = str(destination) if isinstance(destination, Path) else destination
        out, vout, routes = _open_output(inp, vin, destination, target, options, benchmark,
                                         label)  # fmt: skip
        decoded: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES * batch_size)
        done: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES)
        threads = [
            threading.Thread(
                target=_decode, args=(inp, vin, routes, decoded, stop, times), daemon=True
            ),
            threading.Thread(
                target=_infer,
                args=(decoded, done, stylize_frames, batch_size, stop, times),
                daemon=True,
            ),
        ]
        bar = Progress(name, "frame", vin.frames or None, progress)
        try:
            for t in threads:
                t.start()
            first = True
            for batch in _drain(done, stop):
                if first and batch.rotation:
                    vout.set_display_rotation(batch.rotation)
                first = False
                t0 = time.perf_counter()
                for array, pts in zip(batch.arrays, batch.pts, strict=True):
                    if array.shape[:2] != (vout.height, vout.width):
                        raise StylizeError(
                            f"{name}: frame {count + 1} is {array.shape[1]}x{array.shape[0]}, "
                            f"the first was {vout.width}x{vout.height}: one size per video"
                        )
                    frame = av.VideoFrame.from_ndarray(array, format="rgb24")
                    frame.pts, frame.time_base = pts, vin.time_base
                    for packet in vout.encode(frame.reformat(format=vout.pix_fmt)):
                        out.mux(packet)
                    count += 1
                for packet in batch.packets:
                    out.mux(packet)
                times.encode += time.perf_counter() - t0
                bar.update(len(batch.arrays))
            for packet in vout.encode(None):
                out.mux(packet)
            if vin.frames and count < vin.frames:
                raise StylizeError(
                    f"{name}: only {count} of {vin.frames} frames could be decoded "
                    "(truncated or corrupt file)"
                )
        finally:
            stop.set()
            bar.close()
            for t in threads:
                if t.ident is not None:  # a signal may come between two starts
                    t.join()
        out.close()
        out = None
        times.frames, times.wall = count, time.perf_counter() - started
        return count
    except BaseException as e:
        stop.set()
        if out is not None:
            with contextlib.suppress(Exception):
                out.close()  # flushes what was muxed, for --keep-partial
        if isinstance(e, av.FFmpegError):
            hint = ""
            if piped and inp.format.name.startswith("mov"):
                hint = "; an MP4/MOV read from a pipe needs its index first (-movflags +faststart)"
            raise StylizeError(f"{name}: video failed at frame {count} ({e}){hint}") from None
        raise


#: Audio codecs MPEG-TS can carry; FFmpeg's muxer would write any other as an opaque data stream.
_MPEGTS_AUDIO = {"aac", "aac_latm", "mp2", "mp3", "ac3", "eac3", "dts", "truehd", "opus", "s302m"}


def _check_mpegts_audio(codec: str) -> None:
    if codec not in _MPEGTS_AUDIO:
        raise ValueError(f"'mpegts' format does not support '{codec}' audio")


_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}


def _named_layout(layout):
    """Encoders such as AAC want a named channel layout; sources may only give a count."""
    if "channels" not in layout.name:
        return layout
    return _LAYOUTS.get(len(layout.channels), layout)


def _reencoded_audio(out, s):
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


def _open_output(inp, vin, destination, target: Media, options: VideoOptions, benchmark,
                 label: str | None = None):  # fmt: skip
    """The output container: one encoded video stream plus a route for every other stream."""
    label = label or _label(target, "standard output")
    muxer, codec = _output_format(inp, target, options)
    try:
        out = av.open(destination, "w", format="null" if benchmark is not None else muxer)
    except (av.FFmpegError, ValueError) as e:
        raise StylizeError(f"{label}: cannot write this container ({e})") from None
    try:
        codec = options.codec or codec
        cc = vin.codec_context
        vout = out.add_stream(codec, rate=vin.average_rate or vin.guessed_rate or 25)
        vout.width, vout.height = cc.width, cc.height
        vout.pix_fmt = options.pix_fmt or _output_pix_fmt(
            cc.pix_fmt or "", codec, cc.width, cc.height
        )
        vout.time_base = vin.time_base
        vout.codec_context.time_base = vin.time_base
        for field in _COLOR_FIELDS:
            value = getattr(cc, field, None)
            if value:
                setattr(vout.codec_context, field, value)
        vout.options = _encoder_options(codec, options)
        routes = {}
        for s in inp.streams:
            if s is vin or s.type not in ("audio", "subtitle", "data"):
                continue
            try:
                if out.format.name == "mpegts" and s.type == "audio":
                    _check_mpegts_audio(s.codec_context.name)
                routes[s.index] = _Route(out.add_stream_from_template(s))
            except ValueError as e:
                if s.type != "audio" or not options.reencode_audio:
                    can_audio = out.default_audio_codec not in (None, "none")
                    hint = (
                        "--reencode-audio converts it; " if s.type == "audio" and can_audio else ""
                    )
                    raise StylizeError(
                        f"{label}: this container cannot hold the {s.type} stream "
                        f"#{s.index} ({s.codec_context.name}): {e}; nothing was written. "
                        f"{hint}a .mkv output (or --format matroska) holds every kind of stream"
                    ) from None
                routes[s.index] = _Route(_reencoded_audio(out, s), s)
        return out, vout, routes
    except BaseException as e:
        out.close()
        if isinstance(destination, str) and destination != os.devnull:
            Path(destination).unlink(missing_ok=True)
        if isinstance(e, av.FFmpegError | ValueError):
            raise StylizeError(
                f"{label}: cannot set up the output ({e}); nothing was written"
            ) from None
        raise


def _decode(inp, vin, routes: dict, decoded: queue.Queue, stop: threading.Event, times) -> None:
    def frames(packet) -> bool:
        t0 = time.perf_counter()
        arrays = [(f.to_ndarray(format="rgb24"), f.pts, f.rotation) for f in packet.decode()]
        times.decode += time.perf_counter() - t0
        return all(_put(decoded, item, stop) for item in arrays)

    def forward(route: _Route, packet) -> bool:
        return all(_put(decoded, (p,), stop) for p in route.packets(packet))

    try:
        for packet in inp.demux([vin, *[inp.streams[i] for i in routes]]):
            if stop.is_set():
                return
            if packet.stream.index == vin.index:
                if not frames(packet):
                    return
            elif packet.dts is not None and not forward(routes[packet.stream.index], packet):
                return
        if all(forward(route, None) for route in routes.values()):
            _put(decoded, _END, stop)  # demux ends with empty packets, which flushed the decoder
    except BaseException as e:
        _put(decoded, _Failed(e), stop)


def _infer(decoded, done, stylize_frames, batch_size: int, stop: threading.Event, times) -> None:
    """Group frames into batches of ``batch_size``; packets of other streams ride along."""
    batch = _Batch([], [], [])

    def flush() -> bool:
        nonlocal batch
        t0 = time.perf_counter()
        ready = _Batch(
            stylize_frames(batch.arrays) if batch.arrays else [],
            batch.pts,
            batch.packets,
            batch.rotation,
        )
        times.infer += time.perf_counter() - t0
        batch = _Batch([], [], [])
        return _put(done, ready, stop)

    try:
        for item in _drain(decoded, stop):
            if isinstance(item[0], np.ndarray):
                array, pts, rotation = item
                if batch.arrays and array.shape != batch.arrays[0].shape and not flush():
                    return  # a stream of images may change size; the encoder says so
                batch.arrays.append(array)
                batch.pts.append(pts)
                batch.rotation = batch.rotation or rotation
                if len(batch.arrays) >= batch_size and not flush():
                    return
            else:
                batch.packets.append(item[0])
        if flush():
            _put(done, _END, stop)
    except BaseException as e:
        _put(done, _Failed(e), stop)
