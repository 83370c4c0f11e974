"""The plan of a run over files: which to stylize and where each result goes.

Inputs are image or video files, folders (searched recursively; results keep the relative sub-paths) or glob
patterns. Without ``-o`` a result lands beside its input as ``NAME_TAG.EXT`` (a folder becomes
``FOLDER_TAG/``); a result never replaces an input.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from ..images import IMAGE_EXTENSIONS, is_image_path
from .engine import Job
from .formats import VIDEO_EXTENSIONS, is_video_path

_GLOB_CHARS = set("*?[")


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


MEDIA_EXTENSIONS = IMAGE_EXTENSIONS + VIDEO_EXTENSIONS


def is_media_path(path: Path) -> bool:
    return is_image_path(path) or is_video_path(path)


def _media_in(folder: Path) -> list[Path]:
    """Media files below ``folder``; hidden ones (``.NAME.part.EXT``, another run's result in the
    making, or macOS's ``._NAME``) are not inputs."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and is_media_path(p) and not p.name.startswith(".")
    )


def _with_ext(path: Path, ext: str | None) -> Path:
    """``ext`` changes the format of images; videos keep their container."""
    return path.with_suffix(ext) if ext and is_image_path(path) else path


def plan_jobs(
    inputs: list[str], output: str | Path | None, tag: str, ext: str | None = None
) -> Plan:
    """Map every input image and video to its output path; problems become one-line ``errors``.

    ``output`` is a folder, or a file when there is exactly one input file and it has a media
    extension. ``ext`` (for example ``.png``) changes the format of every result.
    """
    plan = Plan()
    sources = _found(inputs, plan)
    out = Path(output) if output is not None else None
    single_file = (
        out is not None
        and len(inputs) == 1
        and len(sources) == 1
        and sources[0][1] is None
        and not out.is_dir()
        and is_media_path(out)
    )
    folders = {folder for _, folder in sources if folder is not None}
    inputs_seen = {p.resolve() for p, _ in sources}
    targets: dict[Path, Path] = {}
    for source, folder in sources:
        if not is_media_path(source):
            plan.errors.append(
                f"{source}: not a supported image or video ({', '.join(MEDIA_EXTENSIONS)})"
            )
            continue
        if single_file:
            assert out is not None
            target = out
        else:
            target = _with_ext(_target(source, folder, out, len(folders) > 1, tag), ext)
        if is_image_path(source) != is_image_path(target):
            kind = "an image" if is_image_path(source) else "a video"
            plan.errors.append(f"{source}: {kind} cannot be written as {target.name}")
            continue
        key = target.resolve()
        if key in inputs_seen:
            fix = "choose another -o" if out is not None else "use -o to put results elsewhere"
            plan.errors.append(f"{source}: its output {target} would overwrite an input; {fix}")
        elif key in targets:
            plan.errors.append(f"{source}: output {target} already taken by {targets[key]}")
        else:
            targets[key] = source
            plan.jobs.append(Job(source, target))
    return plan


def _found(inputs: list[str], plan: Plan) -> list[tuple[Path, Path | None]]:
    """Every file the inputs name, with the folder it was found in (None for a file named
    itself or by a pattern); inputs that name nothing become errors."""
    sources: list[tuple[Path, Path | None]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = _media_in(path)
            if not found:
                plan.errors.append(f"{path}: folder holds no images or videos")
            sources += [(p, path) for p in found]
        elif path.is_file():
            sources.append((path, None))
        elif _GLOB_CHARS & set(item):
            matches = sorted(Path(p) for p in glob.glob(item, recursive=True))
            files = [p for p in matches if p.is_file() and is_media_path(p)]
            if not files:
                plan.errors.append(f"{item}: no image or video matches this pattern")
            sources += [(p, None) for p in files]
        else:
            plan.errors.append(f"{path}: no such file or folder")
    return sources


def _target(source: Path, folder: Path | None, out: Path | None, many: bool, tag: str) -> Path:
    """Where ``source`` (found in ``folder``, if any) goes: into ``out``, keeping its sub-path
    (under the folder's name when ``many`` folders are inputs), or beside its input, tagged."""
    if out is None and folder is None:
        return source.with_name(f"{source.stem}_{tag}{source.suffix}")
    if out is None:
        assert folder is not None
        root = folder.resolve().with_name(f"{folder.resolve().name}_{tag}")
        return root / source.relative_to(folder)
    if folder is None:
        return out / source.name
    sub = source.relative_to(folder)
    return out / (folder.name / sub if many else sub)
