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

import av
import numpy as np
from tqdm import tqdm

from .errors import StylizeError

#: Extensions treated as videos.
VIDEO_EXTENSIONS = (".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".ts", ".mts", ".nut")
_COLOR_FIELDS = ("color_primaries", "color_trc", "colorspace", "color_range")
_QUEUE_BATCHES = 3


def is_video_path(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_EXTENSIONS


@dataclass
class VideoOptions:
    """Encoder choices; None picks a sensible default for the container and source."""

    codec: str | None = None
    crf: int | None = None
    preset: str | None = None
    pix_fmt: str | None = None
    keep_partial: bool = False


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
    """Stylized frames with their timestamps, and the other streams' packets that came with them
    (the muxer interleaves by timestamp, so they need not keep their exact place)."""

    arrays: list[np.ndarray]
    pts: list[int | None]
    packets: list
    rotation: int = 0


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def _default_codec(suffix: str) -> str:
    return "libvpx-vp9" if suffix == ".webm" else "libx264"


def _output_pix_fmt(source: str, codec: str, width: int, height: int) -> str:
    """Keep 4:4:4 sources 4:4:4; 4:2:0 otherwise, unless odd sizes forbid chroma subsampling."""
    if "444" in source or width % 2 or height % 2:
        return "yuv444p"
    return "yuv420p10le" if "10" in source and codec == "libx264" else "yuv420p"


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


def stylize_video(
    source: Path,
    target: Path,
    stylize_frames: Callable[[list[np.ndarray]], list[np.ndarray]],
    batch_size: int,
    options: VideoOptions | None = None,
    progress: bool = False,
    benchmark: StageTimes | None = None,
) -> int:
    """Stylize every frame of ``source`` into ``target``; returns the number of frames.

    ``stylize_frames`` maps a list of HxWx3 uint8 RGB frames to as many stylized frames. With
    ``benchmark``, everything runs as usual but the output goes to FFmpeg's null muxer, and the
    stage timings are filled in.
    """
    options = options or VideoOptions()
    times = benchmark or StageTimes()
    started = time.perf_counter()
    try:
        inp = av.open(str(source))
    except (av.FFmpegError, OSError) as e:
        raise StylizeError(f"{source}: not a readable video ({e})") from None
    if not inp.streams.video:
        inp.close()
        raise StylizeError(f"{source}: has no video stream")
    partial = target.with_name(f"{target.stem}.partial{target.suffix}")
    tmp = target.with_name(f".{target.name}.part{target.suffix}")
    if benchmark is None:
        target.parent.mkdir(parents=True, exist_ok=True)
    stop = threading.Event()
    count = 0
    out = None
    try:
        vin = inp.streams.video[0]
        vin.thread_type = "AUTO"
        out, vout, copies = _open_output(inp, vin, tmp, target, options, benchmark is not None)
        decoded: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES * batch_size)
        done: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES)
        threads = [
            threading.Thread(
                target=_decode, args=(inp, vin, copies, decoded, stop, times), daemon=True
            ),
            threading.Thread(
                target=_infer,
                args=(decoded, done, stylize_frames, batch_size, stop, times),
                daemon=True,
            ),
        ]
        for t in threads:
            t.start()
        bar = tqdm(
            total=vin.frames or None,
            unit="frame",
            disable=not progress,
            dynamic_ncols=True,
            leave=False,
        )
        try:
            first = True
            for batch in _drain(done, stop):
                if first and batch.rotation:
                    vout.set_display_rotation(batch.rotation)
                first = False
                t0 = time.perf_counter()
                for array, pts in zip(batch.arrays, batch.pts, strict=True):
                    frame = av.VideoFrame.from_ndarray(array, format="rgb24")
                    frame.pts, frame.time_base = pts, vin.time_base
                    for packet in vout.encode(frame.reformat(format=vout.pix_fmt)):
                        out.mux(packet)
                for packet, stream in batch.packets:
                    packet.stream = stream
                    out.mux(packet)
                times.encode += time.perf_counter() - t0
                count += len(batch.arrays)
                bar.update(len(batch.arrays))
            for packet in vout.encode(None):
                out.mux(packet)
            if vin.frames and count < vin.frames:
                raise StylizeError(
                    f"{source}: only {count} of {vin.frames} frames could be decoded "
                    "(truncated or corrupt file)"
                )
        finally:
            stop.set()
            bar.close()
            for t in threads:
                t.join()
        out.close()
        out = None
        times.frames, times.wall = count, time.perf_counter() - started
        if benchmark is None:
            tmp.replace(target)
        return count
    except BaseException as e:
        stop.set()
        if out is not None:
            with contextlib.suppress(Exception):
                out.close()  # flushes what was muxed, for --keep-partial
        if benchmark is None and tmp.exists():
            if options.keep_partial:
                tmp.replace(partial)
            else:
                tmp.unlink()
        if isinstance(e, av.FFmpegError):
            raise StylizeError(f"{source}: video failed at frame {count} ({e})") from None
        raise
    finally:
        inp.close()


def _open_output(inp, vin, tmp: Path, target: Path, options: VideoOptions, discard: bool):
    """The output container: one encoded video stream plus a copy of every other stream."""
    fmt = target.suffix.lower().lstrip(".")
    fmt = (
        "null"
        if discard
        else {"mkv": "matroska", "m4v": "mp4", "ts": "mpegts", "mts": "mpegts"}.get(fmt)
    )
    try:
        out = av.open(os.devnull if discard else str(tmp), "w", format=fmt)
    except (av.FFmpegError, ValueError) as e:
        raise StylizeError(f"{target}: cannot write this container ({e})") from None
    try:
        codec = options.codec or _default_codec(target.suffix.lower())
        cc = vin.codec_context
        vout = out.add_stream(codec, rate=vin.average_rate or vin.guessed_rate or 25)
        vout.width, vout.height = cc.width, cc.height
        vout.pix_fmt = options.pix_fmt or _output_pix_fmt(
            cc.pix_fmt or "", codec, cc.width, cc.height
        )
        vout.time_base = vin.time_base
        vout.codec_context.time_base = vin.time_base
        for name in _COLOR_FIELDS:
            value = getattr(cc, name, None)
            if value:
                setattr(vout.codec_context, name, value)
        opts = {"crf": str(options.crf if options.crf is not None else 18)}
        if codec in ("libx264", "libx265"):
            opts["preset"] = options.preset or "medium"
        elif codec == "libvpx-vp9":
            opts["b:v"] = "0"
        vout.options = opts
        copies = {}
        for s in inp.streams:
            if s is vin or s.type not in ("audio", "subtitle", "data"):
                continue
            copies[s.index] = out.add_stream_from_template(s)
        return out, vout, copies
    except (av.FFmpegError, ValueError) as e:
        out.close()
        tmp.unlink(missing_ok=True)
        raise StylizeError(
            f"{target}: cannot set up the output ({e}); nothing was written. "
            "A .mkv output holds every kind of stream"
        ) from None


def _decode(inp, vin, copies: dict, decoded: queue.Queue, stop: threading.Event, times) -> None:
    def frames(packet) -> bool:
        t0 = time.perf_counter()
        arrays = [(f.to_ndarray(format="rgb24"), f.pts, f.rotation) for f in packet.decode()]
        times.decode += time.perf_counter() - t0
        return all(_put(decoded, item, stop) for item in arrays)

    try:
        for packet in inp.demux([vin, *[inp.streams[i] for i in copies]]):
            if stop.is_set():
                return
            if packet.stream.index == vin.index:
                if not frames(packet):
                    return
            elif packet.dts is not None and not _put(
                decoded, (packet, copies[packet.stream.index]), stop
            ):
                return
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
                batch.arrays.append(array)
                batch.pts.append(pts)
                batch.rotation = batch.rotation or rotation
                if len(batch.arrays) >= batch_size and not flush():
                    return
            else:
                batch.packets.append(item)
        if flush():
            _put(done, _END, stop)
    except BaseException as e:
        _put(done, _Failed(e), stop)
