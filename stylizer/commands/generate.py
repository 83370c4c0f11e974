"""``stylize generate``: new images, a sheet of them, or a walk video, from a preset trained to
draw from random numbers (``stylize-train --task unconditional``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click
import numpy as np

from ..errors import StylizeError
from ..files import output_folder_problem
from ..images import Picture, is_image_path, write_image
from ..media.encode import write_frames
from ..media.formats import is_video_path
from ..options import VideoOptions
from ..outputs import Claims
from ..sheet import tile_grid
from ._shared import CONTEXT, IMAGE_FORMATS, encoder_options, say, subcommand

if TYPE_CHECKING:
    from ..generation import GenerateOptions

#: Side of a walk video's frames unless --size says otherwise (generators draw 64 or 128 px).
WALK_SIDE = 256


@subcommand("generate")
@click.command(context_settings=CONTEXT)
@click.option("-p", "--preset", required=True, help="A preset that draws new images.")
@click.option("-n", "--count", type=click.IntRange(1, 100_000), default=16, show_default=True, help="Images to draw.")  # fmt: skip
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="A folder for the images (default generated/); with --walk, the video file.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="The same seed draws the same images.")  # fmt: skip
@click.option(
    "--grid", type=click.Path(dir_okay=False, path_type=Path), help="Also one sheet of them all."
)
@click.option("--ext", type=click.Choice(IMAGE_FORMATS), default="png", show_default=True)
@click.option("--size", type=click.IntRange(8, 4096), help="Side of what is written (default: the generator's own; 256 for --walk).")  # fmt: skip
@click.option(
    "--walk",
    type=click.FloatRange(0.1, 3600),
    metavar="SECONDS",
    help="Write a video this long that glides through the generator's random numbers instead.",
)
@click.option("--fps", type=click.IntRange(1, 240), default=30, show_default=True, help="With --walk.")  # fmt: skip
@click.option("--seconds-per-image", type=click.FloatRange(0.2, 60), default=2.0, show_default=True, help="With --walk: time between the random points it passes.")  # fmt: skip
@encoder_options
@click.option("--overwrite", is_flag=True, help="Replace files of the same names.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
def generate_command(
    preset: str,
    count: int,
    output: Path | None,
    seed: int,
    grid: Path | None,
    ext: str,
    size: int | None,
    walk: float | None,
    fps: int,
    seconds_per_image: float,
    codec: str | None,
    crf: int | None,
    encoder_preset: str | None,
    overwrite: bool,
    device: str,
) -> None:
    """Draw new images with a preset trained on a folder of pictures (stylize-train --task
    unconditional): each comes from a random vector, and the same --seed draws the same ones.

    \b
    Examples:
      stylize generate -p shoes -n 64 -o new-shoes/          # new-shoes/shoes_seed0_0000.png ...
      stylize generate -p shoes -n 64 --grid shoes.png --size 128
      stylize generate -p shoes --walk 10 -o walk.mp4        # a 10-second glide through shoes
    """
    from ..generation import GenerateOptions, NoiseSampler, sample_names  # PyTorch: here only

    if walk is not None:
        video = VideoOptions(codec=codec, crf=crf, encoder_preset=encoder_preset)
        options = GenerateOptions(preset, device, size or WALK_SIDE, seed)
        _write_walk(options, output, walk, fps, seconds_per_image, video, overwrite)
        return
    folder = output or Path("generated")
    if folder.exists() and not folder.is_dir():
        raise click.UsageError(f"-o {folder}: a file; images go into a folder")
    if grid is not None and not is_image_path(grid):
        raise click.BadParameter(f"{grid}: use an image extension", param_hint="--grid")
    sampler = NoiseSampler(GenerateOptions(preset, device, size, seed))
    prefix = Path(preset).name
    paths = sample_names(folder, f"{prefix}_seed{seed}", count, ext)
    claims = Claims([])
    for path in [*paths, *([grid] if grid else [])]:
        claims.claim(path, str(path))
    _refuse_existing([*paths, *([grid] if grid else [])], overwrite)
    for where in {folder, *([grid.parent] if grid else [])}:
        if problem := output_folder_problem(where):
            raise StylizeError(f"cannot write into {where}: {problem}")
    images = sampler.draw(sampler.vectors(count))
    for path, image in zip(paths, images, strict=True):
        write_image(path, Picture(image), overwrite=overwrite)
    say(f"wrote {count} image(s) to {folder}/")
    if grid is not None:
        write_image(grid, Picture(sheet_of(images)), overwrite=overwrite)
        say(f"wrote {grid}")


def sheet_of(images: list[np.ndarray]) -> np.ndarray:
    """The images in a near-square grid on white."""
    columns = int(np.ceil(np.sqrt(len(images))))
    return tile_grid([images[i : i + columns] for i in range(0, len(images), columns)], padding=2)


def _write_walk(
    options: GenerateOptions,
    output: Path | None,
    seconds: float,
    fps: int,
    seconds_per_image: float,
    video: VideoOptions,
    overwrite: bool,
) -> None:
    """``--walk``: the video, its path checked before anything is drawn."""
    if output is None or not is_video_path(output):
        raise click.UsageError("--walk writes a video: give -o FILE.mp4 (or .mkv, .webm)")
    _refuse_existing([output], overwrite)
    if problem := output_folder_problem(output.parent):
        raise StylizeError(f"cannot write {output}: {problem}")
    from ..generation import NoiseSampler

    sampler = NoiseSampler(options)
    frames = sampler.walk(max(1, round(seconds * fps)), fps, seconds_per_image)
    written = write_frames(output, frames, fps, video, overwrite=overwrite)
    say(f"wrote {output}: {written} frames, {written / fps:.1f} s")


def _refuse_existing(paths: list[Path], overwrite: bool) -> None:
    """Never replace a file without --overwrite: say so before anything is drawn."""
    taken = [p for p in paths if p.exists()]
    if taken and not overwrite:
        more = f" and {len(taken) - 1} more" if len(taken) > 1 else ""
        raise StylizeError(
            f"{taken[0]}{more} already exist(s): --overwrite replaces them, or choose another "
            "-o or --seed"
        )
