"""One long-lived daemon thread that runs calls in order and hands back futures.

All inference of a process runs on one such thread (CUDA graphs belong to the thread that
recorded them), and frame analysis for smoothing on another. Unlike a ``ThreadPoolExecutor``'s,
the thread is a daemon: after Ctrl-C the process exits at once instead of waiting for a batch
or an engine build to end.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

_workers: list[Worker] = []


def all_idle() -> bool:
    """Whether no worker is inside a call. The interpreter must not shut down normally while
    one is: tearing PyTorch down under a running daemon thread can crash the process."""
    return not any(w.busy for w in _workers)


class Worker:
    def __init__(self, name: str) -> None:
        self.name = name
        self.busy = False
        self._calls: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        _workers.append(self)

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Run ``fn(*args)`` on the thread, after the calls before it."""
        with self._lock:
            if self._thread is None:  # started on first use: importing costs nothing
                self._thread = threading.Thread(target=self._serve, name=self.name, daemon=True)
                self._thread.start()
        future: Future = Future()
        self._calls.put((future, fn, args))
        return future

    def running_here(self) -> bool:
        """Whether the caller is this worker's thread (which must not wait on itself)."""
        return threading.current_thread() is self._thread

    def _serve(self) -> None:
        while True:
            future, fn, args = self._calls.get()
            if not future.set_running_or_notify_cancel():
                continue
            self.busy = True
            try:
                future.set_result(fn(*args))
            except BaseException as e:  # handed to the caller, who raises it
                future.set_exception(e)
            finally:
                self.busy = False
