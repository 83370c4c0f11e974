"""The one error type the CLI turns into a one-line message and a non-zero exit, and the one way
every per-file boundary reports what went wrong with a file."""

from __future__ import annotations

import traceback


class StylizeError(Exception):
    """A user-facing problem (bad input, bad weights, bad option); the message names the culprit."""


def failure_message(name: str, error: Exception, debug: bool = False) -> str:
    """One line for what ``error`` did to the file ``name``: a ``StylizeError`` says it itself
    (prefixed with ``name`` unless it already names it); anything else is an internal error,
    with its traceback after the line when ``debug``."""
    if isinstance(error, StylizeError):
        text = str(error)
        return text if text.startswith(name) else f"{name}: {text}"
    return f"{name}: {internal_error(error, debug)}"


def first_line(error: BaseException) -> str:
    """The first line of what ``error`` says, or its type's name when it says nothing."""
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def internal_error(error: Exception, debug: bool | None = False) -> str:
    """``internal error: Type: message``, then the traceback when ``debug``; with ``debug``
    None the command has no ``--debug`` flag to point to."""
    first = first_line(error)
    line = f"internal error: {type(error).__name__}" + (
        f": {first}" if first != type(error).__name__ else ""
    )
    if debug is None:
        return line
    if not debug:
        return line + " (--debug shows the traceback)"
    return line + "\n" + "".join(traceback.format_exception(error)).rstrip()
