"""What the ``stylize`` commands share: how they speak, their help's layout, and the table of
subcommands (``stylize presets``, ``stylize sheet``, ...) that each command file adds itself to."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ..images import IMAGE_EXTENSIONS

C = TypeVar("C", bound=click.Command)
F = TypeVar("F", bound=Callable[..., Any])

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


def encoder_options(command: F) -> F:
    """The video encoder's options (``--codec``, ``--crf``, ``--encoder-preset``), alike for every
    command that writes videos."""
    for option in reversed(
        [
            click.option("--codec", help="Video codec (default libx264; libvpx-vp9 for .webm)."),
            click.option(
                "--crf", type=click.IntRange(0, 63), help="Video quality, lower is better (18)."
            ),
            click.option(
                "--encoder-preset", help="Encoder speed preset, e.g. x264's slow (medium)."
            ),
        ]
    ):
        command = option(command)
    return command
