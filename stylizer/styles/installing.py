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
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ..errors import StylizeError
from ..files import atomic_folder, temporary_beside, write_atomic
from .catalogue import CATALOGUE, REFERENCE_WORKING_SIZE, CatalogueEntry, catalogue_entry
from .download import Digests, download
from .presets import (
    BUILTIN_DIR,
    MANIFEST,
    BrokenPreset,
    Preset,
    check_name,
    every_preset,
    installed_preset,
    list_presets,
    presets_in,
    user_home,
    user_presets_dir,
)

#: Seconds a run waits for another that holds the data directory (downloading a model, say)
#: before it gives up; ``$STYLIZE_LOCK_TIMEOUT`` replaces it.
LOCK_TIMEOUT_SECONDS = 600.0


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
    """The published models not installed yet (a broken install of one counts as installed:
    it is listed as broken, with how to remove it)."""
    installed = {n for p in every_preset() for n in (p.name, p.folder.name)}
    return [e for e in CATALOGUE if e.folder_name not in installed]


def _lock_timeout() -> float:
    value = os.environ.get("STYLIZE_LOCK_TIMEOUT")
    try:
        seconds = LOCK_TIMEOUT_SECONDS if value is None else float(value)
    except ValueError:
        seconds = -1.0
    if not seconds >= 0:
        raise StylizeError(f"STYLIZE_LOCK_TIMEOUT={value}: give a number of seconds, 0 or more")
    return seconds


@contextmanager
def _user_store(what: str) -> Iterator[Path]:
    """The data directory, held by this process alone for ``what`` (two runs on first use of a
    model download it once), with its file-system errors as one-line errors. A run that finds
    it held says once what it waits for, and gives up after ``$STYLIZE_LOCK_TIMEOUT`` seconds
    (``LOCK_TIMEOUT_SECONDS`` by default): a download can take minutes, and silence looks hung."""
    from filelock import FileLock, Timeout  # only installing and removing take the lock

    home, seconds = user_home(), _lock_timeout()  # a bad setting is found at once
    try:
        home.mkdir(parents=True, exist_ok=True)
        lock = FileLock(home / ".lock")
        try:
            lock.acquire(timeout=0)
        except Timeout:
            print(
                f"stylize: {what}: waiting for another stylize run to finish installing, "
                f"downloading or removing a preset in {home} (for up to {seconds:g} s)",
                file=sys.stderr,
                flush=True,
            )
            try:
                lock.acquire(timeout=seconds)
            except Timeout:
                raise StylizeError(
                    f"{what}: another stylize run held {lock.lock_file} for {seconds:g} s; "
                    "gave up waiting (run again once it has finished; $STYLIZE_LOCK_TIMEOUT "
                    "sets how long to wait)"
                ) from None
        try:
            yield home
        finally:
            lock.release()
    except OSError as e:
        raise StylizeError(f"{what}: cannot write in {home} ({e.strerror or e})") from None


def install_from_catalogue(entry: CatalogueEntry, show_progress: bool = True) -> Preset:
    """Download ``entry`` (resuming an earlier partial download), check it, install it."""
    with _user_store(entry.name) as home:
        installed = installed_preset(entry.folder_name)  # by another run while this one waited
        if installed is not None:
            return installed
        target = home / "downloads" / f"{entry.folder_name}.pth"
        if not target.is_file():  # else whole from a run stopped while it was being checked
            try:
                download(entry.url, target, entry.name, show_progress)
            except StylizeError as e:
                raise StylizeError(
                    f"{e}. Without internet: fetch {entry.url} elsewhere, then install it with "
                    f"'stylize presets add FILE --name {entry.name}'"
                ) from None
        source = {"kind": "downloaded", "url": entry.url}
        try:
            return _install(target, entry.name, entry.description, source, entry, True,
                            REFERENCE_WORKING_SIZE)  # fmt: skip
        except StylizeError as e:
            target.unlink(missing_ok=True)  # refused: the next try downloads afresh
            raise StylizeError(f"{entry.name}: the downloaded file was refused ({e})") from None


def add_preset(
    weights: Path, name: str, description: str = "", working_size: int | None = None
) -> Preset:
    """Install a weight file as preset ``name`` (``stylize presets add``). A published model's
    name installs that model from a file fetched by hand, checked as a download is.
    ``working_size``: the shorter side it paints at (``Preset.working_size``); by default the
    reference's for a published model, none (every frame at its own size) for others."""
    if working_size is not None and working_size < 8:
        raise StylizeError(f"--working-size {working_size}: give 8 pixels or more")
    entry = catalogue_entry(name)
    if entry is None:
        check_name(name)
    if not weights.is_file():
        raise StylizeError(f"{weights}: no such file")
    source = {"kind": "added", "from": str(weights.resolve())}
    with _user_store(name):
        if entry is None:
            return _install(weights, name, description, source, None, False, working_size)
        description = description or entry.description
        size = working_size or REFERENCE_WORKING_SIZE
        return _install(weights, entry.name, description, source, entry, False, size)


def remove_preset(name: str) -> Preset | BrokenPreset:
    """Uninstall a downloaded, added or exported preset (``stylize presets remove``), a broken
    one too (by its folder's name); shipped ones and those in ``$STYLIZE_PRESETS`` folders
    stay."""
    if ":" not in name or catalogue_entry(name) is None:
        check_name(name)  # a published model's kind:name, else a name, never a path
    with _user_store(name) as home:
        root = home / "presets"
        mine = _named(root, {name})
        if not mine and (entry := catalogue_entry(name)) is not None:
            mine = _named(root, {entry.name, entry.folder_name})
        if not mine:
            other = installed_preset(name)
            if other is None:
                raise StylizeError(f"no preset named {name!r} is installed")
            if other.folder.parent == BUILTIN_DIR:
                raise StylizeError(f"{name!r} ships with stylize and cannot be removed")
            raise StylizeError(
                f"{name!r} lives in {other.folder.parent} (from $STYLIZE_PRESETS); remove that "
                "folder yourself"
            )
        preset = mine[0]
        # Out of sight at once, then deleted: a stop half-way leaves no half a preset.
        hidden = temporary_beside(preset.folder, ".removing", folder=True)
        preset.folder.replace(hidden / preset.folder.name)
        shutil.rmtree(hidden)
        return preset


def _named(root: Path, names: set[str]) -> list[Preset | BrokenPreset]:
    """The presets in ``root`` whose folder or manifest name is one of ``names``."""
    return [p for p in presets_in(root) if {p.name, p.folder.name} & names]


def _install(
    weights: Path,
    name: str,
    description: str,
    source: dict,
    entry: CatalogueEntry | None,
    move: bool,
    working_size: int | None,
) -> Preset:
    folder_name = entry.folder_name if entry else name
    existing = installed_preset(folder_name) or installed_preset(name)
    if existing is not None:
        how = (
            "stylize presets remove it first"
            if origin(existing) in ("downloaded", "added")
            else "choose another name"
        )
        raise StylizeError(
            f"a preset named {name!r} is already installed in {existing.folder} ({how})"
        )
    digests = Digests.of(weights)
    _check_digests(name, digests, entry)  # before unpickling anything
    from ..models import frame_flops  # installing loads the weights: PyTorch is needed here
    from .weights import load_weights

    spec = load_weights(weights).spec  # refuses anything that is not a generator we know
    root = user_presets_dir()
    with atomic_folder(root / folder_name) as tmp:  # this install's own until complete
        stored = tmp / f"generator{weights.suffix or '.pth'}"
        (shutil.move if move else shutil.copyfile)(weights, stored)
        manifest = {
            "name": name,
            "description": description or f"added from {weights.name}",
            "weights": stored.name,
            "architecture": spec.to_dict(),
            "architecture_description": spec.describe(),
            "gflop_per_720p_frame": round(frame_flops(spec) / 1e9, 1),
            **({"working_size": working_size} if working_size else {}),
            "source": {
                **source,
                "sha256": digests.sha256,
                "checksum": _checksum_note(entry),
                "installed": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            },
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        if entry is not None:  # recorded first: a stop after the rename leaves no gap
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
    """The recorded digests; a damaged record is an error, never silently an empty one."""
    path = _recorded_path()
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        raise StylizeError(
            f"{path}: unreadable record of checksums ({e}); fix or delete it"
        ) from None
    if not isinstance(data, dict):
        raise StylizeError(f"{path}: not a record of checksums; fix or delete it")
    return data


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
