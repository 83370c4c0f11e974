"""SIGTERM and SIGHUP unwind the program the way Ctrl-C does, so that every temporary file is
removed and nothing half-written is left (Python's default for them ends the process at once,
skipping every ``finally``)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

#: Signals that stop a command the way Ctrl-C does.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Stopped(KeyboardInterrupt):
    """A stop signal arrived; ``exit_status`` is the shell's 128 + its number."""

    def __init__(self, number: int) -> None:
        super().__init__(signal.Signals(number).name)
        self.number = number

    @property
    def exit_status(self) -> int:
        return 128 + self.number


def ignored(number: int) -> bool:
    """Whether the signal is ignored (SIGHUP under ``nohup``): then it stays ignored."""
    return signal.getsignal(number) == signal.SIG_IGN


def _raise(number: int, _frame) -> None:
    raise Stopped(number)


@contextmanager
def stop_signals_unwind() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``Stopped`` in the main thread (Ctrl-C keeps
    raising ``KeyboardInterrupt``); a signal the process ignores stays ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {n: signal.signal(n, _raise) for n in STOP_SIGNALS[1:] if not ignored(n)}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
