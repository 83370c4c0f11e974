"""``stylize INPUTS``: stylize files, folders, globs and pipes (``stylizer.pipeline``), and
report what was done."""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TypeVar

import click

from ..backends import backend_names
from ..controls import click_options
from ..demo import write_demo
from ..device import PRECISIONS
from ..errors import StylizeError
from ..files import output_folder_problem, write_atomic
from ..images import (
    OPENCV_MAX_PIXELS,
    default_max_pixels,
)
from ..media.formats import STREAM_FORMATS
from ..options import (
    ImageOptions,
    InferenceOptions,
    RunOptions,
    StyleOptions,
    TemporalOptions,
    VideoOptions,
)
from ..outputs import Claims
from ..pipeline import stylize_files, stylize_stream
from ..styles.loading import load_generator
from ..temporal import SMOOTHERS
from ._shared import CONTEXT, IMAGE_FORMATS, encoder_options, say
from .presets import describe_presets

T = TypeVar("T")


def _picked(kind: type[T], options: dict[str, Any], **given: Any) -> T:
    """The option object ``kind`` from the command line's options of the same names."""
    names = {f.name for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    return kind(**({k: v for k, v in options.items() if k in names} | given))


@click.command(context_settings=CONTEXT)
@click.version_option(package_name="stylize", message="%(prog)s %(version)s")
@click.argument("inputs", nargs=-1)
@click.option("-p", "--preset", metavar="NAME", help="Style to apply (see --list-presets).")
@click.option(
    "-w",
    "--weights",
    metavar="FILE",
    help="Generator weights instead of a preset: a reference checkpoint such as "
    "latest_net_G_A.pth, or any CycleGAN/pix2pix generator state dict.",
)
@click.option(
    "-o",
    "--output",
    metavar="PATH",
    help="Output folder, or output file for a single input. "
    "Default: NAME_STYLE.EXT beside each input, FOLDER_STYLE/ for a folder.",
)
@click.option("--ext", type=click.Choice(IMAGE_FORMATS), help="Write results in this format.")
@click_options  # --scale, --keep-colors, --strength, ...: one file each in stylizer/controls/
@click.option(
    "--size", type=click.IntRange(8), help="Scale so the shorter side is this many pixels."
)
@click.option(
    "--max-size", type=click.IntRange(8), help="Scale down so the longer side is at most this."
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option(
    "--backend",
    type=click.Choice(["auto", *backend_names()]),
    default="auto",
    show_default=True,
    help="Inference backend (auto picks the fastest available).",
)
@click.option(
    "--precision",
    type=click.Choice(["auto", *PRECISIONS]),
    default="auto",
    show_default=True,
    help="Arithmetic: auto is fp16 on a GPU, bf16 on a CPU with native bf16 (AVX512-BF16, "
    "AMX), else fp32.",
)
@click.option("--batch-size", type=click.IntRange(1), default=4, show_default=True)
@click.option(
    "--tile",
    type=click.IntRange(0),
    default=0,
    help="Process images in tiles of this many pixels a side, at the size the model runs at (0: "
    "only when an image does not fit the memory budget). Tiles use whole-image statistics, so "
    "there are no seams.",
)
@click.option("--memory-mb", type=click.IntRange(64), help="Activation memory budget in MiB.")
@click.option(
    "--max-pixels",
    type=click.IntRange(1, OPENCV_MAX_PIXELS),
    help="Refuse images and video frames larger than this many pixels, read from the header "
    "before decoding "
    f"(default: a 128th of this machine's memory, here {default_max_pixels():,}).",
)
@click.option(
    "--bn-stats",
    type=click.Choice(["image", "running"]),
    default="image",
    show_default=True,
    help="Batch-norm generators: per-image statistics (as the reference runs them) or the "
    "running averages stored in the weights.",
)
@encoder_options
@click.option(
    "--pix-fmt",
    help="Videos: output pixel format (default like the source, 4:2:0 or 4:4:4). "
    "With --raw: the frames' format on the pipes, rgb24 (default), bgr24 or gray.",
)
@click.option(
    "--raw",
    metavar="WxH",
    help="Read raw frames of this size from standard input (INPUT '-') and write stylized "
    "frames in the same format to standard output.",
)
@click.option(
    "--format",
    "stream_format",
    type=click.Choice(list(STREAM_FORMATS)),
    help="With '-o -': the container written to standard output (default: the input's, when "
    "it streams, else matroska); png and jpeg write concatenated images.",
)
@click.option(
    "--reencode-audio",
    is_flag=True,
    help="Re-encode audio that the output container cannot hold (AAC, or Opus for WebM) "
    "instead of stopping; other audio is always copied untouched.",
)
@click.option(
    "--temporal",
    type=click.Choice(list(SMOOTHERS)),
    default="flow",
    show_default=True,
    help="Videos and pipes: remove flicker. flow blends the previous output, moved along the "
    "input's optical flow, where it is still visible; ema averages frames (cheap, trails on "
    "motion); none stylizes each frame alone.",
)
@click.option(
    "--temporal-strength",
    type=click.FloatRange(0, 1),
    help="How much of the previous output to keep, 0-1 (flow 0.6, ema 0.4).",
)
@click.option(
    "--keep-partial", is_flag=True, help="Keep a failed video's output as NAME.partial.EXT."
)
@click.option(
    "--benchmark",
    is_flag=True,
    help="Videos: decode, stylize and encode as usual but write nothing; print frames/s of "
    "each stage and overall.",
)
@click.option("--overwrite", is_flag=True, help="Redo outputs that already exist.")
@click.option(
    "--json",
    "json_to",
    metavar="FILE|-",
    help="Report as JSON lines: one object per output (input, output, style, size, frames, "
    "seconds, device, backend, precision; videos add fps and streams_kept), then a summary object. '-' is "
    "standard output, unless the media go there (-o -).",
)
@click.option(
    "-q",
    "--quiet",
    is_flag=True,
    help="No progress or summary. Progress is a bar on a terminal, else a line every 10 s "
    "($STYLIZE_PROGRESS_SECONDS).",
)
@click.option("--debug", is_flag=True, help="Show the traceback of internal errors.")
@click.option("--list-presets", is_flag=True, help="List the installed presets and exit.")
@click.option("--inspect", is_flag=True, help="Say what architecture the weights are and exit.")
@click.option(
    "--demo",
    is_flag=True,
    help="No photos at hand: draw two landscapes and a 2-second clip into OUTPUT/inputs/ "
    "(default OUTPUT: demo/) and stylize them into OUTPUT (default style: vangogh).",
)
def stylize_command(
    inputs: tuple[str, ...],
    preset: str | None,
    weights: str | None,
    output: str | None,
    raw: str | None,
    quiet: bool,
    list_presets: bool,
    inspect: bool,
    demo: bool,
    **options: Any,
) -> None:
    """Stylize images and videos with a CycleGAN or pix2pix generator.

    INPUTS are image or video files, folders (searched recursively) or glob patterns. Images keep
    their size, aspect ratio, depth (8/16-bit) and alpha channel; videos keep every frame's
    timestamp, their audio, subtitle and data streams (copied untouched) and colour metadata.

    \b
    Examples:
      stylize photo.jpg --preset vangogh            # -> photo_vangogh.jpg
      stylize video.mp4 --preset vangogh            # -> video_vangogh.mp4, audio kept
      stylize photos/ -o out/ --preset vangogh      # whole folder, re-runs skip done files
      stylize "shots/*.png" --weights latest_net_G_A.pth --max-size 2048
      ffmpeg -i in.mp4 -f rawvideo -pix_fmt rgb24 - | stylize - --raw 1280x720 --preset vangogh \\
        | ffmpeg -f rawvideo -pix_fmt rgb24 -s 1280x720 -r 30 -i - out.mp4
      stylize photo.jpg --preset style_ukiyoe       # a reference model, downloaded once

    Presets: stylize --list-presets; install or remove your own with stylize presets --help.
    Other commands: stylize sheet (a photo in every style), stylize generate (new images from
    a preset trained on a folder of pictures); each has --help.
    """
    if list_presets:
        click.echo(describe_presets())
        return
    if demo:
        if inputs:
            raise click.UsageError("--demo makes its own inputs: give no INPUTS")
        output = output or "demo"
        if problem := output_folder_problem(Path(output) / "inputs"):
            raise StylizeError(f"cannot write the demo into {output}: {problem}")
        inputs = (str(write_demo(Path(output) / "inputs")[0].parent),)
        preset = preset or (None if weights else "vangogh")
    if preset and weights:
        raise click.UsageError("give --preset or --weights, not both")
    if not preset and not weights:
        raise click.UsageError("choose a style with --preset NAME or --weights FILE")
    source: str = weights or preset or ""
    if inspect:
        click.echo(f"{source}: {load_generator(source).spec.describe()}")
        return
    if not inputs:
        raise click.UsageError("no INPUTS given (files, folders or glob patterns)")
    tag = (preset or Path(source).stem).replace(":", "-")
    _stylize(list(inputs), source, output, raw, tag, quiet, options)


def _stylize(
    inputs: list[str],
    source: str,
    output: str | None,
    raw: str | None,
    tag: str,
    quiet: bool,
    options: dict[str, Any],
) -> None:
    """What ``stylize_command`` does once it has INPUTS and a style: through pipes, or over files."""
    inference = _picked(InferenceOptions, options, tile=options["tile"] or None)
    style = StyleOptions.picked(options)
    video = _picked(VideoOptions, options)
    smoothing = _picked(TemporalOptions, options)
    run = _picked(RunOptions, options, progress=not quiet)
    json_to = options["json_to"]
    report = Path(json_to) if json_to not in (None, "-") else None
    if report is not None and (problem := output_folder_problem(report.parent)):
        raise StylizeError(f"cannot write --json {json_to}: {problem}")  # before any work
    if "-" in inputs or output == "-" or raw:
        if len(inputs) != 1:
            raise click.UsageError("a pipe takes one INPUT: '-' (standard input) or a video file")
        if json_to == "-" and output in (None, "-"):
            raise click.UsageError("the media go to standard output: give --json a FILE")
        claims = Claims([Path(inputs[0])] if inputs[0] != "-" else [])
        if output not in (None, "-"):
            claims.claim(Path(output), "-o")
        if report is not None:
            claims.claim(report, f"--json {json_to}")
        started = time.perf_counter()
        count = stylize_stream(inputs[0], output, source, raw=raw, inference=inference,
                               style=style, video=video, temporal=smoothing, run=run,
                               log=(lambda m: None) if quiet else say)  # fmt: skip
        record = {"input": inputs[0], "output": output or "-", "kind": "stream", "style": tag,
                  "frames": count, "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip
        _write_json(json_to, [record])
        return
    if video.stream_format:
        raise click.UsageError("--format is for '-o -'; files take their format from the extension")
    ext = options["ext"]
    images = _picked(ImageOptions, options, ext=f".{ext}" if ext else None)
    summary = stylize_files(inputs, source, output, tag=tag, inference=inference, style=style,
                            images=images, video=video, temporal=smoothing, run=run,
                            log=say, reports=(report,) if report else ())  # fmt: skip
    first = int(os.environ.get("RANK", 0)) == 0  # under torchrun: merged, said once
    if first:
        _write_json(json_to, [*summary.records, summary.totals()])
    if not quiet and first:
        say(summary.line())
    if summary.failed:
        sys.exit(1)


def _write_json(to: str | None, objects: list[dict[str, Any]]) -> None:
    """JSON lines to the file ``to`` (written whole), or to standard output for ``-``."""
    if to is None:
        return
    text = "".join(json.dumps(o) + "\n" for o in objects)
    if to == "-":
        click.echo(text, nl=False)
        return
    try:
        write_atomic(Path(to), text.encode())
    except OSError as e:
        raise StylizeError(f"cannot write --json {to} ({e.strerror or e})") from None
