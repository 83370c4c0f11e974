"""What the ``stylize`` commands share: how they speak, their help's layout, and the table of
subcommands (``stylize presets``, ``stylize sheet``, ...) that each command file adds itself to."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import click

from ..images import IMAGE_EXTENSIONS

C = TypeVar("C", bound=click.Command)

#: Every command's help: -h too, and room for the long option texts.
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}

#: The image formats results can be written in (``--ext``), without their dots.
IMAGE_FORMATS = sorted({e.lstrip(".") for e in IMAGE_EXTENSIONS})

#: ``stylize NAME ...`` runs ``SUBCOMMANDS[NAME]``; any other first argument is an input.
SUBCOMMANDS: dict[str, click.Command] = {}


def say(message: str) -> None:
    """Tell the user something on standard error (standard output is for data)."""
    click.echo(f"stylize: {message}", err=True)


def subcommand(name: str) -> Callable[[C], C]:
    """Make the decorated command ``stylize NAME``."""

    def add(command: C) -> C:
        SUBCOMMANDS[name] = command
        return command

    return add
