"""What ``stylize`` does, callable from Python: plan the files, then run each through the media
engine (``stylizer.media``): a source, a ``Stylizer`` (and for videos a smoother), a sink."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch

from . import media
from .distributed import distributed
from .engines import resolve_device
from .errors import StylizeError, failure_message
from .files import output_folder_problem
from .inference import Stylizer
from .media import Job, StageTimes, sinks, sources
from .media.formats import Media, is_video_path, parse_size, video_info, video_shape
from .media.plan import Plan, plan_jobs
from .media.processors import FrameProcessor, PictureProcessor
from .options import (
    ImageOptions,
    InferenceOptions,
    RunOptions,
    StyleOptions,
    TemporalOptions,
    VideoOptions,
)
from .progress import Progress
from .temporal import make_smoother, smoothed

__all__ = ["Stylizer", "Summary", "stylize_files", "stylize_stream", "stylize_video"]

Log = Callable[[str], None]


@dataclass
class Summary:
    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    benchmarked: list[Path] = field(default_factory=list)
    #: One object per output written (``--json``): input, output, style, size, frames,
    #: seconds, device and backend; videos add their frame rate and the streams kept.
    records: list[dict[str, Any]] = field(default_factory=list)

    def line(self) -> str:
        parts = [f"{len(self.done)} stylized"]
        if self.benchmarked:
            parts.append(f"{len(self.benchmarked)} benchmarked (nothing written)")
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped (already done; --overwrite redoes them)")
        if self.failed:
            parts.append(f"{len(self.failed)} failed")
        return ", ".join(parts)

    def totals(self) -> dict[str, Any]:
        """The summary object of ``--json``."""
        return {
            "summary": True,
            "stylized": len(self.done),
            "skipped": len(self.skipped),
            "failed": self.failed,
            "benchmarked": len(self.benchmarked),
            "frames": sum(r["frames"] for r in self.records),
            "seconds": round(sum(r["seconds"] for r in self.records), 3),
        }

    def merged(self) -> Summary:
        """Every process's summary in one, the same on each (under ``torchrun``)."""
        parts: list[Summary | None] = [None] * torch.distributed.get_world_size()
        torch.distributed.all_gather_object(parts, self)
        merged = Summary()
        for part in parts:
            assert part is not None
            for name in ("done", "skipped", "failed", "benchmarked", "records"):
                getattr(merged, name).extend(getattr(part, name))
        return merged

    def fail(self, message: str, log: Log) -> None:
        """Count a failure by its first line and log all of it."""
        self.failed.append(message.splitlines()[0])
        log(f"error: {message}")


def _frames(stylizer: Stylizer, temporal: TemporalOptions) -> FrameProcessor:
    """The video processor: the model, the smoother (on the engine's device), then the colour
    and strength controls."""
    smoother = make_smoother(temporal.temporal, temporal.temporal_strength, stylizer.engine.device)
    model_then_smoother = smoothed(stylizer.model_frames, smoother)

    def frames(batch: list[np.ndarray]) -> list[np.ndarray]:
        return stylizer.finished(batch, model_then_smoother(batch))

    return FrameProcessor(frames, stylizer.max_batch)


def stylize_video(
    source: Media,
    target: Media | None,
    processor: media.Processor,
    options: VideoOptions = VideoOptions(),
    *,
    overwrite: bool = True,
    progress: bool = False,
) -> StageTimes:
    """Stylize every frame of ``source`` into ``target``: paths or open binary streams (a
    stream's format is ``options.stream_format``), or None to encode and discard (benchmarks).
    Frames keep their timestamps, other streams are copied (or re-encoded, as ``options`` say),
    and a file is published only when complete."""
    with sources.VideoFile(source, options.max_pixels) as video:
        sink = sinks.VideoEncoder(target, video, options, overwrite=overwrite)
        return media.run(
            video, processor, sink, Progress(video.label, "frame", video.total, progress)
        )


def stylize_files(
    inputs: list[str],
    weights: str | Path,
    output: str | Path | None = None,
    *,
    tag: str | None = None,
    inference: InferenceOptions = InferenceOptions(),
    style: StyleOptions = StyleOptions(),
    images: ImageOptions = ImageOptions(),
    video: VideoOptions = VideoOptions(),
    temporal: TemporalOptions = TemporalOptions(),
    run: RunOptions = RunOptions(),
    log: Log = lambda msg: None,
    stylizer: Stylizer | None = None,
    reports: tuple[Path, ...] = (),
) -> Summary:
    """Stylize image and video files and folders: what ``stylize`` does.

    Every problem with one input is logged as one line and counted in the summary; the others go
    on. Results are written atomically, so an interrupted run leaves no partial file. Images
    over ``images.max_pixels`` (default ``default_max_pixels()``) are refused before decoding.
    Outputs that cannot be written are reported before any inference; ``reports`` are files
    the caller writes too (a ``--json`` report), which may be neither an input nor a result.
    With ``run.benchmark``, videos are processed as usual but not written, and each one's stage
    speeds are logged.
    """
    make_smoother(temporal.temporal, temporal.temporal_strength)  # bad options fail first
    with distributed(resolve_device(inference.device)) as (rank, world, device):
        if world > 1:  # each rank on its own GPU (or the CPU); one progress display
            inference = replace(inference, device=str(device))
            run = replace(run, progress=run.progress and rank == 0)
        plan = plan_jobs(inputs, output, tag or Path(str(weights)).stem, images.ext, reports)
        if plan.left_out and rank == 0:
            log(f"left out {plan.left_out} file(s) found among the inputs that are results of "
                "earlier runs of this style")  # fmt: skip
        summary = Summary()
        todo = _todo(plan, run, summary, log, rank == 0)
        videos = [job for job in todo if is_video_path(job.source)][rank::world]
        pictures = [job for job in todo if not is_video_path(job.source)][rank::world]
        if not run.benchmark:
            videos, pictures = _writable(videos, summary, log), _writable(pictures, summary, log)
        if run.benchmark and pictures:
            log(f"--benchmark measures videos; {len(pictures)} image(s) left alone")
            pictures = []
        if videos or pictures:
            if stylizer is None:
                workload = [video_shape(job.source) for job in videos]
                stylizer = Stylizer(weights, inference, style, log=log, workload=workload)
            if pictures:
                _stylize_images(pictures, stylizer, images, run, summary, log)
            for job in videos:
                _stylize_video_file(job, stylizer, video, temporal, run, summary, log)
        return summary.merged() if world > 1 else summary


def _todo(plan: Plan, run: RunOptions, summary: Summary, log: Log, report: bool) -> list[Job]:
    """The planned jobs not done yet. Where several processes share the run, only the one that
    ``report``s counts the plan's errors and the skipped files."""
    seen = summary if report else Summary()
    for error in plan.errors:
        seen.fail(error, log if report else lambda msg: None)
    todo: list[Job] = []
    for job in plan.jobs:
        try:
            done = job.target.exists() and not run.overwrite and not run.benchmark
        except OSError as e:  # a name too long for the file system, say: this file's failure
            seen.fail(f"{job.source}: cannot write {job.target} ({e.strerror or e})", log)
            continue
        if done:
            seen.skipped.append(job.target)
        else:
            todo.append(job)
    return todo


def _stylize_video_file(
    job: Job,
    stylizer: Stylizer,
    video: VideoOptions,
    temporal: TemporalOptions,
    run: RunOptions,
    summary: Summary,
    log: Log,
) -> None:
    """One video of a run over files; its failure is counted and logged, not raised."""
    try:
        times = stylize_video(job.source, None if run.benchmark else job.target,
                              _frames(stylizer, temporal), video, overwrite=run.overwrite,
                              progress=run.progress)  # fmt: skip
    except Exception as e:
        summary.fail(failure_message(str(job.source), e, run.debug), log)
        return
    if run.benchmark:
        log(f"{job.source}: {times.report()}")
        summary.benchmarked.append(job.source)
        return
    summary.done.append(job.target)
    info = video_info(job.target)
    record = _record(job, stylizer, "video", info.pop("size", None), times.frames, times.wall)
    summary.records.append(record | info)


def _record(
    job: Job, stylizer: Stylizer, kind: str, size: list[int] | None, frames: int, seconds: float
) -> dict[str, Any]:
    """What ``--json`` says of one output."""
    return {
        "input": str(job.source),
        "output": str(job.target),
        "kind": kind,
        "style": stylizer.name,
        "size": size,
        "frames": frames,
        "seconds": round(seconds, 3),
        "device": str(stylizer.engine.device),
        "backend": stylizer.engine.name,
    }


def _stylize_images(
    jobs: list[Job],
    stylizer: Stylizer,
    images: ImageOptions,
    run: RunOptions,
    summary: Summary,
    log: Log,
) -> None:
    """Every image through the engine; one that cannot be read, stylized or written is that
    image's failure, reported on one line, and the others go on."""
    bar = Progress("images", "image", len(jobs), run.progress)

    def failed(job: Job, error: Exception) -> None:
        with bar.message():
            summary.fail(failure_message(str(job.source), error, run.debug), log)

    def done(frame: media.Frame) -> None:
        assert frame.job is not None
        summary.done.append(frame.job.target)
        h, w = frame.picture.color.shape[:2]
        summary.records.append(_record(frame.job, stylizer, "image", [w, h], 1, frame.seconds))

    sink = sinks.ImageFiles(run.overwrite, done, failed)
    media.run(sources.ImageFiles(jobs, images), PictureProcessor(stylizer), sink, bar)


def _writable(jobs: list[Job], summary: Summary, log: Log) -> list[Job]:
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
            summary.fail(f"{job.source}: cannot write {job.target}: {verdicts[folder]}", log)
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
    inference: InferenceOptions = InferenceOptions(),
    style: StyleOptions = StyleOptions(),
    video: VideoOptions = VideoOptions(),
    temporal: TemporalOptions = TemporalOptions(),
    run: RunOptions = RunOptions(),
    log: Log = lambda msg: None,
    stylizer: Stylizer | None = None,
) -> int:
    """Stylize through pipes, as ``stylize - [-o -]`` and ``stylize video.mp4 -o -`` do.

    ``-`` (or an open binary stream) is standard input or output; ``target`` None means
    standard output. With ``raw`` (``WxH``) both sides carry bare frames of that size in
    ``video.pix_fmt`` (default rgb24); otherwise the input is any container FFmpeg reads from a
    pipe (NUT, Matroska, MPEG-TS, concatenated PNG/JPEG images) and the output is
    ``video.stream_format``. Only media data is written to the output. Returns the number of
    frames.
    """
    size = parse_size(raw) if raw else None  # option mistakes first, before the streams
    source = _media(source, sys.stdin.buffer, "the input")
    target = _media("-" if target is None else target, sys.stdout.buffer, "the output")
    if video.stream_format and isinstance(target, Path):
        raise StylizeError("--format is for '-o -'; a file takes its format from its extension")
    if size and (isinstance(source, Path) or isinstance(target, Path)):
        raise StylizeError(
            "--raw reads frames from standard input and writes them to standard output"
        )
    if isinstance(target, Path) and (problem := output_folder_problem(target.parent)):
        raise StylizeError(f"cannot write {target}: {problem}")
    make_smoother(temporal.temporal, temporal.temporal_strength)  # bad options fail first
    stylizer = stylizer or Stylizer(weights, inference, style, log=log)
    processor = _frames(stylizer, temporal)
    if size:
        pix_fmt = video.pix_fmt or "rgb24"
        frames = sources.RawFrames(source, size, pix_fmt)  # type: ignore[arg-type]
        sink = sinks.RawFrames(target, pix_fmt)  # type: ignore[arg-type]
        bar = Progress(frames.label, "frame", enabled=run.progress)
        count = media.run(frames, processor, sink, bar).frames
        log(f"{count} frames stylized")
        return count
    times = stylize_video(
        source, None if run.benchmark else target, processor, video, progress=run.progress
    )
    log(times.report() if run.benchmark else f"{times.frames} frames stylized")
    return times.frames
