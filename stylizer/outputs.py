"""The one place that decides whether a path may be written: never onto an input, never onto
another output of the same command. Results, ``--json`` reports, sheets and sketches all claim
their paths here before any work is done, so a command can only write files of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from .errors import StylizeError


def _identity(path: Path) -> tuple:
    """What ``path`` is on disk: its device and inode when it exists (a hard link or symlink to
    an input is that input), else its resolved path (a folder reached through a link is the same
    folder)."""
    try:
        st = os.stat(path)
        return ("inode", st.st_dev, st.st_ino)
    except OSError:
        return ("path", os.path.realpath(path))


class Claims:
    """The inputs a command reads and the outputs it has claimed so far."""

    def __init__(self, inputs: Iterable[Path] = ()) -> None:
        self._inputs = {_identity(p): p for p in inputs}
        self._outputs: dict[tuple, str] = {}

    def is_input(self, path: Path) -> bool:
        return _identity(path) in self._inputs

    def problem(self, path: Path, owner: str) -> str | None:
        """Claim ``path`` for ``owner`` (what writes it: an input's name for its result,
        ``--json`` for the report), or say why it cannot be written: it is an input, or another
        output of this command."""
        key = _identity(path)
        if key in self._inputs:
            source = self._inputs[key]
            return f"{path} would overwrite an input" + ("" if source == path else f" ({source})")
        if key in self._outputs:
            return f"{path} is already the output of {self._outputs[key]}"
        self._outputs[key] = owner
        return None

    def claim(self, path: Path, owner: str) -> None:
        """As ``problem``, raised as a one-line error: for an output the whole command stands or
        falls by."""
        if problem := self.problem(path, owner):
            raise StylizeError(f"{owner}: {problem}; choose another path")


def not_a_file(path: Path) -> str:
    """Why ``path``, which is neither a regular file nor a folder, is not read: a FIFO, socket or
    device is named as one, and only a path that is missing is 'no such file'."""
    if path.is_fifo():
        return f"{path}: a named pipe, not a file (pipe media into standard input with '-')"
    if path.exists():
        return f"{path}: not a regular file or folder"
    return f"{path}: no such file or folder"
