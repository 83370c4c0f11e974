"""What a media kind is: a kind of input (image files, video files, frames on a pipe) with the
source, processor and sink that stylize it. Each kind is one file in ``stylizer.media.kinds``,
found by discovery; the plan asks the kinds which files they take, and the pipeline hands each
kind its jobs, so a new kind (an image sequence, a GIF, a URL) is one new file."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, ClassVar

from ..errors import StylizeError
from ..inference import Stylizer
from ..options import ImageOptions, RunOptions, TemporalOptions, VideoOptions
from ..registry import Registry
from .stages import Job

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
        import torch.distributed

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

    def record(
        self,
        job: Job,
        stylizer: Stylizer,
        *,
        kind: str,
        size: list[int] | None,
        frames: int,
        seconds: float,
        more: dict[str, Any] | None = None,
    ) -> None:
        """Count ``job`` done, with what ``--json`` says of its output (``more`` for its kind)."""
        self.done.append(job.target)
        self.records.append({
            "input": str(job.source),
            "output": str(job.target),
            "kind": kind,
            "style": stylizer.name,
            "size": size,
            "frames": frames,
            "seconds": round(seconds, 3),
            "device": str(stylizer.backend.device),
            "backend": stylizer.backend.name,
            "precision": stylizer.backend.precision,
        } | (more or {}))  # fmt: skip


@dataclass(frozen=True)
class FileRun:
    """What a kind stylizes its files with, and where it reports each one."""

    stylizer: Stylizer
    images: ImageOptions
    video: VideoOptions
    temporal: TemporalOptions
    run: RunOptions
    summary: Summary
    log: Log


@dataclass(frozen=True)
class StreamRun:
    """What a kind stylizes a pipe with: ``raw`` is ``--raw``'s frame size, if given, and
    ``head`` the stream's first bytes, by which its kind was chosen."""

    stylizer: Stylizer
    video: VideoOptions
    temporal: TemporalOptions
    run: RunOptions
    log: Log
    raw: tuple[int, int] | None = None
    head: bytes = b""


class MediaKind:
    """A kind of media. Files: those whose extension is in ``extensions``, every job of the run
    at once to ``stylize_files``. Pipes: the first kind whose ``claims_stream`` takes the
    stream's first bytes (and ``--raw``) stylizes it with ``stylize_stream``."""

    name: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]] = ()
    #: Whether ``--benchmark`` measures this kind (it measures stage speeds of long media).
    benchmarked: ClassVar[bool] = False
    #: Whether ``--ext`` changes its results' format.
    takes_ext: ClassVar[bool] = False
    #: Whether its files may stand for a pipe (``stylize video.mp4 -o -``, ``-o out.mp4``).
    streams_files: ClassVar[bool] = False

    def claims(self, path: Path) -> bool:
        return path.suffix.lower() in self.extensions

    def workload(self, path: Path) -> tuple[int, int, int] | None:  # noqa: ARG002
        """Frames, height and width, where known cheaply: what choosing a backend goes by."""
        return None

    def stylize_files(self, jobs: list[Job], run: FileRun) -> None:  # noqa: ARG002
        raise StylizeError(f"{self.name} cannot be read from files")

    def claims_stream(self, head: bytes, raw: tuple[int, int] | None) -> bool:  # noqa: ARG002
        return False

    def stream_problem(self, source: Path | BinaryIO, target: Path | BinaryIO) -> str | None:  # noqa: ARG002
        """What is wrong with reading ``source`` into ``target`` (a path or a pipe), found
        before the model is loaded; None when nothing is."""
        return None

    def stylize_stream(
        self,
        source: Path | BinaryIO,  # noqa: ARG002
        target: Path | BinaryIO | None,  # noqa: ARG002
        run: StreamRun,  # noqa: ARG002
    ) -> int:
        raise StylizeError(f"{self.name} cannot be read from a pipe")


KINDS: Registry[MediaKind] = Registry("media kind")
register_kind = KINDS.register
