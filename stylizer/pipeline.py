"""What ``stylize`` does, callable from Python: plan the files and hand each media kind its
jobs (``stylizer.media.kinds``: a source, a ``Stylizer`` and for videos a smoother, a sink), or
stylize one pipe with the kind its first bytes say."""

from __future__ import annotations

import sys
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import replace
from pathlib import Path
from typing import BinaryIO

from .device import resolve_device
from .distributed import distributed, world_size
from .errors import StylizeError
from .files import output_folder_problem
from .images import check_pixels
from .inference import Stylizer
from .media import Job
from .media.formats import Media, parse_size
from .media.kind import FileRun, MediaKind, StreamRun, Summary
from .media.kinds import file_kind, stream_kind
from .media.kinds.videos import stylize_video
from .media.plan import Plan, plan_jobs
from .options import (
    ImageOptions,
    InferenceOptions,
    RunOptions,
    StyleOptions,
    TemporalOptions,
    VideoOptions,
)
from .temporal import make_smoother

__all__ = ["Stylizer", "Summary", "stylize_files", "stylize_stream", "stylize_video"]

Log = Callable[[str], None]


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
    sharing = (
        distributed(resolve_device(inference.device))
        if world_size() > 1
        else nullcontext((0, 1, None))  # one process: PyTorch only if the backend needs it
    )
    with sharing as (rank, world, device):
        if world > 1:  # each rank on its own GPU (or the CPU); one progress display
            inference = replace(inference, device=str(device))
            run = replace(run, progress=run.progress and rank == 0)
        plan = plan_jobs(inputs, output, tag or Path(str(weights)).stem, images.ext, reports)
        if plan.left_out and rank == 0:
            log(f"left out {plan.left_out} file(s) found among the inputs that are results of "
                "earlier runs of this style")  # fmt: skip
        summary = Summary()
        todo = _todo(plan, run, summary, log, rank == 0)
        by_kind = _by_kind(todo, rank, world, run, summary, log)
        if by_kind:
            if stylizer is None:
                workload = [shape for kind, jobs in by_kind for job in jobs
                            if (shape := kind.workload(job.source)) is not None]  # fmt: skip
                stylizer = Stylizer(weights, inference, style, log=log, workload=workload)
            files = FileRun(stylizer, images, video, temporal, run, summary, log)
            for kind, jobs in by_kind:
                kind.stylize_files(jobs, files)
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


def _by_kind(
    jobs: list[Job], rank: int, world: int, run: RunOptions, summary: Summary, log: Log
) -> list[tuple[MediaKind, list[Job]]]:
    """This process's share of ``jobs``, grouped by kind in the kinds' order, those whose
    output cannot be written failed now, before any inference; with ``--benchmark`` only the
    kinds it measures."""
    groups: dict[str, tuple[MediaKind, list[Job]]] = {}
    for job in jobs:
        kind = file_kind(job.source)
        assert kind is not None  # the plan took only files some kind reads
        groups.setdefault(kind.name, (kind, []))[1].append(job)
    kept = []
    for kind, group in groups.values():
        share = group[rank::world]
        if run.benchmark and not kind.benchmarked:
            log(f"--benchmark measures videos; {len(share)} {kind.name} file(s) left alone")
        elif share := share if run.benchmark else _writable(share, summary, log):
            kept.append((kind, share))
    return kept


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
    """``-`` is the standard stream; a path must name a file of a kind that also streams."""
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
    kind = file_kind(path)
    if kind is None or not kind.streams_files:
        raise StylizeError(f"{path}: {role} of a pipe must be a video file or '-'")
    return path


def _head(source: Media) -> bytes:
    """The first bytes of ``source``, left in place: what its kind is chosen by."""
    if isinstance(source, Path):
        with source.open("rb") as f:
            return f.read(16)
    return source.peek(16)[:16] if hasattr(source, "peek") else b""


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
    ``video.stream_format``. The media kind that claims the stream's first bytes stylizes it
    (``stylizer.media.kinds``). Only media data is written to the output. Returns the number of
    frames.
    """
    size = parse_size(raw) if raw else None  # option mistakes first, before the streams
    source = _media(source, sys.stdin.buffer, "the input")
    target = _media("-" if target is None else target, sys.stdout.buffer, "the output")
    if video.stream_format and isinstance(target, Path):
        raise StylizeError("--format is for '-o -'; a file takes its format from its extension")
    head = _head(source)
    kind = stream_kind(head, size)
    if problem := kind.stream_problem(source, target):
        raise StylizeError(problem)
    if isinstance(target, Path) and (problem := output_folder_problem(target.parent)):
        raise StylizeError(f"cannot write {target}: {problem}")
    if size:
        check_pixels("--raw", *size, video.max_pixels)
    make_smoother(temporal.temporal, temporal.temporal_strength)  # bad options fail first
    stylizer = stylizer or Stylizer(weights, inference, style, log=log, workload=None)
    pipe = StreamRun(stylizer, video, temporal, run, log, raw=size, head=head)
    return kind.stylize_stream(source, target, pipe)
