"""The one read -> stylize -> write stage runner every kind of media goes through.

A ``Source`` yields ``Frame``s (and, riding along, ``Packets`` of a video's other streams and
``Failure``s of single images); a ``Processor`` stylizes frames in batches; a ``Sink`` writes
them. ``run`` joins the three as overlapping stages with bounded queues, so memory does not grow
with the input's length: reading on one thread, stylizing on another, writing on the caller's.
When anything fails or a stop signal arrives, every stage stops, the sink removes (or keeps, if
asked) its partial output, and the error reaches the caller.
"""

from __future__ import annotations

import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..images import Picture
from ..progress import Progress

#: Batches waiting between two stages, at most.
_QUEUE_BATCHES = 3


@dataclass(frozen=True)
class Job:
    """One input file and where its result goes."""

    source: Path
    target: Path


@dataclass(frozen=True)
class Frame:
    """A picture to stylize: a video frame (with its timestamp and display rotation) or an image
    file's content (with its ``job``)."""

    picture: Picture
    pts: int | None = None
    rotation: int = 0
    job: Job | None = None
    #: Seconds the processor spent on this frame (its share of its batch), once processed.
    seconds: float = 0.0


@dataclass(frozen=True)
class Packets:
    """Packets of a video's other streams (audio, subtitles, data), which the sink routes: the
    muxer interleaves by timestamp, so they need not keep their exact place among the frames."""

    packets: list[Any]


@dataclass(frozen=True)
class Failure:
    """One image that could not be read or stylized; the others go on."""

    job: Job
    error: Exception


@dataclass
class Batch:
    """Stylized frames and what rode along with them, in the order the source gave them."""

    frames: list[Frame] = field(default_factory=list)
    riders: list[Packets | Failure] = field(default_factory=list)


@dataclass
class StageTimes:
    """Seconds each stage spent working (not waiting on the others), and frames written."""

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


class Source(ABC):
    """Frames in order, with the other items that come with them."""

    #: Names the input in messages and progress.
    label: str = ""
    unit: str = "frame"
    #: How many frames there will be, when known.
    total: int | None = None

    @abstractmethod
    def __iter__(self) -> Iterator[Frame | Packets | Failure]: ...


class Sink:
    """Where stylized batches go; ``close`` completes the output, ``abort`` cleans it up."""

    def write(self, batch: Batch) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Everything is written: flush and publish."""

    def abort(self, error: BaseException) -> None:
        """The run failed with ``error``: remove (or keep, if asked) what was partly written."""


class Processor:
    """Stylizes a batch of equal-sized frames; ``max_batch`` caps how many ``run`` groups."""

    def __init__(self, max_batch: int) -> None:
        self.max_batch = max(1, max_batch)

    def batch_size(self, height: int, width: int) -> int:  # noqa: ARG002 (the default: a subclass may use it)
        """How many frames of this size to stylize together."""
        return self.max_batch

    def __call__(self, frames: list[Frame]) -> list[Frame | Failure]:
        raise NotImplementedError


class _Failed:
    """An exception handed from a stage to the next."""

    def __init__(self, error: BaseException) -> None:
        self.error = error


_END = object()


def _put(q: queue.Queue, item: object, stop: threading.Event) -> bool:
    while not stop.is_set():
        try:
            q.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _drain(q: queue.Queue, stop: threading.Event) -> Iterator[Any]:
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


def _read(source: Source, out: queue.Queue, stop: threading.Event, times: StageTimes) -> None:
    items = iter(source)
    try:
        while not stop.is_set():
            started = time.perf_counter()
            item = next(items, _END)
            times.decode += time.perf_counter() - started
            if not _put(out, item, stop) or item is _END:
                return
    except BaseException as e:
        _put(out, _Failed(e), stop)
    finally:
        close = getattr(items, "close", None)
        if close is not None:
            close()


def _same_kind(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype


def _process(
    read: queue.Queue,
    out: queue.Queue,
    processor: Processor,
    stop: threading.Event,
    times: StageTimes,
) -> None:
    """Group consecutive frames of one size and sample type into batches; riders go with the
    batch they arrived in. When the source fails, the frames before the failure are still
    stylized and written, then the failure is passed on."""
    pending = Batch()

    def flush() -> bool:
        nonlocal pending
        started = time.perf_counter()
        done = processor(pending.frames) if pending.frames else []
        times.infer += time.perf_counter() - started
        ready = Batch([f for f in done if isinstance(f, Frame)], pending.riders)
        ready.riders += [f for f in done if isinstance(f, Failure)]
        pending = Batch()
        return _put(out, ready, stop)

    items = _drain(read, stop)
    try:
        while True:
            try:
                item: Any = next(items, _END)
            except BaseException as e:  # from the source: what came before it still goes out
                if flush():
                    _put(out, _Failed(e), stop)
                return
            if item is _END:
                break
            if not isinstance(item, Frame):
                pending.riders.append(item)
                continue
            color = item.picture.color
            changes = pending.frames and not _same_kind(pending.frames[0].picture.color, color)
            if changes and not flush():
                return
            pending.frames.append(item)
            if len(pending.frames) >= processor.batch_size(*color.shape[:2]) and not flush():
                return
        if flush():
            _put(out, _END, stop)
    except BaseException as e:
        _put(out, _Failed(e), stop)


def run(
    source: Source, processor: Processor, sink: Sink, progress: Progress | None = None
) -> StageTimes:
    """Read ``source``, stylize with ``processor``, write to ``sink``; returns the stage times.

    On any error (or a stop signal) the stages stop, ``sink.abort`` cleans up, and the error is
    raised; otherwise ``sink.close`` completes the output.
    """
    times = StageTimes()
    started = time.perf_counter()
    stop = threading.Event()
    read: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES * processor.max_batch)
    done: queue.Queue = queue.Queue(maxsize=_QUEUE_BATCHES)
    threads = [
        threading.Thread(target=_read, args=(source, read, stop, times), daemon=True),
        threading.Thread(target=_process, args=(read, done, processor, stop, times), daemon=True),
    ]
    try:
        try:
            for t in threads:
                t.start()
            for batch in _drain(done, stop):
                began = time.perf_counter()
                sink.write(batch)
                times.encode += time.perf_counter() - began
                times.frames += len(batch.frames)
                if progress is not None:
                    progress.update(
                        len(batch.frames) + sum(isinstance(r, Failure) for r in batch.riders)
                    )
        finally:
            stop.set()
            if progress is not None:
                progress.close()
            for t in threads:
                if t.ident is not None:  # a signal may come between two starts
                    t.join()
        sink.close()
    except BaseException as e:
        sink.abort(e)
        raise
    times.wall = time.perf_counter() - started
    return times
