"""Presets: ``NAME/preset.json`` (a small manifest) beside the generator weights.

They come from three places, searched in this order: folders in ``$STYLIZE_PRESETS``; the user's
own (``presets/`` in the data directory: ``$STYLIZE_HOME``, else the platform's, such as
``~/.local/share/stylize``), where downloaded and added ones go; and the shipped ones.
"""

from __future__ import annotations

import importlib.resources
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from .errors import StylizeError
from .models import GeneratorSpec

MANIFEST = "preset.json"
#: The presets that ship with stylize: package data, in a wheel as in a checkout.
BUILTIN_DIR = Path(str(importlib.resources.files("stylizer") / "builtin_presets"))


def user_home() -> Path:
    """stylize's data directory: ``$STYLIZE_HOME``, else the platform's user data directory."""
    home = os.environ.get("STYLIZE_HOME")
    return Path(home).expanduser() if home else Path(platformdirs.user_data_dir("stylize"))


def user_presets_dir() -> Path:
    """Where downloaded and added presets are installed."""
    return user_home() / "presets"


@dataclass
class Preset:
    name: str
    folder: Path
    description: str
    weights: Path
    spec: GeneratorSpec | None
    manifest: dict = field(repr=False)
    #: The shorter side, in pixels, that the style paints at: the scale of the images it learnt
    #: from. Larger frames are stylized at this size and resized back, so the strokes keep
    #: their size relative to the picture. None: every frame at its own size.
    working_size: int | None = None

    @classmethod
    def read(cls, folder: Path) -> Preset:
        try:
            data = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError) as e:
            raise StylizeError(f"{folder / MANIFEST}: unreadable preset manifest ({e})") from None
        if not isinstance(data, dict) or "weights" not in data:
            raise StylizeError(f"{folder / MANIFEST}: a preset manifest needs a 'weights' entry")
        spec = data.get("architecture")
        working_size = data.get("working_size")
        if working_size is not None and (type(working_size) is not int or working_size < 8):
            raise StylizeError(
                f"{folder / MANIFEST}: 'working_size' must be a whole number of pixels, 8 or more"
            )
        return cls(
            name=data.get("name", folder.name),
            folder=folder,
            description=data.get("description", ""),
            weights=folder / data["weights"],
            spec=GeneratorSpec.from_dict(spec) if isinstance(spec, dict) else None,
            manifest=data,
            working_size=working_size,
        )


def preset_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("STYLIZE_PRESETS", "").split(os.pathsep) if p]
    return [*extra, user_presets_dir(), BUILTIN_DIR]


def presets_in(root: Path) -> list[Preset]:
    """The presets in the folder ``root``, by folder name; hidden folders are installs or
    removals in progress (or cut short) and are skipped."""
    if not root.is_dir():
        return []
    return [
        Preset.read(folder)
        for folder in sorted(root.iterdir())
        if not folder.name.startswith(".") and (folder / MANIFEST).is_file()
    ]


def list_presets() -> list[Preset]:
    """Every installed preset, the first of each name in search order."""
    found: dict[str, Preset] = {}
    for root in preset_dirs():
        for preset in presets_in(root):
            found.setdefault(preset.folder.name, preset)
    return list(found.values())


def installed_preset(name: str) -> Preset | None:
    """The installed preset called ``name`` (its folder's or its manifest's name), if any."""
    if name.startswith("."):
        return None
    for root in preset_dirs():
        if (root / name / MANIFEST).is_file():
            return Preset.read(root / name)
    return next((p for p in list_presets() if p.name == name), None)
