"""The reference implementation's published pretrained generators, as presets fetched on first use.

Names are namespaced by the kind of model (``cyclegan:sat2map`` and ``pix2pix:sat2map`` are
different generators); a bare name works where only one kind has it (``style_vangogh``).

The files are served over plain http, so what can be checked is checked: for four of them the
git blob id of the published file is known and a download must match it; the others are "not
checksummed", and the SHA-256 of the first download is recorded so that a later file that differs
is refused (``stylizer.styles.presets``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial

from ..errors import StylizeError

#: The reference's model server; ``$STYLIZE_MODELS_URL`` replaces it (a mirror, or a test server).
REFERENCE_SERVER = "http://efrosgans.eecs.berkeley.edu"

#: The shorter side the published models paint at: the reference trains on 256 px crops and
#: tests on images resized to 256 px (``Preset.working_size``).
REFERENCE_WORKING_SIZE = 256

#: Where each kind's files sit on that server (the reference's download scripts).
_REMOTE_FOLDER = {
    "cyclegan": "cyclegan/pretrained_models",
    "pix2pix": "pix2pix/models-pytorch",
}


@dataclass(frozen=True)
class CatalogueEntry:
    """One published generator: ``kind`` is cyclegan or pix2pix, ``remote`` its file name's stem
    on the server, ``git_blob`` the git blob id of the published file where it is known."""

    kind: str
    remote: str
    description: str
    git_blob: str = ""

    @property
    def name(self) -> str:
        return f"{self.kind}:{self.remote}"

    @property
    def url(self) -> str:
        base = os.environ.get("STYLIZE_MODELS_URL", REFERENCE_SERVER).rstrip("/")
        return f"{base}/{_REMOTE_FOLDER[self.kind]}/{self.remote}.pth"

    @property
    def folder_name(self) -> str:
        """The installed preset's folder: the name without the colon, which some file systems
        refuse."""
        return f"{self.kind}-{self.remote}"


_cyclegan = partial(CatalogueEntry, "cyclegan")
_pix2pix = partial(CatalogueEntry, "pix2pix")


CATALOGUE: tuple[CatalogueEntry, ...] = (
    _cyclegan(
        "style_vangogh",
        "Photo to Vincent van Gogh painting",
        "c6fc74049615b1c71b8be287bfdb12ec4f6170d4",
    ),
    _cyclegan(
        "style_monet", "Photo to Claude Monet painting", "283b3f15edc9636048ea2a6b548e3161ccd545d0"
    ),
    _cyclegan(
        "style_cezanne",
        "Photo to Paul Cezanne painting",
        "ec3e20a99bcf3e0c15eb601ab00b9055eaafcf12",
    ),
    _cyclegan("style_ukiyoe", "Photo to ukiyo-e print", "04d13a1a7724d6aa7d22f8d49efd1762fb324a87"),
    _cyclegan("horse2zebra", "Horses to zebras"),
    _cyclegan("zebra2horse", "Zebras to horses"),
    _cyclegan("summer2winter_yosemite", "Summer landscape to winter (Yosemite)"),
    _cyclegan("winter2summer_yosemite", "Winter landscape to summer (Yosemite)"),
    _cyclegan("apple2orange", "Apples to oranges"),
    _cyclegan("orange2apple", "Oranges to apples"),
    _cyclegan("monet2photo", "Monet painting to photo"),
    _cyclegan("iphone2dslr_flower", "Phone flower photo to shallow depth of field"),
    _cyclegan("sat2map", "Satellite photo to map"),
    _cyclegan("map2sat", "Map to satellite photo"),
    _cyclegan("facades_photo2label", "Facade photo to label map"),
    _cyclegan("facades_label2photo", "Facade label map to photo"),
    _cyclegan("cityscapes_photo2label", "Street photo to label map"),
    _cyclegan("cityscapes_label2photo", "Street label map to photo"),
    _pix2pix("edges2shoes", "Shoe edge map to shoe photo"),
    _pix2pix("sat2map", "Satellite photo to map"),
    _pix2pix("map2sat", "Map to satellite photo"),
    _pix2pix("facades_label2photo", "Facade label map to photo"),
    _pix2pix("day2night", "Daytime scene to night"),
)


def catalogue_entry(name: str) -> CatalogueEntry | None:
    """The entry called ``name`` (``kind:remote``, or a bare ``remote`` that only one kind has),
    None when there is none; an ambiguous bare name is an error naming the choices."""
    matches = [e for e in CATALOGUE if name in (e.name, e.folder_name, e.remote)]
    if len(matches) > 1:
        choices = " or ".join(e.name for e in matches)
        raise StylizeError(f"{name!r} is published both ways: say {choices}")
    return matches[0] if matches else None
