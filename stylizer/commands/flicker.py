"""``stylize-flicker``: how much a stylized video flickers (``stylizer.flicker``)."""

from __future__ import annotations

from pathlib import Path

import click

from ..flicker import flicker_report
from ..optical_flow import DIS_PRESETS
from ._shared import CONTEXT


@click.command(context_settings=CONTEXT)
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("output", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "-r",
    "--reference",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The same video stylized frame by frame (stylize --temporal none): also report the "
    "PSNR to it, since a blurred or frozen video flickers little too.",
)
@click.option(
    "--flow-preset",
    type=click.Choice(list(DIS_PRESETS)),
    default="medium",
    show_default=True,
    help="OpenCV DIS optical flow quality.",
)
def flicker_command(source: Path, output: Path, reference: Path | None, flow_preset: str) -> None:
    """Measure how much OUTPUT, a stylized version of the video SOURCE, flickers.

    Prints the warping error of Lai et al. (ECCV 2018), with DIS optical flow computed on SOURCE:
    the mean squared difference (pixels in 0-1) between each output frame and the next one
    moved back along the flow, over pixels visible in both. Lower is steadier.

    \b
    Example:
      stylize clip.mp4 -p vangogh --temporal none -o perframe.mp4
      stylize clip.mp4 -p vangogh -o smooth.mp4
      stylize-flicker clip.mp4 perframe.mp4
      stylize-flicker clip.mp4 smooth.mp4 --reference perframe.mp4
    """
    click.echo(flicker_report(source, output, reference, flow_preset).line())
