"""Progress on long work: a tqdm bar on a terminal, a plain line every few seconds elsewhere.

Under a log file, a job scheduler or a pipe a bar is unreadable (carriage returns) and often
invisible until the end, so there a line such as ``clip.mp4: 120/300 frames (40%), 3.1
frame/s, ETA 58 s`` goes to stderr every ``STYLIZE_PROGRESS_SECONDS`` (default 10) seconds.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from typing import Any

#: Seconds between progress lines when stderr is not a terminal.
DEFAULT_INTERVAL = 10.0


def _interval() -> float:
    try:
        return max(0.0, float(os.environ.get("STYLIZE_PROGRESS_SECONDS", DEFAULT_INTERVAL)))
    except ValueError:
        return DEFAULT_INTERVAL


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


class Progress:
    """Counts work done; shows it as a bar on a terminal, as periodic lines otherwise, or not at
    all when ``enabled`` is false. ``initial`` is work done before (a resumed run)."""

    def __init__(
        self,
        label: str,
        unit: str,
        total: int | None = None,
        enabled: bool = True,
        initial: int = 0,
    ) -> None:
        self.label, self.unit, self.total = label, unit, total
        self.done = initial
        self._initial = initial
        self._lines = enabled and not sys.stderr.isatty()
        self._bar: Any = None  # a terminal's tqdm bar (tqdm is imported only then)
        if enabled and not self._lines:
            from tqdm import tqdm

            self._bar = tqdm(
                total=total, initial=initial, unit=unit, dynamic_ncols=True, leave=False
            )
        self._every = _interval()
        self._started = self._last = time.monotonic()
        self._printed = initial
        self.postfix = ""

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        now = time.monotonic()
        if self._lines and now - self._last >= self._every:
            self._print(now)

    def _print(self, now: float) -> None:
        self._last, self._printed = now, self.done
        sys.stderr.write(self.line(now) + "\n")
        sys.stderr.flush()

    def set_postfix(self, values: dict[str, str]) -> None:
        """Figures shown after the counts (training losses, say)."""
        self.postfix = ", ".join(f"{k} {v}" for k, v in values.items())
        if self._bar is not None:
            self._bar.set_postfix(values, refresh=False)

    def line(self, now: float | None = None) -> str:
        """``label: done/total unit (percent), rate, ETA``."""
        elapsed = (now or time.monotonic()) - self._started
        rate = (self.done - self._initial) / elapsed if elapsed > 0 else 0.0
        unit = self.unit + ("s" if self.done != 1 and not self.unit.endswith("s") else "")
        parts = [f"{self.done}/{self.total} {unit}" if self.total else f"{self.done} {unit}"]
        if self.total:
            parts[0] += f" ({100 * self.done // self.total}%)"
        parts.append(f"{rate:.3g} {self.unit}/s" if rate else "starting")
        if self.total and rate:
            parts.append(f"ETA {_duration(max(0, self.total - self.done) / rate)}")
        if self.postfix:
            parts.append(self.postfix)
        return f"{self.label}: " + ", ".join(parts)

    @contextlib.contextmanager
    def message(self) -> Iterator[None]:
        """Around writing a line to stderr, so a bar does not break it."""
        if self._bar is None:
            yield
            return
        with self._bar.external_write_mode(file=sys.stderr):
            yield

    def close(self) -> None:
        """Ends the bar; in line mode, a job long enough to have printed lines gets a last one
        when the work went on past the one before."""
        if self._bar is not None:
            self._bar.close()
        if self._lines and self._printed > self._initial and self.done > self._printed:
            self._print(time.monotonic())

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *_) -> None:
        self.close()
