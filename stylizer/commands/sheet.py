"""``stylize sheet``: one image with each photo in every style, to pick a style by looking."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..errors import StylizeError
from ..files import output_folder_problem
from ..images import (
    Picture,
    is_image_path,
    write_image,
)
from ..options import (
    InferenceOptions,
)
from ..outputs import Claims
from ..sheet import contact_sheet, sheet_inputs
from ..styles.presets import list_presets
from ._shared import CONTEXT, IMAGE_FORMATS, say, subcommand


@subcommand("sheet")
@click.command(context_settings=CONTEXT)
@click.argument("photos", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    default="sheet.png",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The sheet's image file.",
)
@click.option(
    "--presets",
    "styles",
    metavar="A,B,...",
    help="Styles to show, by preset name or weight file (default: every installed preset that "
    "stylizes).",
)
@click.option(
    "--size",
    type=click.IntRange(32, 2048),
    default=256,
    show_default=True,
    help="Side of each tile; photos are scaled down to fit.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
def sheet_command(
    photos: tuple[str, ...], output: Path, styles: str | None, size: int, device: str
) -> None:
    """Write one image with each PHOTO and its result in every style, labelled: pick a style by
    looking. PHOTOS are image files or folders of them; each photo is one row.

    \b
    Examples:
      stylize sheet photo.jpg                          # -> sheet.png, every installed preset
      stylize sheet photo.jpg -o looks.png --presets vangogh,monet,cyclegan:style_ukiyoe
      stylize sheet holiday/ -o holiday-styles.png     # a row per photo of the folder
    """
    names = (
        [n.strip() for n in styles.split(",") if n.strip()]
        if styles
        else [p.name for p in list_presets() if not p.from_noise]
    )
    if not names:
        raise click.UsageError("no styles: install a preset or give --presets")
    if not is_image_path(output):
        raise click.BadParameter(
            f"{output}: use an image extension ({', '.join(IMAGE_FORMATS)})", param_hint="-o"
        )
    inputs = sheet_inputs(list(photos))
    Claims(inputs).claim(output, f"-o {output}")
    if problem := output_folder_problem(output.parent):
        raise StylizeError(f"cannot write {output}: {problem}")  # before any inference
    sheet = contact_sheet(
        inputs, names, side=size, inference=InferenceOptions(device=device), log=say
    )
    try:
        write_image(output, Picture(sheet.image))
    except OSError as e:
        raise StylizeError(f"cannot write {output} ({e.strerror or e})") from None
    shown = len(inputs) - len(sheet.failed_photos)
    say(
        f"wrote {output}: {len(names) - len(sheet.failed_styles)} of {len(names)} styles, "
        f"{shown} of {len(inputs)} photos"
    )
    if sheet.failed_photos or sheet.failed_styles:
        sys.exit(1)
