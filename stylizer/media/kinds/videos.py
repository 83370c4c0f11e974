"""Video files and containers on pipes (NUT, Matroska, MPEG-TS): every frame with its timestamp
through the model and the temporal smoother, the other streams copied, published whole."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, ClassVar

from ...errors import failure_message
from ...options import VideoOptions
from ...progress import Progress
from .. import sinks, sources
from ..formats import VIDEO_EXTENSIONS, Media, video_info, video_shape
from ..kind import FileRun, MediaKind, StreamRun, register_kind
from ..processors import frame_processor
from ..stages import Job, Processor, StageTimes, run


def stylize_video(
    source: Media,
    target: Media | None,
    processor: Processor,
    options: VideoOptions = VideoOptions(),
    *,
    overwrite: bool = True,
    progress: bool = False,
) -> StageTimes:
    """Stylize every frame of ``source`` into ``target``: paths or open binary streams (a
    stream's format is ``options.stream_format``), or None to encode and discard (benchmarks).
    Frames keep their timestamps, other streams are copied (or re-encoded, as ``options`` say),
    and a file is published only when complete."""
    with sources.VideoReader(source, options.max_pixels) as video:
        sink = sinks.VideoWriter(target, video, options, overwrite=overwrite)
        return run(video, processor, sink, Progress(video.label, "frame", video.total, progress))


@register_kind("video")
class Videos(MediaKind):
    extensions: ClassVar[tuple[str, ...]] = VIDEO_EXTENSIONS
    benchmarked = True
    streams_files = True

    def workload(self, path: Path) -> tuple[int, int, int]:
        return video_shape(path)

    def stylize_files(self, jobs: list[Job], files: FileRun) -> None:
        for job in jobs:
            self._one(job, files)

    @staticmethod
    def _one(job: Job, files: FileRun) -> None:
        """One video; its failure is counted and logged, not raised."""
        benchmark = files.run.benchmark
        try:
            times = stylize_video(job.source, None if benchmark else job.target,
                                  frame_processor(files.stylizer, files.temporal), files.video,
                                  overwrite=files.run.overwrite,
                                  progress=files.run.progress)  # fmt: skip
        except Exception as e:
            files.summary.fail(failure_message(str(job.source), e, files.run.debug), files.log)
            return
        if benchmark:
            files.log(f"{job.source}: {times.report()}")
            files.summary.benchmarked.append(job.source)
            return
        info = video_info(job.target)
        size = info.pop("size", None)
        files.summary.record(job, files.stylizer, kind="video", size=size, frames=times.frames,
                             seconds=times.wall, more=info)  # fmt: skip

    def claims_stream(self, head: bytes, raw: tuple[int, int] | None) -> bool:  # noqa: ARG002
        return raw is None  # any container FFmpeg reads from a pipe

    def stylize_stream(
        self, source: Path | BinaryIO, target: Path | BinaryIO | None, pipe: StreamRun
    ) -> int:
        times = stylize_video(source, None if pipe.run.benchmark else target,
                              frame_processor(pipe.stylizer, pipe.temporal), pipe.video,
                              progress=pipe.run.progress)  # fmt: skip
        pipe.log(times.report() if pipe.run.benchmark else f"{times.frames} frames stylized")
        return times.frames
