"""Presets in the user's data directory: the reference's published models fetched on first use,
weight files a user installs (``stylize presets add``), and removing either.

Whatever is installed is first loaded as a generator (``weights_only`` unpickling and an
architecture check), so a file that is not one is refused before it becomes a preset and can
never run code. Checksums: a published file must match its known git blob id; for the others the
SHA-256 of the first file installed under a published name is recorded (``checksums.json``), and a later
file that differs is refused.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from .catalogue import CATALOGUE, CatalogueEntry, catalogue_entry
from .download import Digests, download
from .errors import StylizeError
from .files import write_atomic
from .models import frame_flops
from .presets import (
    BUILTIN_DIR,
    MANIFEST,
    Preset,
    installed_preset,
    list_presets,
    user_home,
    user_presets_dir,
)
from .weights import load_weights

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")


def find_preset(name: str) -> Preset:
    """The preset called ``name``; one of the reference's published models is downloaded and
    installed on first use."""
    preset = installed_preset(name)
    if preset is not None:
        return preset
    entry = catalogue_entry(name)
    if entry is not None:
        return installed_preset(entry.folder_name) or install_from_catalogue(entry)
    names = ", ".join(p.name for p in list_presets()) or "none installed"
    raise StylizeError(
        f"no preset named {name!r} (installed: {names}; stylize --list-presets also lists "
        "the downloadable ones)"
    )


def origin(preset: Preset) -> str:
    """shipped, downloaded, added, or local (a folder of ``$STYLIZE_PRESETS``, an export)."""
    if preset.folder.parent == BUILTIN_DIR:
        return "shipped"
    source = preset.manifest.get("source")
    return source.get("kind", "local") if isinstance(source, dict) else "local"


def downloadable() -> list[CatalogueEntry]:
    """The published models not installed yet."""
    return [e for e in CATALOGUE if installed_preset(e.folder_name) is None]


def install_from_catalogue(entry: CatalogueEntry, show_progress: bool = True) -> Preset:
    """Download ``entry`` (resuming an earlier partial download), check it, install it."""
    target = user_home() / "downloads" / f"{entry.folder_name}.pth"
    try:
        download(entry.url, target, entry.name, show_progress)
    except StylizeError as e:
        raise StylizeError(
            f"{e}. Without internet: fetch {entry.url} elsewhere, then install it with "
            f"'stylize presets add FILE --name {entry.name}'"
        ) from None
    try:
        source = {"kind": "downloaded", "url": entry.url}
        return _install(target, entry.name, entry.description, source, entry, move=True)
    finally:
        target.unlink(missing_ok=True)


def add_preset(weights: Path, name: str, description: str = "") -> Preset:
    """Install a weight file as preset ``name`` (``stylize presets add``). A published model's
    name installs that model from a file fetched by hand, checked as a download is."""
    entry = catalogue_entry(name)
    if entry is None and not _NAME.match(name):
        raise StylizeError(
            f"{name!r} is not a usable preset name: letters, digits and _ . + - only, starting "
            "with a letter or digit"
        )
    if not weights.is_file():
        raise StylizeError(f"{weights}: no such file")
    source = {"kind": "added", "from": str(weights.resolve())}
    if entry is None:
        return _install(weights, name, description, source, None, move=False)
    return _install(weights, entry.name, description or entry.description, source, entry, False)


def remove_preset(name: str) -> Preset:
    """Uninstall a downloaded or added preset (``stylize presets remove``); shipped ones stay."""
    entry = catalogue_entry(name)
    preset = installed_preset(entry.folder_name if entry else name)
    if preset is None:
        raise StylizeError(f"no preset named {name!r} is installed")
    if preset.folder.parent == BUILTIN_DIR:
        raise StylizeError(f"{name!r} ships with stylize and cannot be removed")
    if preset.folder.parent != user_presets_dir():
        raise StylizeError(
            f"{name!r} lives in {preset.folder.parent} (from $STYLIZE_PRESETS); remove that "
            "folder yourself"
        )
    shutil.rmtree(preset.folder)
    return preset


def _install(
    weights: Path,
    name: str,
    description: str,
    source: dict,
    entry: CatalogueEntry | None,
    move: bool,
) -> Preset:
    folder_name = entry.folder_name if entry else name
    if installed_preset(folder_name) or installed_preset(name):
        raise StylizeError(
            f"a preset named {name!r} is already installed (stylize presets remove {name} first)"
        )
    spec = load_weights(weights).spec  # refuses anything that is not a generator we know
    digests = Digests.of(weights)
    _check_digests(name, digests, entry)
    root = user_presets_dir()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder_name}.", suffix=".part", dir=root))
    try:  # a folder of this install's own until it is complete
        stored = tmp / f"generator{weights.suffix or '.pth'}"
        (shutil.move if move else shutil.copyfile)(weights, stored)
        manifest = {
            "name": name,
            "description": description or f"added from {weights.name}",
            "weights": stored.name,
            "architecture": spec.to_dict(),
            "gflop_per_720p_frame": round(frame_flops(spec) / 1e9, 1),
            "source": {
                **source,
                "sha256": digests.sha256,
                "checksum": _checksum_note(entry),
                "installed": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            },
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        tmp.chmod(0o755)
        tmp.rename(root / folder_name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if entry is not None:
        _record_sha256(name, digests.sha256)
    return Preset.read(root / folder_name)


def _checksum_note(entry: CatalogueEntry | None) -> str:
    if entry is None:
        return "added by the user"
    if entry.git_blob:
        return f"matches the published git blob id {entry.git_blob}"
    return "not checksummed (no published checksum; SHA-256 recorded on first install)"


def _recorded_path() -> Path:
    return user_home() / "checksums.json"


def _recorded() -> dict[str, str]:
    try:
        data = json.loads(_recorded_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _check_digests(name: str, digests: Digests, entry: CatalogueEntry | None) -> None:
    if entry is not None and entry.git_blob and digests.git_blob != entry.git_blob:
        raise StylizeError(
            f"{name}: the file's git blob id is {digests.git_blob}, not the published "
            f"{entry.git_blob}; refused (a damaged or altered file)"
        )
    recorded = _recorded().get(name) if entry is not None else None
    if recorded and recorded != digests.sha256:
        raise StylizeError(
            f"{name}: the file's SHA-256 is {digests.sha256}, but the first one installed under "
            f"this name was {recorded} ({_recorded_path()}); refused"
        )


def _record_sha256(name: str, sha256: str) -> None:
    recorded = _recorded()
    if recorded.get(name) != sha256:
        recorded[name] = sha256
        write_atomic(_recorded_path(), (json.dumps(recorded, indent=2) + "\n").encode())
