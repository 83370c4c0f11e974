"""``stylize-train``: the training command, built from the registered tasks (each task's flags
from its settings class), and the commands that export, score and prepare data for runs."""

from __future__ import annotations

import dataclasses
import inspect
import json
import sys
from pathlib import Path
from typing import Any

import click

from stylizer.errors import StylizeError
from stylizer.launch import run_command
from stylizer.models import GENERATORS, NORMS
from stylizer.styles.presets import MANIFEST

from .evaluate import evaluate_run
from .export import WEIGHT_FORMATS, export_preset
from .loop import train
from .settings import ADJUSTABLE, Flag, Settings
from .sketch import sketchify
from .tasks import TASKS, Task

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
        Settings.check_names(data, str(path))
    except StylizeError as e:
        raise click.BadParameter(str(e)) from None
    # The task was chosen before this command was built (``_chosen_task``): not a default here.
    options = {p.name for p in ctx.command.params} - {"task"}
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


#: Click types for the names settings use where they cannot import them.
_NAMED_TYPES = {
    "generators": click.Choice(list(GENERATORS)),
    "norms": click.Choice(NORMS),
    "path": click.Path(path_type=str),
    "sizes": _Sizes(),
}


def _flag_name(name: str) -> str:
    return f"--{name.replace('_', '-')}"


def _flagged(settings_class: type[Settings], names: frozenset[str]) -> list[dataclasses.Field]:
    """The fields of ``settings_class`` among ``names`` that are command-line options."""
    return [
        f for f in dataclasses.fields(settings_class) if "flag" in f.metadata and f.name in names
    ]


def _own(task: type[Task]) -> frozenset[str]:
    """The names of the settings that are ``task``'s own."""
    return frozenset(f.name for f in dataclasses.fields(task.settings_class)) - Settings.common()


def _setting_option(f: dataclasses.Field, decided: str | None) -> click.Option:
    """The ``--NAME`` option of a setting, as its ``Flag`` describes it; ``decided`` is the
    default the task fills, to show."""
    flag: Flag = f.metadata["flag"]
    name = _flag_name(f.name)
    if flag.type is bool:  # --name and --no-name: a task's default can be turned either way
        off = f"--no-{name[2:]}"
        return click.Option([f"{name}/{off}"], is_flag=True, default=None, help=flag.help)
    kind: Any = flag.type  # float, int, or None (from the default)
    if isinstance(flag.type, tuple):
        kind = click.Choice(flag.type)
    elif isinstance(flag.type, str):
        kind = _NAMED_TYPES[flag.type]
    elif flag.type not in (float, int, str, None):
        kind = click.IntRange(flag.type)
    if f.default not in (None, ""):
        return click.Option([name], type=kind, help=flag.help, default=f.default, show_default=True)
    return click.Option([name], type=kind, help=flag.help, show_default=decided or False)


def _decided(task: type[Task] | None) -> dict[str, str]:
    """The defaults ``task`` fills, by setting, as text for --help; without a task, "the
    task's" for each setting some task fills."""
    shown = {}
    for cls in [task] if task else TASKS.values():
        filled = cls.settings_class(task=cls.name)
        filled.fill()
        for f in dataclasses.fields(filled):
            value = getattr(filled, f.name)
            if f.default in (None, "") and value not in (None, ""):
                text = ",".join(map(str, value)) if isinstance(value, list) else str(value)
                shown[f.name] = text if task else "the task's"
    return shown


def _session_options(task: type[Task] | None) -> list[click.Parameter]:
    """How a session runs, not what is trained (never saved in the run's settings), and which
    task it trains."""
    adjustable = ", ".join(_flag_name(f.name) for f in _flagged(Settings, ADJUSTABLE))
    taken = {_flag_name(n) for n in _own(task)} if task else set()  # the task's own flags
    choose = [
        click.Option(
            [alias, "task"],
            flag_value=cls.name,
            help=f"Same as --task {cls.name}"
            + (f" {alias}." if alias in {_flag_name(n) for n in _own(cls)} else "."),
        )
        for cls in ([task] if task else TASKS.values())
        for alias in cls.aliases
        if alias not in taken
    ]
    return [
        click.Option(
            ["--task"],
            type=click.Choice(list(TASKS)),
            help="What to train (stylize-train --task NAME --help: its settings).",
        ),
        *choose,
        click.Option(
            ["--config"],
            type=click.Path(path_type=Path, dir_okay=False),
            is_eager=True,
            expose_value=False,
            callback=_read_config,
            help="JSON file of setting defaults (for example another run's settings.json).",
        ),
        click.Option(
            ["-o", "--output", "run_dir"],
            required=True,
            type=click.Path(path_type=Path),
            help="Run folder; an existing one is continued from its latest checkpoint.",
        ),
        click.Option(["--device"], default="auto", show_default=True),
        click.Option(
            ["--stop-after"], type=int, help="End this session after N steps (resume later)."
        ),
        click.Option(["-q", "--quiet"], is_flag=True),
        click.Option(
            ["--resume-with-changes", "changes"],
            is_flag=True,
            help="Continue an existing run with the settings this command changes, when each is "
            f"of its schedule or bookkeeping ({adjustable}); without it, continuing with any "
            "other value than the run's is an error. Other data or networks are a new run: "
            "choose another -o.",
        ),
    ]


class _TrainCommand(click.Command):
    """The training command of one task (or, with none, of every task): its --help shows the
    options by section, so a task's own settings stand apart, and without a task it lists the
    tasks with theirs."""

    def __init__(self, task: type[Task] | None) -> None:
        self.task = task
        arguments = task.arguments if task else ()
        common = _flagged(Settings, Settings.common())
        own = _flagged(task.settings_class, _own(task)) if task else []
        decided = _decided(task)
        #: The parameters that are settings (saved in the run), by name.
        self.settings = {f.name for f in [*common, *own]} | set(arguments)
        self.sections = {f.name: "Settings of every task" for f in common} | {
            f.name: f"Settings of {task.name}" for f in own if task
        }
        super().__init__(
            "stylize-train",
            context_settings=CONTEXT,
            callback=self.run,
            params=[
                *[click.Argument([a], required=False) for a in arguments],
                click.Argument(["data"], nargs=-1, type=click.Path(path_type=Path)),
                *_session_options(task),
                *[_setting_option(f, decided.get(f.name)) for f in [*common, *own]],
            ],
            help=inspect.cleandoc(task.__doc__ or "") if task else _TRAIN_HELP,
            options_metavar=f"--task {task.name} [OPTIONS]" if task else "[OPTIONS]",
        )
        click.version_option(package_name="stylize", message="%(prog)s %(version)s")(self)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections: dict[str, list[tuple[str, str]]] = {}
        for param in self.get_params(ctx):
            record = param.get_help_record(ctx)
            if record and isinstance(param, click.Option):
                sections.setdefault(self.sections.get(param.name or "", "Options"), []).append(
                    record
                )
        for title, rows in sections.items():
            with formatter.section(title):
                formatter.write_dl(rows)

    def format_epilog(self, _ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.task is not None:
            return
        rows = []
        for cls in TASKS.values():
            summary = inspect.cleandoc(cls.__doc__ or "").split("\n")[0]
            flags = ", ".join(_flag_name(f.name) for f in _flagged(cls.settings_class, _own(cls)))
            rows.append((cls.name, f"{summary} Its own settings: {flags or 'none'}."))
        with formatter.section("Tasks (stylize-train --task NAME --help: its settings, defaults)"):
            formatter.write_dl(rows)

    def run(self, data: tuple[Path, ...], run_dir: Path, **values: Any) -> None:
        """Train: a new run from the data, or the run in ``run_dir`` continued."""
        ctx = click.get_current_context()
        config = ctx.meta.get("config", {})
        arguments = [values[a] for a in (self.task.arguments if self.task else ())]
        if data or any(arguments):
            if self.task is None:
                raise click.UsageError(
                    "say which task: --task NAME (" + ", ".join(TASKS) + "), or " + _aliases()
                )
            if not data:
                raise click.UsageError("give the folders of images to train on")
            given = {k: values[k] for k in self.settings if values[k] is not None}
            fresh = config | given | {"task": self.task.name, "data": [str(d) for d in data]}
            settings: Settings | dict[str, Any] = Settings.from_dict(fresh, "the command line")
        else:  # continuing: what the command sets is checked against the run's own settings
            settings = config | {
                name: values[name]
                for name in self.settings | {"task"}
                if ctx.get_parameter_source(name) not in (None, click.core.ParameterSource.DEFAULT)
            }
        outcome = train(
            settings,
            run_dir,
            device=values["device"],
            stop_after=values["stop_after"],
            progress=not values["quiet"],
            log=_say,
            changes=values["changes"],
        )
        if outcome.signal is not None:
            _say(f"step {outcome.step} of {outcome.total}; run folder {run_dir}")
            sys.exit(128 + outcome.signal)
        if outcome.step < outcome.total:
            _say(
                f"stopped at step {outcome.step} of {outcome.total}: stylize-train -o {run_dir} "
                "continues it (add --stop-after N for another session of N steps)"
            )
        else:
            _say(
                f"finished: step {outcome.step} of {outcome.total}; stylize-train export "
                f"{run_dir} --name NAME makes it a preset"
            )


def _aliases() -> str:
    return ", ".join(f"{alias} ({cls.name})" for cls in TASKS.values() for alias in cls.aliases)


_TRAIN_HELP = """Train a generator from folders of images.

\b
  stylize-train --paired sketches/ shibas/ -o runs/shiba       # pix2pix, files matched by name
  stylize-train --aligned --direction BtoA edges2shoes/ -o runs/shoes
  stylize-train --unpaired photos/ paintings/ -o runs/vangogh  # CycleGAN
  stylize-train --task cyclegan photos/ paintings/ -o runs/vangogh  # the same
  stylize-train distill vangogh photos/ -o runs/vangogh-fast   # a fast copy of a style
  stylize-train -o runs/vangogh                                # continue a run
  stylize-train evaluate runs/vangogh photos_test/ paintings_test/  # held-out figures
  stylize-train export runs/vangogh --name mystyle             # -> stylize --preset mystyle
  stylize-train sketchify photos/ sketches/                    # make the sketch side

stylize-train NAME ... is short for stylize-train --task NAME ...; a task's own settings are
flags once it is named (or once -o names a run of it). A run folder holds settings.json,
checkpoints/ (latest.pt and numbered copies), log.jsonl, losses.png and previews/index.html.
Ctrl-C saves a checkpoint; re-running continues exactly.
"""


def _file_task(path: str | None) -> str | None:
    """The ``task`` a settings file names, if it is readable and names one."""
    try:
        data = json.loads(Path(path).read_text()) if path else None
    except (OSError, ValueError):
        return None
    return data.get("task") if isinstance(data, dict) else None


def _chosen_task(args: list[str]) -> type[Task] | None:
    """The task a training command line is for, which decides the settings it takes: named
    (--task or an alias), else its --config's, else that of the run it continues (-o)."""
    picker = click.Command(
        "pick",
        params=[
            click.Option(["--task"]),
            *[
                click.Option([alias, "task"], flag_value=cls.name)
                for cls in TASKS.values()
                for alias in cls.aliases
            ],
            click.Option(["--config"]),
            click.Option(["-o", "--output", "run_dir"]),
        ],
        context_settings={
            "ignore_unknown_options": True,
            "allow_extra_args": True,
            "help_option_names": [],
        },
    )
    ctx = picker.make_context("stylize-train", list(args), resilient_parsing=True)
    run = ctx.params.get("run_dir")
    name = (
        ctx.params.get("task")
        or _file_task(ctx.params.get("config"))
        or _file_task(run and str(Path(run) / "settings.json"))
    )
    return TASKS.get(name or "")


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
    "(default: the task's, such as the run's --load-size).",
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
    "--graph/--no-graph",
    default=True,
    show_default=True,
    help="Give an image preset its generator as an ONNX graph too (generator.onnx; needs "
    "stylize[onnx] to export): stylize then starts without loading PyTorch on a CPU, a "
    "second sooner.",
)
@click.option(
    "--checkpoint",
    default="latest",
    show_default=True,
    metavar="latest|best|STEP",
    help="Which checkpoint: best is the kept one with the best validation ("
    + "; ".join(
        f"{cls.name}: {'lowest' if cls.best_by[1] == 'lower' else 'highest'} {cls.best_by[0]}"
        for cls in TASKS.values()
        if cls.best_by
    )
    + "), early stopping after the fact.",
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
    graph,
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
        graph=graph,
        checkpoint=checkpoint,
        overwrite=overwrite,
    )
    manifest = json.loads((folder / MANIFEST).read_text())
    training = manifest["training"]
    runs = " (with its ONNX graph: starts without PyTorch)" if "graph" in manifest else ""
    _say(f"wrote {folder}{runs} from step {training['steps']} ({training['checkpoint']})")


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
      stylize-train evaluate runs/vangogh-fast more_photos/      # a distilled student
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


evaluate_cmd.help = inspect.cleandoc(evaluate_cmd.help or "") + "".join(
    f"\n\n{cls.name}: {cls.evaluation}." for cls in TASKS.values() if cls.evaluation
)

COMMANDS = {
    "evaluate": evaluate_cmd,
    "export": export_cmd,
    "sketchify": sketchify_cmd,
}


def main() -> None:
    args = sys.argv[1:]
    if args and args[0] in COMMANDS:
        run_command(COMMANDS[args[0]], _say, args[1:], f"stylize-train {args[0]}")
        return
    if args and args[0] in TASKS:  # stylize-train distill TEACHER PHOTOS ...
        args = ["--task", *args]
    run_command(_TrainCommand(_chosen_task(args)), _say, args, "stylize-train")
