"""The console scripts' entry points: they start the commands only when there is memory to run
them, and say so in one line when there is not, before PyTorch is imported (which, short of
memory, dies with a traceback or a C++ abort that no handler can catch); and ``run_command``,
how every console command (``stylize``, ``stylize-train``, ...) turns errors, signals and a
closed pipe into one line and an exit status."""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import resource
import sys
from collections.abc import Callable
from typing import Any

import click

from . import worker
from .errors import StylizeError, internal_error
from .signals import Stopped, stop_signals_unwind

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


def run_command(
    command: click.Command,
    say: Callable[[str], None],
    args: list[str],
    prog_name: str,
) -> None:
    """Run a command: user mistakes and bad files are one line on stderr and a non-zero exit,
    never a traceback (an internal error shows one only with ``--debug``); so are running out of
    memory and a reader that closed standard output early. Ctrl-C, SIGTERM and SIGHUP clean up
    and exit with 128 + the signal's number."""
    status: Any = None
    try:
        with stop_signals_unwind():
            status = _invoke(command, args, prog_name)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except (click.exceptions.Abort, KeyboardInterrupt) as e:
        stopped = e if isinstance(e, Stopped) else e.__cause__  # click turns them into Abort
        say(f"stopped by {stopped}" if isinstance(stopped, Stopped) else "interrupted")
        _exit_stopped(stopped.exit_status if isinstance(stopped, Stopped) else 130)
    except StylizeError as e:
        say(f"error: {e}")
        sys.exit(1)
    except BrokenPipeError:
        _silence_stdout()
        say("error: standard output was closed before everything was written to it (what was "
            "written to files is kept)")  # fmt: skip
        sys.exit(1)
    except Exception as e:
        if (problem := memory_problem(e)) is not None:
            say(f"error: {problem}")
            sys.exit(1)
        # Parsing has failed or finished by now: the flag is on the command line or absent.
        debug = "--debug" in args if any(p.name == "debug" for p in command.params) else None
        say(internal_error(e, debug))
        sys.exit(1)
    if isinstance(status, int) and status:  # ctx.exit(N) returns N without standalone mode
        sys.exit(status)


def _invoke(command: click.Command, args: list[str], prog_name: str) -> Any:
    """Parse ``args`` and run ``command``, as click's ``main`` does without standalone mode,
    but leaving every error to ``run_command`` (click's own ends a closed standard output with
    a silent exit 1)."""
    try:
        with command.make_context(prog_name, args) as ctx:
            return command.invoke(ctx)
    except click.exceptions.Exit as e:  # --help, --version, ctx.exit(N)
        return e.exit_code
    except (EOFError, KeyboardInterrupt) as e:
        raise click.exceptions.Abort() from e


def _silence_stdout() -> None:
    """Point standard output at the null device, so that the interpreter's last flush does not
    fail on the closed pipe with a second message."""
    with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, sys.stdout.fileno())
        os.close(null)


def _exit_stopped(status: int) -> None:
    """Exit after a stop signal, once every ``finally`` has cleaned up. While a worker is still
    inside a call (a batch the signal cut short) the process ends at once instead of tearing the
    interpreter down under it, which can crash it."""
    if worker.all_idle():
        sys.exit(status)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(status)
