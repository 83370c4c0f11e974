"""``stylize-train``: train, export and prepare data; a thin layer over ``trainer.loop``."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from stylizer.cli import run_command
from stylizer.errors import StylizeError
from stylizer.models import GENERATORS, NORMS

from .evaluate import evaluate_run
from .export import WEIGHT_FORMATS, export_preset
from .loop import train
from .settings import Flag, Settings
from .sketch import sketchify

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _say(msg: str) -> None:
    click.echo(f"stylize-train: {msg}", err=True)


def _read_config(ctx: click.Context, _param: click.Parameter, path: Path | None) -> None:
    """Defaults for every setting from a JSON file (a run's settings.json works); flags and
    arguments win. A key that is no setting is an error that names it."""
    if path is None:
        return
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise click.BadParameter(f"{path}: {e}") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path}: expected a JSON object of setting names")
    data = {k.replace("-", "_"): v for k, v in data.items()}
    try:
        Settings.from_dict(data, str(path))
    except StylizeError as e:
        raise click.BadParameter(str(e)) from None
    options = {p.name for p in ctx.command.params}
    ctx.default_map = {k: v for k, v in data.items() if k in options}
    ctx.meta["config"] = {k: v for k, v in data.items() if k not in options}


class _Sizes(click.ParamType):
    """``256,384`` on the command line, or a list from ``--config``."""

    name = "PX,PX..."

    def convert(self, value, param, ctx) -> list[int]:
        try:
            sizes = [int(v) for v in (value if isinstance(value, list) else value.split(","))]
        except (ValueError, TypeError):
            self.fail(f"{value!r}: comma-separated pixel counts, as 256,384", param, ctx)
        if not sizes or min(sizes) < 16:
            self.fail(f"{value!r}: sizes of at least 16 px", param, ctx)
        return sizes


#: Click types for the names ``Settings`` uses where it cannot import them.
_NAMED_TYPES = {
    "generators": click.Choice(list(GENERATORS)),
    "norms": click.Choice(NORMS),
    "path": click.Path(path_type=str),
    "sizes": _Sizes(),
}


def _setting_option(f: dataclasses.Field) -> Callable:
    """The ``--NAME`` option of a setting, as its ``Flag`` describes it."""
    flag: Flag = f.metadata["flag"]
    name = f"--{f.name.replace('_', '-')}"
    if flag.type is bool:
        return click.option(name, is_flag=True, default=None, help=flag.help)
    kind: Any = flag.type  # float, int, or None (from the default)
    if isinstance(flag.type, tuple):
        kind = click.Choice(flag.type)
    elif isinstance(flag.type, str):
        kind = _NAMED_TYPES[flag.type]
    elif flag.type not in (float, int, None):
        kind = click.IntRange(flag.type)
    if f.default in (None, ""):
        return click.option(name, type=kind, help=flag.help)
    return click.option(name, type=kind, help=flag.help, default=f.default, show_default=True)


def _training_options(command: str) -> Callable:
    """The options of training command ``command`` (train or distill): how the session runs,
    then every setting it takes, generated from ``Settings``."""
    settings = [
        _setting_option(f)
        for f in dataclasses.fields(Settings)
        if "flag" in f.metadata and f.metadata["flag"].only in (None, command)
    ]

    changes = click.option(
        "--resume-with-changes",
        is_flag=True,
        expose_value=False,
        callback=lambda ctx, _param, value: ctx.meta.update(changes=value),
        help="Continue an existing run with the settings this command changes, when each is of "
        "its schedule or bookkeeping (--lr, --epochs, --decay-epochs, --steps-per-epoch, "
        "--workers, --preview-every, --checkpoint-every, --keep-checkpoints, --precision, "
        "--compile); without it, continuing with any other value than the run's is an error. "
        "Other data or networks are a new run: choose another -o.",
    )

    def apply(function: Callable) -> Callable:
        for option in reversed([*_SESSION_OPTIONS, changes, *settings]):  # top to bottom in --help
            function = option(function)
        return function

    return apply


#: How a session runs, not what is trained: never saved in the run's settings.
_SESSION_OPTIONS = (
    click.option(
        "--config",
        type=click.Path(path_type=Path, dir_okay=False),
        is_eager=True,
        expose_value=False,
        callback=_read_config,
        help="JSON file of setting defaults (for example another run's settings.json).",
    ),
    click.option(
        "-o",
        "--output",
        "run_dir",
        required=True,
        type=click.Path(path_type=Path),
        help="Run folder; an existing one is continued from its latest checkpoint.",
    ),
    click.option("--device", default="auto", show_default=True),
    click.option("--stop-after", type=int, help="End this session after N steps (resume later)."),
    click.option("-q", "--quiet", is_flag=True),
)


def _train(
    settings: Settings | dict[str, Any] | None,
    run_dir: Path,
    device: str,
    stop_after: int | None,
    quiet: bool,
) -> None:
    changes = click.get_current_context().meta.get("changes", False)
    outcome = train(
        settings,
        run_dir,
        device=device,
        stop_after=stop_after,
        progress=not quiet,
        log=_say,
        changes=changes,
    )
    _say(f"step {outcome.step} of {outcome.total}; run folder {run_dir}")
    if outcome.signal is not None:
        sys.exit(128 + outcome.signal)


def _settings(**options) -> Settings:
    """The run's settings: the command line's, then the config's, then the defaults."""
    config = click.get_current_context().meta.get("config", {})
    given = {k: v for k, v in options.items() if v is not None}
    return Settings(**(config | given))


@click.command(context_settings=CONTEXT)
@click.version_option(package_name="stylize", message="%(prog)s %(version)s")
@click.argument("data", nargs=-1, type=click.Path(path_type=Path))
@click.option("--paired", "task", flag_value="pix2pix", help="pix2pix: A/B files matched by name.")
@click.option("--unpaired", "task", flag_value="cyclegan", help="CycleGAN: two unrelated sets.")
@_training_options("train")
def train_cmd(data, task, aligned, run_dir, device, stop_after, quiet, **opts):
    """Train a generator from folders of images.

    \b
      stylize-train --paired sketches/ shibas/ -o runs/shiba       # pix2pix, files matched by name
      stylize-train --aligned --direction BtoA edges2shoes/ -o runs/shoes
      stylize-train --unpaired photos/ paintings/ -o runs/vangogh  # CycleGAN
      stylize-train distill vangogh photos/ -o runs/vangogh-fast   # a fast copy of a style
      stylize-train -o runs/vangogh                                # continue a run
      stylize-train evaluate runs/vangogh photos_test/ paintings_test/  # held-out figures
      stylize-train export runs/vangogh --name mystyle             # -> stylize --preset mystyle
      stylize-train sketchify photos/ sketches/                    # make the sketch side

    A run folder holds settings.json, checkpoints/ (latest.pt and numbered copies), log.jsonl,
    losses.png and previews/index.html. Ctrl-C saves a checkpoint; re-running continues exactly.
    """
    if aligned:
        task = "pix2pix"
    if data:
        if not task:
            raise click.UsageError("say --paired, --aligned or --unpaired")
        settings: Settings | dict[str, Any] = _settings(
            task=task, data=[str(d) for d in data], aligned=aligned, **opts
        )
    else:  # continuing: what the command sets is checked against the run's own settings
        ctx = click.get_current_context()
        settings = ctx.meta.get("config", {}) | {
            name: value
            for name, value in (opts | {"task": task, "aligned": aligned}).items()
            if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
        }
    _train(settings, run_dir, device, stop_after, quiet)


@click.command(context_settings=CONTEXT)
@click.argument("teacher")
@click.argument("photos", nargs=-1, required=True, type=click.Path(path_type=Path))
@_training_options("distill")
def distill_cmd(teacher, photos, run_dir, device, stop_after, quiet, **opts):
    """Distill TEACHER into a small, fast generator that gives the same outputs on PHOTOS.

    \b
      stylize-train distill vangogh photos/ -o runs/vangogh-fast     # a preset as teacher
      stylize-train distill latest_net_G_A.pth photos/ -o runs/fast  # any generator file
      stylize-train distill runs/vangogh photos/ more/ -o runs/fast  # a run folder's generator
      stylize-train export runs/vangogh-fast --name vangogh-fast

    The teacher's outputs for every photo and size are computed once and kept in the run
    folder (teacher/); the student (compact, ngf 24, 4 blocks by default: about 28 GFLOP per
    720p frame) learns them from random crops and flips under an L1 loss. Previews show
    input | teacher | student | difference; validation reports the student's PSNR and SSIM to
    the teacher on held-out photos.
    """
    settings = _settings(task="distill", teacher=teacher, data=[str(p) for p in photos], **opts)
    _train(settings, run_dir, device, stop_after, quiet)


@click.command(context_settings=CONTEXT)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--name", required=True, help="Preset name (what stylize --preset takes).")
@click.option(
    "--direction",
    type=click.Choice(["AtoB", "BtoA"]),
    default="AtoB",
    help="CycleGAN: which generator to export.",
)
@click.option("--description", default="", help="One line for stylize --list-presets.")
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    help="Presets folder to write NAME/ into (default: your presets, in stylize's data "
    "directory: $STYLIZE_HOME, else the platform's, such as ~/.local/share/stylize).",
)
@click.option(
    "--about",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON object of more manifest fields (data sources, licence notes, status), or "
    'fields to override, such as {"working_size": 384}: the shorter side the style paints at '
    "(default: the run's --load-size).",
)
@click.option(
    "--weights-format",
    type=click.Choice(WEIGHT_FORMATS),
    default="pth",
    show_default=True,
    help="File format of the preset's weights.",
)
@click.option(
    "--onnx",
    is_flag=True,
    help="Also write export/NAME.onnx (opset 18, dynamic size; images in [0, 1] in "
    "and out) for ONNX Runtime and other tools.",
)
@click.option(
    "--checkpoint",
    default="latest",
    show_default=True,
    metavar="latest|best|STEP",
    help="Which checkpoint: best is the kept one with the best validation (pix2pix: "
    "lowest L1; distill: highest PSNR), early stopping after the fact.",
)
@click.option(
    "--overwrite", is_flag=True, help="Replace a preset already there under NAME (else refused)."
)
def export_cmd(
    run_dir,
    name,
    direction,
    description,
    output,
    about,
    weights_format,
    onnx,
    checkpoint,
    overwrite,
):
    """Export a run's generator as a preset (plus a reference-compatible .pth).

    The manifest records the architecture, data folders and counts, schedule, steps, hardware,
    training time, precision and the last validation figures; --about adds what the run cannot
    know (where the data came from, its licence).
    """
    extra = None
    if about:
        try:
            extra = json.loads(about.read_text())
        except ValueError as e:
            raise click.BadParameter(f"{about}: {e}") from None
        if not isinstance(extra, dict):
            raise click.BadParameter(f"{about}: expected a JSON object")
    folder = export_preset(
        run_dir,
        name,
        direction=direction,
        description=description,
        out_dir=output,
        extra=extra,
        weights_format=weights_format,
        onnx=onnx,
        checkpoint=checkpoint,
        overwrite=overwrite,
    )
    _say(f"wrote {folder}")


@click.command(context_settings=CONTEXT)
@click.argument("photos", type=click.Path(path_type=Path))
@click.argument("sketches", type=click.Path(path_type=Path))
def sketchify_cmd(photos, sketches):
    """Make pencil sketches of PHOTOS in SKETCHES (same names) to train sketch -> photo."""
    sketchify(photos, sketches, log=_say)


@click.command(context_settings=CONTEXT)
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.argument("folders", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--size",
    type=click.IntRange(16, 4096),
    default=256,
    show_default=True,
    help="Images are resized to SIZE x SIZE, as in validation.",
)
@click.option(
    "--grid",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write a PNG of before/after rows here.",
)
@click.option("--grid-rows", type=click.IntRange(1), default=8, show_default=True)
@click.option(
    "--checkpoint",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A numbered checkpoint instead of the latest.",
)
@click.option("--batch-size", type=click.IntRange(1), default=8, show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the figures as one JSON object.")
def evaluate_cmd(run_dir, folders, size, grid, grid_rows, checkpoint, batch_size, device, as_json):
    """Score a run on held-out FOLDERS: the validation figures over every image.

    \b
      stylize-train evaluate runs/vangogh vangogh2photo/testB vangogh2photo/testA --grid g.png
      stylize-train evaluate runs/shoes edges2shoes/val          # side-by-side AB images

    CycleGAN reports the cycle L1 of each side (A -> B -> A and B -> A -> B, on [-1, 1]);
    pix2pix the L1 and PSNR of the output against the target. Folders are laid out as for
    training.
    """
    result = evaluate_run(
        run_dir,
        list(folders),
        size=size,
        batch_size=batch_size,
        grid=grid,
        grid_rows=grid_rows,
        checkpoint=checkpoint,
        device=device,
        progress=sys.stderr.isatty(),
        log=_say,
    )
    if as_json:
        click.echo(json.dumps(dataclasses.asdict(result)))
        return
    figures = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
    click.echo(f"step {result.step}, {result.count} images at {result.size}px: {figures}")
    if grid:
        _say(f"wrote {grid}")


COMMANDS = {
    "distill": distill_cmd,
    "evaluate": evaluate_cmd,
    "export": export_cmd,
    "sketchify": sketchify_cmd,
}


def main() -> None:
    args = sys.argv[1:]
    cmd = COMMANDS.get(args[0]) if args else None
    command, args = (cmd, args[1:]) if cmd else (train_cmd, args)
    run_command(command, _say, args, f"stylize-train{' ' + sys.argv[1] if cmd else ''}")
