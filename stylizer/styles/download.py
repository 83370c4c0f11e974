"""Resumable downloads over HTTP: a ``.part`` file beside the target grows until it is whole, and
only a whole, verified file is renamed into place.

A connection that drops mid-file is resumed from where it stopped (an HTTP range request), a few
times in one call and again on the next call; a server that ignores ranges sends the whole file
again. Errors are one line that says what happened, never a traceback.
"""

from __future__ import annotations

import hashlib
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import StylizeError
from ..progress import Progress
from ..registry import lazy_module

if TYPE_CHECKING:
    from http.client import HTTPResponse

# Loaded on first use: only a download needs them (15 ms of every start otherwise).
http_client = lazy_module("http.client")
urllib_error = lazy_module("urllib.error")
urllib_request = lazy_module("urllib.request")

#: Seconds without a byte from the server before a download counts as stalled.
TIMEOUT_SECONDS = 30.0
#: Resumes tried within one call after the connection drops.
RESUMES = 3
_CHUNK = 1 << 16


@dataclass(frozen=True)
class Digests:
    """What a downloaded file is: its SHA-256, and its git blob id (SHA-1 of ``blob <size>\\0``
    and the bytes, what ``git hash-object`` prints), the id the reference's repository knows."""

    sha256: str
    git_blob: str

    @classmethod
    def of(cls, path: Path) -> Digests:
        sha256 = hashlib.sha256()
        blob = hashlib.sha1(f"blob {path.stat().st_size}\0".encode())
        with path.open("rb") as f:
            while chunk := f.read(1 << 20):
                sha256.update(chunk)
                blob.update(chunk)
        return cls(sha256.hexdigest(), blob.hexdigest())


def partial_path(dest: Path) -> Path:
    """Where the bytes of ``dest`` gather until the download is whole."""
    return dest.with_name(dest.name + ".part")


class _Dropped(Exception):
    """The connection ended before the whole file came: worth resuming."""


def download(url: str, dest: Path, label: str, show_progress: bool = True) -> None:
    """Fetch ``url`` to ``dest`` (whole or not at all), resuming a ``.part`` left by an earlier
    attempt. The timeout is per read: a slow but moving download is never cut short. The caller
    makes sure no other process downloads to ``dest`` meanwhile (a lock)."""
    part = partial_path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    for attempt in range(RESUMES + 1):
        try:
            _fetch_into(url, part, label, show_progress)
            break
        except _Dropped as e:
            if attempt == RESUMES:
                size = part.stat().st_size if part.is_file() else 0
                raise StylizeError(
                    f"{label}: the connection dropped {RESUMES + 1} times ({e}); run again to "
                    f"resume from {size} bytes"
                ) from None
            time.sleep(min(2**attempt, 8) * 0.25)
    os.replace(part, dest)


def _fetch_into(url: str, part: Path, label: str, show_progress: bool) -> None:
    have = part.stat().st_size if part.is_file() else 0
    try:
        request = urllib_request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        response = urllib_request.urlopen(request, timeout=TIMEOUT_SECONDS)
    except urllib_error.HTTPError as e:
        if e.code == 416 and have:  # nothing left from there: whole already, or longer than it
            if e.headers.get("Content-Range", "") == f"bytes */{have}":
                return
            part.unlink()
            return _fetch_into(url, part, label, show_progress)
        raise StylizeError(f"{label}: {url} answered {e.code} {_one_line(e.reason)}") from None
    except (OSError, http_client.HTTPException, ValueError) as e:
        raise StylizeError(f"{label}: cannot reach {url} ({_reason(e)})") from None
    with response:
        if have and response.status != 206:
            have = 0  # the server ignored the range: it sends the whole file
        length = response.headers.get("Content-Length")
        total = have + int(length) if length and length.isdigit() else None
        with (
            _open_part(part, "ab" if have else "wb") as out,
            Progress(f"downloading {label}", "byte", total, show_progress, initial=have) as bar,
        ):
            while chunk := _read(response, url, label):
                try:
                    out.write(chunk)
                except OSError as e:
                    raise StylizeError(f"{label}: cannot write {part} ({_reason(e)})") from None
                bar.update(len(chunk))
    if total is not None and part.stat().st_size < total:
        raise _Dropped(f"{total - part.stat().st_size} bytes missing")


def _open_part(part: Path, mode: str):
    try:
        return part.open(mode)
    except OSError as e:
        raise StylizeError(f"cannot write {part} ({_reason(e)})") from None


def _read(response: HTTPResponse, url: str, label: str) -> bytes:
    """What has arrived of the body (a stall keeps what came before it)."""
    try:
        return response.read1(_CHUNK)
    except TimeoutError:
        raise StylizeError(
            f"{label}: {url} sent nothing for {TIMEOUT_SECONDS:.0f} s; run again to resume"
        ) from None
    except (OSError, http_client.HTTPException) as e:
        raise _Dropped(_reason(e)) from None


def _reason(error: BaseException) -> str:
    if isinstance(error, urllib_error.URLError) and isinstance(error.reason, BaseException):
        error = error.reason
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return _one_line(error) or type(error).__name__


def _one_line(what: object) -> str:
    """What ``what`` says, on one line: urllib's message for a redirect loop spans three."""
    return " ".join(str(what).split())
