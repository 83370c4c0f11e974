"""The console scripts' entry points: they start the commands only when there is memory to run
them, and say so in one line when there is not, before PyTorch is imported (which, short of
memory, dies with a traceback or a C++ abort that no handler can catch)."""

from __future__ import annotations

import importlib
import resource
import sys

#: Address space PyTorch needs to import and start its threads, measured under ``ulimit -v``
#: (it failed at 3.5 GiB and started at 4 GiB).
NEEDED_ADDRESS_SPACE = 4 << 30

_OUT_OF_MEMORY = (
    "out of memory: close other programs, or ask for less at once (a smaller --batch-size; "
    "for stylize, --tile 512 or --max-size)"
)


def memory_problem(error: BaseException) -> str | None:
    """What to tell the user when ``error`` means that memory ran out, else None: a
    ``MemoryError``, and what a library raises instead when it cannot map a shared library or
    start a thread."""
    text = str(error)
    if isinstance(error, MemoryError) or (
        isinstance(error, ImportError | OSError | RuntimeError)
        and any(
            sign in text
            for sign in (
                "failed to map segment",
                "Cannot allocate memory",
                "can't start new thread",
            )
        )
    ):
        return _OUT_OF_MEMORY
    return None


def _address_space_problem() -> str | None:
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft >= NEEDED_ADDRESS_SPACE:
        return None
    return (
        f"memory is limited to {soft / (1 << 30):.1f} GiB of address space (ulimit -v); "
        f"PyTorch needs about {NEEDED_ADDRESS_SPACE >> 30} GiB to start: raise the limit"
    )


def _launch(prog: str, module: str, function: str) -> None:
    problem = _address_space_problem()
    if problem is None:
        try:
            main = getattr(importlib.import_module(module), function)
        except (ImportError, MemoryError, OSError) as e:
            if (problem := memory_problem(e)) is None:
                raise
    if problem is not None:
        print(f"{prog}: error: {problem}", file=sys.stderr)
        sys.exit(1)
    main()


def stylize() -> None:
    _launch("stylize", "stylizer.cli", "main")


def flicker() -> None:
    _launch("stylize-flicker", "stylizer.cli", "flicker_main")


def train() -> None:
    _launch("stylize-train", "trainer.cli", "main")
