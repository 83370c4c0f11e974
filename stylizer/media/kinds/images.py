"""Image files: decoded ahead on two threads, batched by size, each written atomically; one that
cannot be read, stylized or written is that image's failure and the others go on."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from ...errors import failure_message
from ...images import IMAGE_EXTENSIONS, image_size
from ...progress import Progress
from .. import sinks, sources
from ..kind import FileRun, MediaKind, register_kind
from ..processors import PictureProcessor
from ..stages import Frame, Job, run


@register_kind("image")
class Images(MediaKind):
    extensions: ClassVar[tuple[str, ...]] = IMAGE_EXTENSIONS
    takes_ext = True

    def workload(self, path: Path) -> tuple[int, int, int] | None:
        size = image_size(path)
        return None if size is None else (1, *size)

    def stylize_files(self, jobs: list[Job], files: FileRun) -> None:
        bar = Progress("images", "image", len(jobs), files.run.progress)

        def failed(job: Job, error: Exception) -> None:
            with bar.message():
                files.summary.fail(failure_message(str(job.source), error, files.run.debug),
                                   files.log)  # fmt: skip

        def done(frame: Frame) -> None:
            assert frame.job is not None
            h, w = frame.picture.color.shape[:2]
            files.summary.record(frame.job, files.stylizer, kind="image", size=[w, h], frames=1,
                                 seconds=frame.seconds)  # fmt: skip

        sink = sinks.ImageWriter(files.run.overwrite, done, failed)
        source = sources.ImageReader(jobs, files.images)
        run(source, PictureProcessor(files.stylizer), sink, bar)
