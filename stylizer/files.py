"""Writing results safely: a unique temporary name per run, published whole or not at all.

Every output (image, video, checkpoint, engine cache, preset file) is written under a temporary
name of its own beside its final path, so two runs writing the same output never share a file,
an interrupted run leaves nothing at the final name, and a run that did not ask to overwrite
never replaces what another run published meanwhile.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import StylizeError


def _read_umask() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return umask


#: Read once, at import: setting it to read it is not safe while other threads create files.
_UMASK = _read_umask()


def ordinary_mode(path: Path) -> None:
    """``mkstemp`` and ``mkdtemp`` make private files and folders; results are ordinary ones
    (0666 or 0777 less the umask)."""
    os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~_UMASK)


def publish(tmp: Path, path: Path, overwrite: bool = True) -> None:
    """Move the finished ``tmp`` to ``path``. Without ``overwrite``, a ``path`` that exists by
    now (another run published it meanwhile) is left alone and this result is discarded with an
    error: a hard link creates the name only if it is free, atomically."""
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)
    except FileExistsError:
        tmp.unlink(missing_ok=True)
        raise StylizeError(
            f"{path}: another run wrote it while this one worked; left it as it is and "
            "discarded this result (--overwrite replaces it)"
        ) from None
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
            raise
        os.replace(tmp, path)  # a file system without hard links: a plain rename
        return
    tmp.unlink()


@contextmanager
def atomic_output(
    path: Path, *, overwrite: bool = True, partial: Path | None = None
) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` (ending in the same extension, so writers that go
    by it still can) to write to; published at ``path`` when the block ends without error.

    On an error, the temporary file is removed, or kept as ``partial`` when that is given.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=f".part{path.suffix}", dir=path.parent
    )
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        ordinary_mode(tmp)
        publish(tmp, path, overwrite)
    except BaseException:
        if partial is not None and tmp.is_file() and tmp.stat().st_size:
            tmp.replace(partial)
        else:
            tmp.unlink(missing_ok=True)
        raise


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """A fresh temporary folder beside ``path`` to fill; when the block ends without error it
    replaces ``path`` (a preset, say) whole, and on any error it is removed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent))
    try:
        yield tmp
        ordinary_mode(tmp)
        if path.exists():
            shutil.rmtree(path)
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_atomic(path: Path, data: bytes, overwrite: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file: never a partial file at ``path``."""
    with atomic_output(path, overwrite=overwrite) as tmp:
        tmp.write_bytes(data)


def output_folder_problem(folder: Path) -> str | None:
    """Why files cannot be written into ``folder`` (or, while it does not exist, into the
    nearest folder above it, where it would be created), or None when they can: found before
    any work is done, not after it. Tried for real, since permission bits do not tell about
    read-only file systems or root."""
    existing = folder
    while not existing.exists():
        if existing.parent == existing:
            break
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as e:
        return f"{existing} is not writable ({e.strerror or e})"
    return None
