"""Where backends keep what they prepare once per machine (TensorRT engines, ONNX graphs), and
how they read it back: shared here so that no backend imports another."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def cache_dir(environ: Mapping[str, str] = os.environ, kind: str = "tensorrt") -> Path:
    """``$XDG_CACHE_HOME/stylize/KIND``, or ``~/.cache/stylize/KIND`` when it is unset or not
    absolute (the XDG rule): where built engines (``tensorrt``) and graphs (``onnx``) wait."""
    base = environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    return root / "stylize" / kind


def read_cached(
    path: Path, load: Callable[[Path], T], what: str, notice: Callable[[str], None]
) -> T | None:
    """What ``load`` makes of the ``what`` cached at ``path``, or None when there is none or it
    cannot be read (damaged, truncated): then the caller builds it again, with a ``notice``."""
    if not path.is_file():
        return None
    try:
        return load(path)
    except Exception as e:
        notice(f"cached {what} {path.name} is unreadable ({type(e).__name__}); rebuilding")
        return None
