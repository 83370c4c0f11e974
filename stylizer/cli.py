"""``stylize`` and ``stylize-flicker``: choose the command and run it; the commands themselves are
in ``stylizer.commands``, one file each."""

from __future__ import annotations

import sys

from .commands import SUBCOMMANDS, say
from .commands.flicker import flicker_command
from .commands.stylize import stylize_command
from .launch import run_command


def main(argv: list[str] | None = None) -> None:
    """``stylize`` with ``argv`` (default: the process's arguments): a first argument that names
    a subcommand runs it (a file of that name is ``./NAME``), anything else is stylized."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args and args[0] in SUBCOMMANDS:
        run_command(SUBCOMMANDS[args[0]], say, args[1:], prog_name=f"stylize {args[0]}")
    else:
        run_command(stylize_command, say, args, prog_name="stylize")


def flicker_main(argv: list[str] | None = None) -> None:
    """``stylize-flicker`` with ``argv`` (default: the process's arguments)."""
    args = sys.argv[1:] if argv is None else list(argv)
    run_command(flicker_command, say, args, prog_name="stylize-flicker")
