"""Presets: ``NAME/preset.json`` (a small manifest) beside the generator weights.

They come from three places, searched in this order: folders in ``$STYLIZE_PRESETS``; the user's
own (``presets/`` in the data directory: ``$STYLIZE_HOME``, else the platform's, such as
``~/.local/share/stylize``), where downloaded and added ones go; and the shipped ones.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import re
import typing
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from ..errors import StylizeError
from ..models.spec import NORMS, GeneratorSpec

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


#: Names a preset may be written or removed under: no dot (``--preset v1.2`` would read as a
#: file name, ``..`` as a folder), slash or colon; a name, never a path.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_+-]*$")


def check_name(name: str) -> str:
    """``name``, if a preset may be written or removed under it: the one rule for every command
    that takes one, since it is joined onto a folder whose contents are replaced or deleted."""
    if not _NAME.match(name):
        raise StylizeError(
            f"{name!r} is not a usable preset name: letters, digits and _ + - only, starting "
            "with a letter or digit"
        )
    return name


#: The type of each manifest field that stylize reads, where present.
_FIELD_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "description": str,
    "weights": str,
    "graph": str,
    "architecture_description": str,
    "intended_input": str,
    "status": str,
    "gflop_per_720p_frame": (int, float),
    "gflop_per_image": (int, float),
    "training": dict,
    "source": dict,
    "distilled_from": dict,
    "held_out_figures": dict,
}
_KIND_NAMES = {
    str: "a string",
    int: "a whole number",
    bool: "true or false",
    (int, float): "a number",
    dict: "a JSON object",
}


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

    @property
    def graph(self) -> Path | None:
        """Its generator as an ONNX graph (``stylizer.graph``: run without PyTorch), if it has
        one; a graph the manifest names but the folder lacks is none (PyTorch runs instead)."""
        name = self.manifest.get("graph")
        return self.folder / name if name and (self.folder / name).is_file() else None

    @property
    def from_noise(self) -> bool:
        """Whether it draws new images (``stylize generate``) instead of stylizing them."""
        from ..models import GENERATORS

        return self.spec is not None and GENERATORS.get_class(self.spec.arch).from_noise

    def architecture(self) -> str:
        """Its generator in words: as the manifest caches it (export writes it, so that listing
        presets imports no PyTorch), else as the architecture says (a one-line error for one
        that does not exist)."""
        if self.spec is None:
            return "architecture from weights"
        cached = self.manifest.get("architecture_description")
        if cached:
            return cached
        try:
            return self.spec.describe()
        except StylizeError as e:
            raise StylizeError(f"{self.folder / MANIFEST}: {e}") from None

    @classmethod
    def read(cls, folder: Path) -> Preset:
        """The preset in ``folder``; anything wrong with its manifest is a one-line error here,
        where it is read, never a KeyError where a field is used."""
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise StylizeError(f"{path}: unreadable preset manifest ({e})") from None
        if not isinstance(data, dict) or "weights" not in data:
            raise StylizeError(f"{path}: a preset manifest needs a 'weights' entry")
        for key, kind in _FIELD_TYPES.items():
            if key in data and not isinstance(data[key], kind):
                raise StylizeError(f"{path}: {key!r} must be {_KIND_NAMES[kind]}")
        working_size = data.get("working_size")
        if working_size is not None and (type(working_size) is not int or working_size < 8):
            raise StylizeError(
                f"{path}: 'working_size' must be a whole number of pixels, 8 or more"
            )
        return cls(
            name=data.get("name", folder.name),
            folder=folder,
            description=data.get("description", ""),
            weights=folder / data["weights"],
            spec=_spec(path, data.get("architecture")),
            manifest=data,
            working_size=working_size,
        )


def _spec(path: Path, architecture: object) -> GeneratorSpec | None:
    """The manifest's ``architecture`` (none: detected from the weights), each field of the
    type it must have and naming a norm that exists (an architecture that does not: see
    ``Preset.architecture``)."""
    if architecture is None:
        return None
    types = typing.get_type_hints(GeneratorSpec)
    if not isinstance(architecture, dict) or not {"arch", "depth"} <= architecture.keys():
        raise StylizeError(f"{path}: 'architecture' needs at least 'arch' and 'depth'")
    for key, value in architecture.items():
        if key in types and type(value) is not types[key]:
            raise StylizeError(
                f"{path}: architecture {key!r} must be {_KIND_NAMES[types[key]]}, not {value!r}"
            )
    spec = GeneratorSpec.from_dict(architecture)
    if spec.norm not in NORMS:
        raise StylizeError(
            f"{path}: unknown architecture norm {spec.norm!r} (known: {', '.join(NORMS)})"
        )
    return spec


@dataclass(frozen=True)
class BrokenPreset:
    """A preset folder whose manifest cannot be read: listed as such, and removable by its
    folder's name, so that one damaged preset never hides or blocks the others."""

    folder: Path
    problem: str

    @property
    def name(self) -> str:
        return self.folder.name


def preset_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("STYLIZE_PRESETS", "").split(os.pathsep) if p]
    return [*extra, user_presets_dir(), BUILTIN_DIR]


def presets_in(root: Path) -> list[Preset | BrokenPreset]:
    """The presets in the folder ``root``, by folder name, those that cannot be read as
    ``BrokenPreset``; hidden folders are installs or removals in progress (or cut short) and
    are skipped."""
    if not root.is_dir():
        return []
    return [
        _read_or_broken(folder)
        for folder in sorted(root.iterdir())
        if not folder.name.startswith(".") and (folder / MANIFEST).is_file()
    ]


def _read_or_broken(folder: Path) -> Preset | BrokenPreset:
    try:
        return Preset.read(folder)
    except StylizeError as e:
        return BrokenPreset(folder, str(e))


def every_preset() -> list[Preset | BrokenPreset]:
    """Every installed preset, broken ones included: the first of each folder name in search
    order."""
    found: dict[str, Preset | BrokenPreset] = {}
    for root in preset_dirs():
        for preset in presets_in(root):
            found.setdefault(preset.folder.name, preset)
    return list(found.values())


def list_presets() -> list[Preset]:
    """Every installed preset that can be read, the first of each name in search order."""
    return [p for p in every_preset() if isinstance(p, Preset)]


def broken_presets() -> list[BrokenPreset]:
    """The installed presets whose manifest cannot be read (``every_preset``'s others)."""
    return [p for p in every_preset() if isinstance(p, BrokenPreset)]


def installed_preset(name: str) -> Preset | None:
    """The installed preset called ``name`` (its folder's or its manifest's name), if any."""
    if name.startswith("."):
        return None
    for root in preset_dirs():
        if (root / name / MANIFEST).is_file():
            return Preset.read(root / name)
    return next((p for p in list_presets() if p.name == name), None)
