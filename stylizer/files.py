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

from .errors import StylizeError, first_line


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


#: Characters of randomness ``tempfile`` puts into each name it makes.
_RANDOM_CHARS = 8


def _name_max(folder: Path) -> int:
    """The longest name, in bytes, the file system of ``folder`` takes (255 on the common ones)."""
    try:
        return os.pathconf(folder, "PC_NAME_MAX")
    except (AttributeError, OSError, ValueError):  # no pathconf, or no figure for this folder
        return 255


def temporary_beside(path: Path, suffix: str, *, folder: bool = False) -> Path:
    """A new hidden file (or folder) beside ``path``, named after it and ending in ``suffix``.
    The part of its name taken from ``path`` is shortened where the whole would not fit the
    file system's limit on a name: a legal output name must never fail for its temporary one."""
    room = _name_max(path.parent) - len(os.fsencode(f"..{suffix}")) - _RANDOM_CHARS
    name = path.name
    while name and len(os.fsencode(name)) > room:
        name = name[:-1]
    if folder:
        return Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=suffix, dir=path.parent))
    fd, made = tempfile.mkstemp(prefix=f".{name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    return Path(made)


@contextmanager
def atomic_output(
    path: Path, *, overwrite: bool = True, partial: Path | None = None
) -> Iterator[Path]:
    """A fresh temporary path beside ``path`` (ending in the same extension, so writers that go
    by it still can) to write to; published at ``path`` when the block ends without error.

    On an error, the temporary file is removed, or kept as ``partial`` when that is given.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_beside(path, f".part{path.suffix}")
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


def _replaceable(path: Path, marker: str | None) -> bool:
    """Whether ``path`` is a real folder (not a link) holding the file ``marker``."""
    return (
        marker is not None and not path.is_symlink() and path.is_dir() and (path / marker).is_file()
    )


def _check_free(path: Path, replaces: str | None) -> None:
    if os.path.lexists(path) and not _replaceable(path, replaces):
        kind = f"is not a folder holding a {replaces}" if replaces else "already exists"
        raise StylizeError(f"{path} {kind}; left it as it is")


@contextmanager
def atomic_folder(path: Path, *, replaces: str | None = None) -> Iterator[Path]:
    """A fresh temporary folder beside ``path`` to fill; when the block ends without error it
    is published at ``path`` whole, and on any error it is removed.

    Whatever is at ``path`` already is kept (an error says so, before the block and again at
    the end) unless the caller names, as ``replaces``, the file that marks a folder as one it
    may replace (a preset's manifest): then a real folder holding it is replaced whole, and
    still never a file, a link or a folder of other things.
    """
    _check_free(path, replaces)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_beside(path, ".part", folder=True)
    try:
        yield tmp
        ordinary_mode(tmp)
        _check_free(path, replaces)  # as it is now, after the block's work
        if os.path.lexists(path):
            _swap(tmp, path)
        else:
            try:
                tmp.rename(path)  # replaces nothing but an empty folder made meanwhile
            except OSError as e:
                if e.errno not in (errno.EEXIST, errno.ENOTEMPTY, errno.ENOTDIR):
                    raise
                raise StylizeError(
                    f"{path}: another run wrote it while this one worked; left it as it is"
                ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap(new: Path, path: Path) -> None:
    """Put the folder ``new`` at ``path`` in place of the folder there: the old one goes out of
    sight first and is deleted last, so a stop half-way leaves one whole folder at ``path``, or
    none and the old one hidden beside it."""
    old = temporary_beside(path, ".replaced", folder=True)
    path.rename(old / path.name)
    try:
        new.rename(path)
    except BaseException:
        (old / path.name).rename(path)
        raise
    finally:
        shutil.rmtree(old, ignore_errors=True)


@contextmanager
def writing(what: object, errors: tuple[type[Exception], ...] = (OSError,)) -> Iterator[None]:
    """The file-system errors (a full disk, a read-only folder, a file where a folder should be)
    of writing ``what`` as one line that names it, never an internal error. ``errors``: what
    they come as (torch.save reports a full disk as a ``RuntimeError``)."""
    try:
        yield
    except errors as e:
        reason = e.strerror if isinstance(e, OSError) and e.strerror else first_line(e)
        raise StylizeError(f"cannot write {what} ({reason})") from None


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
