"""The image pipeline: sources -> batching -> engine -> sinks, callable from Python as the CLI uses it."""

from __future__ import annotations

import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import BinaryIO

import cv2
import numpy as np
import torch

from .engines import Engine, engine_class, resolve_device
from .errors import StylizeError, failure_message
from .files import output_folder_problem
from .images import Picture, check_pages_fit, read_image, write_image
from .loading import load_generator
from .pipes import parse_size, stylize_raw_stream
from .progress import Progress
from .sources import Job, plan_jobs
from .temporal import make_smoother, smoothed
from .video import Media, StageTimes, VideoOptions, is_video_path, stylize_video, video_pixels


def resized(picture: Picture, size: int | None = None, max_size: int | None = None) -> Picture:
    """Scale keeping the aspect ratio: shorter side to ``size``; longer side at most ``max_size``."""
    w, h = picture.size
    scale = 1.0
    if size:
        scale = size / min(w, h)
    if max_size and max(w, h) * scale > max_size:
        scale = max_size / max(w, h)
    if scale == 1.0:
        return picture
    new = (max(1, round(w * scale)), max(1, round(h * scale)))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC

    def fit(a: np.ndarray) -> np.ndarray:
        return cv2.resize(a, new, interpolation=interp).reshape(new[1], new[0], *a.shape[2:])

    return Picture(
        fit(picture.color),
        None if picture.alpha is None else fit(picture.alpha),
        [resized(page, size, max_size) for page in picture.more_pages],
    )


class Stylizer:
    """A generator on a device, ready to stylize pictures of any size, depth and channel count."""

    def __init__(
        self,
        weights: str | Path,
        device: str = "auto",
        backend: str = "auto",
        batch_size: int = 4,
        tile: int | None = None,
        memory_budget: int | None = None,
        bn_stats: str = "image",
        precision: str = "auto",
        log: Callable[[str], None] = lambda msg: None,
        workload: int = 0,
    ) -> None:
        """``workload``: pixels (frames x size) the caller expects to process, if known; on a
        CPU, ``backend="auto"`` compiles the model only when that is enough to pay off."""
        self.model = load_generator(weights, bn_stats=bn_stats)
        where = resolve_device(device)
        self.engine: Engine = engine_class(backend, where, log, workload)(
            self.model, where, memory_budget, tile, precision
        )
        self.max_batch = max(1, batch_size)

    def _model_input(self, color: np.ndarray) -> np.ndarray:
        want, have = self.model.spec.in_channels, color.shape[2]
        if want == have:
            return color
        if have == 1 and want == 3:
            return np.repeat(color, 3, axis=2)
        if have == 3 and want == 1:
            return cv2.cvtColor(color, cv2.COLOR_RGB2GRAY)[:, :, None]
        raise StylizeError(f"the model takes {want}-channel images, this one has {have}")

    def stylize_batch(self, pictures: list[Picture]) -> list[Picture]:
        """Pictures of one size and sample type, stylized together; alpha passes through. The
        further pages of multi-page pictures, which may have other sizes, go one by one."""
        frames = torch.from_numpy(np.stack([self._model_input(p.color) for p in pictures]))
        out = self.engine(frames).numpy()
        return [
            Picture(o, p.alpha, [self.stylize(page) for page in p.more_pages])
            for o, p in zip(out, pictures)
        ]

    def stylize(self, picture: Picture) -> Picture:
        return self.stylize_batch([picture])[0]

    def stylize_frames(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """Equal-sized HxWxC frames, in batches the memory budget allows."""
        h, w = frames[0].shape[:2]
        n = self.engine.batch_size(h, w, self.max_batch)
        out: list[np.ndarray] = []
        for i in range(0, len(frames), n):
            out += [p.color for p in self.stylize_batch([Picture(f) for f in frames[i : i + n]])]
        return out

    def batches(
        self, items: Iterable[tuple[object, Picture]]
    ) -> Iterator[list[tuple[object, Picture]]]:
        """Group consecutive pictures of equal size and type into batches the memory allows."""
        batch: list[tuple[object, Picture]] = []
        for item in items:
            pic = item[1]
            if batch:
                first = batch[0][1].color
                if first.shape[:2] != pic.color.shape[:2] or first.dtype != pic.color.dtype:
                    yield batch
                    batch = []
            batch.append(item)
            h, w = pic.color.shape[:2]
            if len(batch) >= self.engine.batch_size(h, w, self.max_batch):
                yield batch
                batch = []
        if batch:
            yield batch


@dataclass
class Summary:
    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    benchmarked: list[Path] = field(default_factory=list)

    def line(self) -> str:
        parts = [f"{len(self.done)} stylized"]
        if self.benchmarked:
            parts.append(f"{len(self.benchmarked)} benchmarked (nothing written)")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped (already done; --overwrite redoes them)")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts)


def stylize_files(
    inputs: list[str],
    weights: str | Path,
    output: str | Path | None = None,
    *,
    tag: str | None = None,
    ext: str | None = None,
    overwrite: bool = False,
    size: int | None = None,
    max_size: int | None = None,
    video: VideoOptions | None = None,
    temporal: str = "flow",
    temporal_strength: float | None = None,
    benchmark: bool = False,
    max_pixels: int | None = None,
    progress: bool = False,
    debug: bool = False,
    log: Callable[[str], None] = lambda msg: None,
    stylizer: Stylizer | None = None,
    **stylizer_options,
) -> Summary:
    """Stylize image and video files and folders: what ``stylize`` does.

    Every problem with one input is logged as one line and counted in the summary; the others go
    on. Results are written atomically, so an interrupted run leaves no partial file. Videos are
    smoothed over time with the ``temporal`` method (``stylizer.temporal``). With ``benchmark``,
    videos are processed as usual but not written, and each one's stage speeds are logged.
    Images over ``max_pixels`` (default ``default_max_pixels()``) are refused before decoding.
    Outputs that cannot be written (a file where a folder should be, no write permission) are
    reported before any inference; ``debug`` adds tracebacks to internal errors.
    """
    make_smoother(temporal, temporal_strength)  # a bad name or strength fails before any work
    summary = Summary()
    tag = tag or Path(str(weights)).stem
    plan = plan_jobs(inputs, output, tag, ext)
    for error in plan.errors:
        summary.failed.append(error)
        log(f"error: {error}")
    todo: list[Job] = []
    for job in plan.jobs:
        if job.target.exists() and not overwrite and not benchmark:
            summary.skipped.append(job.target)
        else:
            todo.append(job)
    if not benchmark:
        todo = _writable(todo, summary, log)
    if not todo:
        return summary
    videos = [job for job in todo if is_video_path(job.source)]
    images = [job for job in todo if not is_video_path(job.source)]
    if stylizer is None:
        workload = sum(video_pixels(job.source) for job in videos)
        stylizer = Stylizer(weights, log=log, workload=workload, **stylizer_options)
    if benchmark and images:
        log(f"--benchmark measures videos; {len(images)} image(s) left alone")
        images = []
    image_run = _ImageRun(size, max_size, max_pixels, overwrite, progress, debug, log)
    _stylize_images(images, stylizer, summary, image_run)
    for job in videos:
        try:
            times = StageTimes() if benchmark else None
            smoother = make_smoother(temporal, temporal_strength, stylizer.engine.device)
            stylize_video(job.source, job.target, smoothed(stylizer.stylize_frames, smoother),
                          stylizer.max_batch, video, progress, times, overwrite)  # fmt: skip
            if times:
                log(f"{job.source}: {times.report()}")
                summary.benchmarked.append(job.source)
            else:
                summary.done.append(job.target)
        except Exception as e:
            message = failure_message(str(job.source), e, debug)
            summary.failed.append(message.splitlines()[0])
            log(f"error: {message}")
    return summary


def _writable(jobs: list[Job], summary: Summary, log: Callable[[str], None]) -> list[Job]:
    """The jobs whose output can be written; the others fail now, before any inference."""
    verdicts: dict[Path, str | None] = {}
    kept = []
    for job in jobs:
        folder = job.target.parent
        if folder not in verdicts:
            verdicts[folder] = output_folder_problem(folder)
        if verdicts[folder] is None:
            kept.append(job)
        else:
            message = f"{job.source}: cannot write {job.target}: {verdicts[folder]}"
            summary.failed.append(message)
            log(f"error: {message}")
    return kept


def _media(spec: str | Path | BinaryIO, std: BinaryIO, role: str) -> Media:
    """``-`` is the standard stream; a path must name a video."""
    if not isinstance(spec, str | Path):
        return spec
    if str(spec) == "-":
        where = "in" if role == "the input" else "out"
        if std.isatty():
            raise StylizeError(f"standard {where}put is a terminal: pipe media {where} instead")
        if where == "in" and hasattr(std, "peek") and not std.peek(1):
            raise StylizeError("standard input is empty: pipe media into it")
        return std
    path = Path(spec)
    if not is_video_path(path):
        raise StylizeError(f"{path}: {role} of a pipe must be a video file or '-'")
    return path


def stylize_stream(
    source: str | Path | BinaryIO,
    target: str | Path | BinaryIO | None,
    weights: str | Path,
    *,
    raw: str | None = None,
    pix_fmt: str | None = None,
    video: VideoOptions | None = None,
    temporal: str = "flow",
    temporal_strength: float | None = None,
    benchmark: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = lambda msg: None,
    stylizer: Stylizer | None = None,
    **stylizer_options,
) -> int:
    """Stylize through pipes, as ``stylize - [-o -]`` and ``stylize video.mp4 -o -`` do.

    ``-`` (or an open binary stream) is standard input or output; ``target`` None means
    standard output. With ``raw`` (``WxH``) both sides carry bare frames of that size in
    ``pix_fmt``; otherwise the input is any container FFmpeg reads from a pipe (NUT, Matroska,
    MPEG-TS, concatenated PNG/JPEG images) and the output is ``video.format``. Frames are
    smoothed over time with the ``temporal`` method. Only media data is written to the output.
    Returns the number of frames.
    """
    video = video or VideoOptions()
    size = parse_size(raw) if raw else None  # option mistakes first, before the streams
    source = _media(source, sys.stdin.buffer, "the input")
    target = _media("-" if target is None else target, sys.stdout.buffer, "the output")
    if video.format and isinstance(target, Path):
        raise StylizeError("--format is for '-o -'; a file takes its format from its extension")
    if raw and (isinstance(source, Path) or isinstance(target, Path)):
        raise StylizeError(
            "--raw reads frames from standard input and writes them to standard output"
        )
    if isinstance(target, Path) and (problem := output_folder_problem(target.parent)):
        raise StylizeError(f"cannot write {target}: {problem}")
    make_smoother(temporal, temporal_strength)  # a bad name or strength fails before any work
    stylizer = stylizer or Stylizer(weights, log=log, **stylizer_options)
    smoother = make_smoother(temporal, temporal_strength, stylizer.engine.device)
    frames = smoothed(stylizer.stylize_frames, smoother)
    if size:
        with Progress("standard input", "frame", enabled=progress) as bar:
            count = stylize_raw_stream(source, target, size, pix_fmt or "rgb24", frames,
                                       stylizer.max_batch, bar.update)  # fmt: skip
        log(f"{count} frames stylized")
        return count
    times = StageTimes() if benchmark else None
    count = stylize_video(source, target, frames, stylizer.max_batch, video, progress,
                          times)  # fmt: skip
    log(times.report() if times else f"{count} frames stylized")
    return count


#: Images read ahead of the engine, and results waiting to be written, at most.
_IMAGES_IN_FLIGHT = 8


@dataclass(frozen=True)
class _ImageRun:
    """How ``stylize_files`` treats each image, fixed for the run."""

    size: int | None
    max_size: int | None
    max_pixels: int | None
    overwrite: bool
    progress: bool
    debug: bool
    log: Callable[[str], None]


def _stylize_images(todo: list[Job], stylizer: Stylizer, summary: Summary, run: _ImageRun) -> None:
    """Read ahead, stylize and write behind on threads (OpenCV's codecs release the GIL), so
    decoding and encoding overlap inference; at most ``_IMAGES_IN_FLIGHT`` images wait each way.

    Whatever one image raises (short of Ctrl-C) is that image's failure, reported on one line;
    the others go on. A batch that fails is retried image by image, to fail only the culprit.
    """
    if not todo:
        return
    bar = Progress("images", "image", len(todo), run.progress)

    def fail(job: Job, error: Exception) -> None:
        message = failure_message(str(job.source), error, run.debug)
        summary.failed.append(message.splitlines()[0])
        with bar.message():
            run.log(f"error: {message}")
        bar.update()

    def load(job: Job) -> Picture:
        picture = read_image(job.source, run.max_pixels)
        check_pages_fit(len(picture.pages), job.target.suffix)  # before, not after, inference
        return resized(picture, run.size, run.max_size)

    def decoded(readers: ThreadPoolExecutor) -> Iterator[tuple[Job, Picture]]:
        jobs = iter(todo)
        pending = deque((job, readers.submit(load, job)) for job in islice(jobs, _IMAGES_IN_FLIGHT))
        while pending:
            job, future = pending.popleft()
            following = next(jobs, None)
            if following is not None:
                pending.append((following, readers.submit(load, following)))
            try:
                picture = future.result()
            except Exception as e:
                fail(job, e)
                continue
            yield job, picture

    def stylized(batch: list[tuple[Job, Picture]]) -> list[tuple[Job, Picture]]:
        try:
            return list(
                zip([job for job, _ in batch], stylizer.stylize_batch([p for _, p in batch]))
            )
        except Exception as e:
            if len(batch) == 1:
                fail(batch[0][0], e)
                return []
        return [done for item in batch for done in stylized([item])]

    def written(job: Job, future: Future) -> None:
        try:
            future.result()
            summary.done.append(job.target)
            bar.update()
        except OSError as e:
            fail(job, StylizeError(f"{job.target}: cannot write ({e.strerror or e})"))
        except Exception as e:
            fail(job, e)

    writes: deque[tuple[Job, Future]] = deque()
    with ThreadPoolExecutor(2) as readers, ThreadPoolExecutor(1) as writer:
        try:
            for batch in stylizer.batches(decoded(readers)):
                for job, result in stylized(batch):
                    writes.append(
                        (job, writer.submit(write_image, job.target, result, run.overwrite))
                    )
                while writes and (len(writes) > _IMAGES_IN_FLIGHT or writes[0][1].done()):
                    written(*writes.popleft())
            while writes:
                written(*writes.popleft())
        finally:
            for _, future in writes:
                future.cancel()
            readers.shutdown(cancel_futures=True)  # a stop signal waits for no queued decode
            bar.close()
