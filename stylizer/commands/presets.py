"""``stylize presets``: install, remove and list presets, and the listing ``stylize
--list-presets`` prints."""

from __future__ import annotations

import textwrap
from pathlib import Path

import click

from ..errors import StylizeError
from ..models.spec import GeneratorSpec
from ..styles.installing import add_preset, downloadable, origin, remove_preset
from ..styles.presets import BrokenPreset, Preset, broken_presets, list_presets, user_presets_dir
from ._shared import CONTEXT, subcommand


def _steps(n: int) -> str:
    return f"{n} step{'s' * (n != 1)}"


def _cost_and_origin(p: Preset) -> list[str]:
    """Its arithmetic per 720p frame, and for a distilled preset the style it mimics and how
    closely (its held-out PSNR to the teacher, else its last validation's)."""
    lines = []
    if "gflop_per_image" in p.manifest:  # a generator from noise
        lines.append(f"{p.manifest['gflop_per_image']:.2g} GFLOP per image; stylize generate")
        return lines
    gflop = p.manifest.get("gflop_per_720p_frame")  # written by export: counting takes seconds
    if gflop is None and isinstance(p.spec, GeneratorSpec):
        from ..models import frame_flops  # PyTorch, only for a manifest without the figure

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


def describe_presets() -> str:
    presets, broken = list_presets(), broken_presets()
    lines = [] if presets or broken else ["no presets installed (stylize-train export makes one)"]
    for p in presets:
        try:
            details = [p.architecture()]
        except StylizeError as problem:  # an architecture this version does not have
            broken.append(BrokenPreset(p.folder, str(problem)))
            continue
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


@subcommand("presets")
@click.group(context_settings=CONTEXT)
def presets_command() -> None:
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


@presets_command.command("add")
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


@presets_command.command("remove")
@click.argument("name")
def presets_remove(name: str) -> None:
    """Uninstall preset NAME (one you added, downloaded or exported, or a broken one by its
    folder's name; shipped ones stay)."""
    preset = remove_preset(name)
    click.echo(f"removed preset {preset.name} ({preset.folder})")


@presets_command.command("list")
def presets_list() -> None:
    """List the installed presets and the downloadable ones (as stylize --list-presets)."""
    click.echo(describe_presets())
