"""The media kinds, one file each, found by discovery (see ``stylizer.media.kind``)."""

from __future__ import annotations

from pathlib import Path

from ...errors import StylizeError
from ...registry import discover
from ..kind import KINDS, MediaKind

discover(__name__)


def file_kind(path: Path) -> MediaKind | None:
    """The kind that reads the file ``path``, by its name; None when none does."""
    return next((kind() for kind in KINDS.values() if kind().claims(path)), None)


def stream_kind(head: bytes, raw: tuple[int, int] | None) -> MediaKind:
    """The kind of the pipe that begins with ``head`` (with ``--raw``'s size, if given)."""
    for kind in KINDS.values():
        if kind().claims_stream(head, raw):
            return kind()
    raise StylizeError("standard input holds no media stylize reads")


def file_extensions() -> tuple[str, ...]:
    """Every extension of a file some kind reads."""
    return tuple(ext for kind in KINDS.values() for ext in kind.extensions)


__all__ = ["KINDS", "MediaKind", "file_extensions", "file_kind", "stream_kind"]
