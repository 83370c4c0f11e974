"""The plan of a run over files: which to stylize and where each result goes.

Inputs are image or video files, folders (searched recursively; results keep the relative sub-paths) or glob
patterns. Without ``-o`` a result lands beside its input as ``NAME_TAG.EXT`` (a folder becomes
``FOLDER_TAG/``); a result never replaces an input. Results of earlier runs (anything under
``-o``, or ``NAME_TAG.EXT`` beside an input ``NAME``) are never inputs, so a re-run finds the
same work as the first.
"""

from __future__ import annotations

import glob
from dataclasses import dataclass, field
from pathlib import Path

from ..outputs import Claims, not_a_file
from .kinds import file_extensions, file_kind
from .stages import Job

_GLOB_CHARS = set("*?[")


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: Files found that are results of earlier runs, so not inputs.
    left_out: int = 0


def is_media_path(path: Path) -> bool:
    """Whether some media kind reads the file ``path``."""
    return file_kind(path) is not None


def _media_in(folder: Path) -> list[Path]:
    """Media files below ``folder``; hidden ones (``.NAME.part.EXT``, another run's result in the
    making, or macOS's ``._NAME``) are not inputs."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and is_media_path(p) and not p.name.startswith(".")
    )


def _with_ext(path: Path, ext: str | None) -> Path:
    """``ext`` changes the format of the kinds that take it (images); videos keep their
    container."""
    kind = file_kind(path)
    return path.with_suffix(ext) if ext and kind is not None and kind.takes_ext else path


def plan_jobs(
    inputs: list[str],
    output: str | Path | None,
    tag: str,
    ext: str | None = None,
    reports: tuple[Path, ...] = (),
) -> Plan:
    """Map every input image and video to its output path; problems become one-line ``errors``.

    ``output`` is a folder, or a file when there is exactly one input file and it has a media
    extension. ``ext`` (for example ``.png``) changes the format of every result. ``reports``
    are other files the run writes (``--json``): one that is an input is a ``StylizeError``,
    and no result may take its path.
    """
    plan = Plan()
    out = Path(output) if output is not None else None
    sources = _found(inputs, plan, _Earlier(out, tag))
    single_file = (
        out is not None
        and len(inputs) == 1
        and len(sources) == 1
        and sources[0][1] is None
        and not out.is_dir()
        and is_media_path(out)
    )
    folders = {folder for _, folder in sources if folder is not None}
    claims = Claims(p for p, _ in sources)
    for report in reports:
        claims.claim(report, f"--json {report}")
    for source, folder in sources:
        kind = file_kind(source)
        if kind is None:
            plan.errors.append(
                f"{source}: not a supported image or video ({', '.join(file_extensions())})"
            )
            continue
        if single_file:
            assert out is not None
            target = out
        else:
            target = _with_ext(_target(source, folder, out, len(folders) > 1, tag), ext)
        target_kind = file_kind(target)
        if target_kind is None or target_kind.name != kind.name:
            plan.errors.append(f"{source}: {kind.name} cannot be written as {target.name}")
            continue
        fix = "choose another -o" if out is not None else "use -o to put results elsewhere"
        if claims.is_input(target):
            plan.errors.append(f"{source}: its output {claims.problem(target, str(source))}; {fix}")
        elif problem := claims.problem(target, str(source)):
            plan.errors.append(f"{source}: its output {problem}")
        else:
            plan.jobs.append(Job(source, target))
    return plan


class _Earlier:
    """Tells the results of earlier runs of this style among the files found below a search
    root: anything under an output folder that lies inside the root, and ``NAME_TAG.EXT`` files
    or ``FOLDER_TAG/`` folders beside the ``NAME.*`` or ``FOLDER`` they were made from."""

    def __init__(self, out: Path | None, tag: str) -> None:
        self.out = out.resolve() if out is not None else None
        self.suffix = f"_{tag}"

    def __call__(self, path: Path, root: Path) -> bool:
        top, here = root.resolve(), path.resolve()
        out = self.out
        if out is not None and out != top and out.is_relative_to(top) and here.is_relative_to(out):
            return True
        while here != top and here.parent != here:
            if self._tagged_beside_original(here):
                return True
            here = here.parent
        return False

    def _tagged_beside_original(self, path: Path) -> bool:
        stem = path.name if path.is_dir() else path.stem
        if not stem.endswith(self.suffix) or stem == self.suffix:
            return False
        original = stem[: -len(self.suffix)]
        if path.is_dir():
            return (path.parent / original).is_dir()
        return any(is_media_path(p) for p in path.parent.glob(f"{glob.escape(original)}.*"))


def _pattern_root(pattern: str) -> Path:
    """The folder a glob pattern searches below: its leading parts without wildcards."""
    parts = Path(pattern).parts
    fixed = next((i for i, part in enumerate(parts) if _GLOB_CHARS & set(part)), len(parts))
    return Path(*parts[:fixed]) if fixed else Path(".")


def _found(inputs: list[str], plan: Plan, earlier: _Earlier) -> list[tuple[Path, Path | None]]:
    """Every file the inputs name, with the folder it was found in (None for a file named
    itself or by a pattern); inputs that name nothing become errors. Results of earlier runs
    found in folders or by patterns are left out (a file named itself is always an input)."""
    sources: list[tuple[Path, Path | None]] = []
    for item in inputs:
        path = Path(item)
        if path.is_dir():
            found = _media_in(path)
            kept = [p for p in found if not earlier(p, path)]
            plan.left_out += len(found) - len(kept)
            if not found:
                plan.errors.append(f"{path}: folder holds no images or videos")
            sources += [(p, path) for p in kept]
        elif path.is_file():
            sources.append((path, None))
        elif _GLOB_CHARS & set(item) and not path.exists():
            matches = sorted(Path(p) for p in glob.glob(item, recursive=True))
            files = [p for p in matches if p.is_file() and is_media_path(p)]
            kept = [p for p in files if not earlier(p, _pattern_root(item))]
            plan.left_out += len(files) - len(kept)
            if not files:
                plan.errors.append(f"{item}: no image or video matches this pattern")
            sources += [(p, None) for p in kept]
        else:
            plan.errors.append(not_a_file(path))
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
