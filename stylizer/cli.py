"""``stylize``: the command line over ``stylizer.pipeline``; it parses, reports and sets the exit code."""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import os
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from . import worker
from .controls import click_options
from .demo import write_demo
from .engines import ENGINES, PRECISIONS
from .errors import StylizeError, internal_error
from .files import output_folder_problem, write_atomic
from .flicker import flicker_report
from .flow import DIS_PRESETS
from .images import (
    IMAGE_EXTENSIONS,
    OPENCV_MAX_PIXELS,
    Picture,
    default_max_pixels,
    is_image_path,
    write_image,
)
from .installing import add_preset, downloadable, origin, remove_preset
from .launch import memory_problem
from .loading import load_generator
from .media.formats import STREAM_FORMATS
from .models import GeneratorSpec, frame_flops
from .options import (
    ImageOptions,
    InferenceOptions,
    RunOptions,
    StyleOptions,
    TemporalOptions,
    VideoOptions,
)
from .outputs import Claims
from .pipeline import stylize_files, stylize_stream
from .presets import Preset, broken_presets, list_presets, user_presets_dir
from .sheet import contact_sheet, sheet_inputs
from .signals import Stopped, stop_signals_unwind
from .temporal import SMOOTHERS

T = TypeVar("T")

_EXTS = sorted({e.lstrip(".") for e in IMAGE_EXTENSIONS})


def _err(msg: str) -> None:
    click.echo(f"stylize: {msg}", err=True)


def _steps(n: int) -> str:
    return f"{n} step{'s' * (n != 1)}"


def _cost_and_origin(p: Preset) -> list[str]:
    """Its arithmetic per 720p frame, and for a distilled preset the style it mimics and how
    closely (its held-out PSNR to the teacher, else its last validation's)."""
    lines = []
    gflop = p.manifest.get("gflop_per_720p_frame")  # written by export: counting takes seconds
    if gflop is None and isinstance(p.spec, GeneratorSpec):
        gflop = frame_flops(p.spec) / 1e9
    if gflop is not None:
        lines.append(f"{gflop:.0f} GFLOP per 1280x720 frame")
    origin = p.manifest.get("distilled_from")
    if isinstance(origin, dict) and origin.get("teacher"):
        held_out = p.manifest.get("held_out_figures", {}).get("psnr_to_teacher_db")
        psnr = held_out or p.manifest.get("training", {}).get("last_validation", {}).get("val_PSNR")
        closeness = f" ({psnr:.1f} dB PSNR to it)" if psnr else ""
        lines.append(f"mimics {Path(origin['teacher']).name}{closeness}")
    return lines


def _describe_presets() -> str:
    presets, broken = list_presets(), broken_presets()
    lines = [] if presets or broken else ["no presets installed (stylize-train export makes one)"]
    for p in presets:
        arch = (
            p.spec.describe() if isinstance(p.spec, GeneratorSpec) else "architecture from weights"
        )
        details = [arch]
        training = p.manifest.get("training", {})
        if training.get("steps"):
            where = ", ".join(training.get("hardware", [])) or p.manifest.get("hardware", "")
            init = training.get("initialized_from") or {}
            source = "a generator trained" if init.get("generator_only") else "a run of"
            after = (
                f" (fine-tuned from {source} {_steps(init['step'])})" if init.get("step") else ""
            )
            details.append(
                f"trained {_steps(training['steps'])}{after}" + (f" on {where}" if where else "")
            )
        details += (
            [f"input: {p.manifest['intended_input']}"] if "intended_input" in p.manifest else []
        )
        if p.working_size:
            details.append(
                f"paints at {p.working_size} px on the shorter side: larger frames are stylized "
                "at that size and resized back (--scale overrides)"
            )
        details += _cost_and_origin(p)
        details += [p.manifest["status"]] if "status" in p.manifest else []
        details.append(_origin_line(p))
        lines.append(_entry(p.name, p.description, details))
    for b in broken:  # listed, not in the way of the others
        mine = b.folder.parent == user_presets_dir()
        fix = f"stylize presets remove {b.name}" if mine else f"fix or delete {b.folder}"
        lines.append(_entry(b.name, "BROKEN: cannot be used", [b.problem, f"to remove: {fix}"]))
    fetchable = downloadable()
    if fetchable:
        lines.append("\nDownloadable: the reference's published models, fetched on first use")
        width = max(len(e.name) for e in fetchable) + 2
        for e in fetchable:
            check = "" if e.git_blob else " (not checksummed)"
            lines.append(f"{e.name:{width}}{e.description}{check}")
    return "\n".join(lines)


def _entry(name: str, description: str, details: list[str]) -> str:
    body = "".join(
        "\n" + textwrap.fill(line, 100, initial_indent=" " * 15, subsequent_indent=" " * 17)
        for line in details
    )
    return f"{name:14} {description}{body}"


def _origin_line(p: Preset) -> str:
    kind = origin(p)
    source = p.manifest.get("source", {})
    if kind == "downloaded":
        return f"downloaded; {source.get('checksum', '')}"
    if kind == "added":
        published = f"; {source['checksum']}" if ":" in p.name else ""
        return f"added from {source.get('from', '?')}{published}"
    return kind


def _picked(kind: type[T], options: dict[str, Any], **given: Any) -> T:
    """The option object ``kind`` from the command line's options of the same names."""
    names = {f.name for f in dataclasses.fields(kind)}  # type: ignore[arg-type]
    return kind(**({k: v for k, v in options.items() if k in names} | given))


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
@click.option("--ext", type=click.Choice(_EXTS), help="Write results in this format.")
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
    type=click.Choice(["auto", *ENGINES]),
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
@click.option("--codec", help="Video codec (default libx264; libvpx-vp9 for .webm).")
@click.option("--crf", type=click.IntRange(0, 63), help="Video quality, lower is better (18).")
@click.option("--encoder-preset", help="Encoder speed preset, e.g. x264's slow (medium).")
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
    "seconds, device, backend; videos add fps and streams_kept), then a summary object. '-' is "
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
def cli(
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
    """
    if list_presets:
        click.echo(_describe_presets())
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
    """What ``cli`` does once it has INPUTS and a style: through pipes, or over files."""
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
                               log=(lambda m: None) if quiet else _err)  # fmt: skip
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
                            log=_err, reports=(report,) if report else ())  # fmt: skip
    first = int(os.environ.get("RANK", 0)) == 0  # under torchrun: merged, said once
    if first:
        _write_json(json_to, [*summary.records, summary.totals()])
    if not quiet and first:
        _err(summary.line())
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


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
def flicker_cli(source: Path, output: Path, reference: Path | None, flow_preset: str) -> None:
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


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
def presets_cli() -> None:
    """Install, remove and list presets.

    Presets you add and the reference's models downloaded on first use live in stylize's data
    directory ($STYLIZE_HOME, else the platform's, such as ~/.local/share/stylize). One run at a
    time changes it: another waits, and says so, for up to $STYLIZE_LOCK_TIMEOUT seconds
    (default 600).

    \b
    Examples:
      stylize presets add latest_net_G_A.pth --name mystyle --description "Photo to my style"
      stylize presets add style_vangogh.pth --name cyclegan:style_vangogh   # offline install
      stylize presets remove mystyle
      stylize presets list
    """


@presets_cli.command("add")
@click.argument("weights", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", required=True, help="The preset's name (what --preset takes).")
@click.option("--description", default="", help="One line on what it does.")
@click.option(
    "--working-size",
    type=click.IntRange(8),
    help="The shorter side, in pixels, it paints at: larger frames are stylized at that size "
    "and resized back, so strokes keep their size (the size its training images had: 256 for "
    "the reference's models, their default). Default for other files: every frame at its own "
    "size.",
)
def presets_add(weights: Path, name: str, description: str, working_size: int | None) -> None:
    """Install the generator in WEIGHTS (any file stylize can load) as preset NAME. With the name
    of a published reference model, installs that model from a file downloaded by hand."""
    preset = add_preset(weights, name, description, working_size)
    assert preset.spec is not None  # installing loads it, so it has one
    click.echo(f"installed preset {preset.name} ({preset.spec.describe()}) in {preset.folder}")


@presets_cli.command("remove")
@click.argument("name")
def presets_remove(name: str) -> None:
    """Uninstall preset NAME (one you added, downloaded or exported, or a broken one by its
    folder's name; shipped ones stay)."""
    preset = remove_preset(name)
    click.echo(f"removed preset {preset.name} ({preset.folder})")


@presets_cli.command("list")
def presets_list() -> None:
    """List the installed presets and the downloadable ones (as stylize --list-presets)."""
    click.echo(_describe_presets())


@click.command(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
    help="Styles to show, by preset name or weight file (default: every installed preset).",
)
@click.option(
    "--size",
    type=click.IntRange(32, 2048),
    default=256,
    show_default=True,
    help="Side of each tile; photos are scaled down to fit.",
)
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
def sheet_cli(
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
        else [p.name for p in list_presets()]
    )
    if not names:
        raise click.UsageError("no styles: install a preset or give --presets")
    if not is_image_path(output):
        raise click.BadParameter(
            f"{output}: use an image extension ({', '.join(_EXTS)})", param_hint="-o"
        )
    inputs = sheet_inputs(list(photos))
    Claims(inputs).claim(output, f"-o {output}")
    if problem := output_folder_problem(output.parent):
        raise StylizeError(f"cannot write {output}: {problem}")  # before any inference
    sheet = contact_sheet(
        inputs, names, side=size, inference=InferenceOptions(device=device), log=_err
    )
    try:
        write_image(output, Picture(sheet.image))
    except OSError as e:
        raise StylizeError(f"cannot write {output} ({e.strerror or e})") from None
    shown = len(inputs) - len(sheet.failed_photos)
    _err(
        f"wrote {output}: {len(names) - len(sheet.failed_styles)} of {len(names)} styles, "
        f"{shown} of {len(inputs)} photos"
    )
    if sheet.failed_photos or sheet.failed_styles:
        sys.exit(1)


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


def main() -> None:
    if sys.argv[1:2] == ["presets"]:  # a file called "presets" is ./presets
        run_command(presets_cli, _err, sys.argv[2:], prog_name="stylize presets")
        return
    if sys.argv[1:2] == ["sheet"]:  # likewise ./sheet
        run_command(sheet_cli, _err, sys.argv[2:], prog_name="stylize sheet")
        return
    run_command(cli, _err, sys.argv[1:], prog_name="stylize")


def flicker_main() -> None:
    run_command(flicker_cli, _err, sys.argv[1:], prog_name="stylize-flicker")
