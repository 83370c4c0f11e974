"""Shipped styles: ``presets/NAME/preset.json`` (a small manifest) beside the generator weights."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import StylizeError
from .models import GeneratorSpec

MANIFEST = "preset.json"
#: Where presets are looked up: ``$STYLIZE_PRESETS`` (os.pathsep-separated), then the repository's.
BUILTIN_DIR = Path(__file__).resolve().parent.parent / "presets"


@dataclass
class Preset:
    name: str
    folder: Path
    description: str
    weights: Path
    spec: GeneratorSpec | None
    manifest: dict = field(repr=False)

    @classmethod
    def read(cls, folder: Path) -> Preset:
        try:
            data = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError) as e:
            raise StylizeError(f"{folder / MANIFEST}: unreadable preset manifest ({e})") from None
        if not isinstance(data, dict) or "weights" not in data:
            raise StylizeError(f"{folder / MANIFEST}: a preset manifest needs a 'weights' entry")
        spec = data.get("architecture")
        return cls(
            name=data.get("name", folder.name),
            folder=folder,
            description=data.get("description", ""),
            weights=folder / data["weights"],
            spec=GeneratorSpec.from_dict(spec) if isinstance(spec, dict) else None,
            manifest=data,
        )


def preset_dirs() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("STYLIZE_PRESETS", "").split(os.pathsep) if p]
    return [*extra, BUILTIN_DIR]


def list_presets() -> list[Preset]:
    found: dict[str, Preset] = {}
    for root in preset_dirs():
        if root.is_dir():
            for folder in sorted(root.iterdir()):
                if (folder / MANIFEST).is_file() and folder.name not in found:
                    found[folder.name] = Preset.read(folder)
    return list(found.values())


def find_preset(name: str) -> Preset:
    for root in preset_dirs():
        if (root / name / MANIFEST).is_file():
            return Preset.read(root / name)
    names = ", ".join(p.name for p in list_presets()) or "none installed"
    raise StylizeError(f"no preset named {name!r} (available: {names})")
