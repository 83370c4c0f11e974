"""Training data from plain folders: pairs matched by name, side-by-side AB images, or two
unrelated sets; with the reference's augmentation applied identically to both images of a pair.

Every sample's randomness comes from a seed the sampler hands out with its index, so a run
resumed at step N draws exactly what the uninterrupted run drew from step N on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler
from torchvision.transforms import v2

from stylizer.errors import StylizeError
from stylizer.images import is_image_path, read_image, to_8bit


def image_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise StylizeError(f"{folder}: no such folder")
    files = sorted(p for p in folder.rglob("*") if p.is_file() and is_image_path(p))
    if not files:
        raise StylizeError(f"{folder}: holds no images")
    return files


def load_rgb(path: Path) -> torch.Tensor:
    """CHW uint8 RGB, whatever the file's depth or channel count."""
    color = to_8bit(read_image(path).color)
    if color.shape[2] == 1:
        color = np.repeat(color, 3, axis=2)
    return torch.from_numpy(np.ascontiguousarray(color)).permute(2, 0, 1)


def _listing(paths: list, limit: int = 5) -> str:
    names = [getattr(p, "name", str(p)) for p in paths]
    return ", ".join(names[:limit]) + (" ..." if len(names) > limit else "")


def scan(
    folder: Path, warn, min_side: int = 0, halves: bool = False
) -> dict[Path, tuple[int, int]]:
    """Readable images under ``folder`` with their (width, height).

    Files that do not decode are dropped and reported in one warning, so a bad file cannot stop
    a run hours later; images smaller than ``min_side`` (per half for side-by-side AB images) are
    reported too: they are scaled up, which blurs them.
    """
    sizes, bad = {}, []
    for p in image_files(folder):
        try:
            color = read_image(p).color
            sizes[p] = (color.shape[1], color.shape[0])
        except StylizeError:
            bad.append(p)
    if bad:
        warn(f"skipping {len(bad)} unreadable file(s) in {folder}: {_listing(bad)}")
    small = [p for p, (w, h) in sizes.items() if min(w // (2 if halves else 1), h) < min_side]
    if small:
        warn(
            f"{len(small)} image(s) in {folder} are smaller than the {min_side}px crop and will be scaled up: {_listing(small)}"
        )
    if not sizes:
        raise StylizeError(f"{folder}: no readable images")
    return sizes


@dataclass(frozen=True)
class Augment:
    """Resize to ``load_size`` square, random crop to ``crop_size``, random horizontal flip."""

    load_size: int = 286
    crop_size: int = 256
    flip: bool = True

    def transform(self, train: bool) -> v2.Transform:
        if not train:
            return v2.Compose([v2.Resize([self.crop_size] * 2, antialias=True)])
        steps = [
            v2.Resize([self.load_size] * 2, antialias=True),
            v2.RandomCrop(self.crop_size),
        ]
        if self.flip:
            steps.append(v2.RandomHorizontalFlip())
        return v2.Compose(steps)


def to_unit(x: torch.Tensor) -> torch.Tensor:
    return x.float().div(127.5).sub(1)


class PairedData(Dataset):
    """(A, B) pairs; the same crop and flip for both. Items come as ``(index, seed)``."""

    def __init__(
        self,
        pairs: list[tuple[Path, Path] | Path],
        augment: Augment,
        train: bool,
        direction: str = "AtoB",
    ) -> None:
        self.pairs = pairs
        self.tf = augment.transform(train)
        self.swap = direction == "BtoA"

    def __len__(self) -> int:
        return len(self.pairs)

    def _load(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        item = self.pairs[i]
        if isinstance(item, tuple):
            a, b = load_rgb(item[0]), load_rgb(item[1])
            if a.shape[1:] != b.shape[1:]:
                b = v2.functional.resize(b, list(a.shape[1:]), antialias=True)
        else:  # one side-by-side AB image
            ab = load_rgb(item)
            half = ab.shape[2] // 2
            a, b = ab[:, :, :half], ab[:, :, half : 2 * half]
        return (b, a) if self.swap else (a, b)

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        i, seed = key if isinstance(key, tuple) else (key, key)
        a, b = self._load(i)
        torch.manual_seed(seed)
        a, b = self.tf(v2.functional.to_image(a), v2.functional.to_image(b))
        return {"A": to_unit(a), "B": to_unit(b)}


class UnpairedData(Dataset):
    """One image from each set; B is drawn at random (from the item's seed), as the reference does."""

    def __init__(self, a: list[Path], b: list[Path], augment: Augment, train: bool) -> None:
        self.a, self.b = a, b
        self.tf = augment.transform(train)
        self.train = train

    def __len__(self) -> int:
        return max(len(self.a), len(self.b))

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        i, seed = key if isinstance(key, tuple) else (key, key)
        gen = torch.Generator().manual_seed(seed)
        j = int(torch.randint(len(self.b), (1,), generator=gen)) if self.train else i % len(self.b)
        torch.manual_seed(seed)
        a = self.tf(v2.functional.to_image(load_rgb(self.a[i % len(self.a)])))
        b = self.tf(v2.functional.to_image(load_rgb(self.b[j])))
        return {"A": to_unit(a), "B": to_unit(b)}


class StepSampler(Sampler):
    """An endless stream of ``(index, seed)``: a fresh permutation each epoch, all from ``seed``.

    Starting at sample ``start`` yields exactly the tail of the stream that starts at 0, which is
    what makes resuming exact. With several processes each takes every ``world``-th sample.
    """

    def __init__(self, size: int, seed: int, start: int = 0, rank: int = 0, world: int = 1):
        self.size, self.seed, self.start, self.rank, self.world = size, seed, start, rank, world

    def __iter__(self) -> Iterator[tuple[int, int]]:
        n = self.start * self.world + self.rank
        epoch, perm = -1, torch.arange(0)
        while True:
            if n // self.size != epoch:
                epoch = n // self.size
                perm = torch.randperm(
                    self.size, generator=torch.Generator().manual_seed(self.seed + epoch)
                )
            yield int(perm[n % self.size]), (self.seed * 1_000_003 + n) % 2**62
            n += self.world


def match_pairs(
    a: dict[Path, tuple[int, int]], b: dict[Path, tuple[int, int]], warn
) -> list[tuple[Path, Path]]:
    """Pairs of files with the same name stem on both sides (as ``scan`` returns them)."""
    a_by, b_by = {p.stem: p for p in a}, {p.stem: p for p in b}
    unmatched = sorted(set(a_by) ^ set(b_by))
    if unmatched:
        warn(
            f"{len(unmatched)} file(s) have no partner of the same name and are skipped: {_listing(unmatched, 8)}"
        )
    pairs = [(a_by[k], b_by[k]) for k in sorted(set(a_by) & set(b_by))]
    if not pairs:
        raise StylizeError("no image has a partner of the same name in the other folder")
    mismatched = [pa for pa, pb in pairs if a[pa] != b[pb]]
    if mismatched:
        warn(f"{len(mismatched)} pair(s) differ in size; B is resized to A: {_listing(mismatched)}")
    return pairs


def split_holdout(items: list, count: int) -> tuple[list, list]:
    """Keep ``count`` evenly spaced items apart for validation and previews."""
    if len(items) < 2 or count <= 0:
        return items, []
    count = min(count, max(1, len(items) // 10))
    step = len(items) / count
    held = {int(i * step + step / 2) for i in range(count)}
    return [x for i, x in enumerate(items) if i not in held], [items[i] for i in sorted(held)]


def folder_items(
    paired: bool, aligned: bool, roots: list[Path], warn: Callable[[str], None], min_side: int = 0
):
    """The images in ``roots``, as given: one folder of side-by-side AB files (``aligned``),
    pairs matched by name (``paired``), or a list per side."""
    if aligned:
        if len(roots) != 1:
            raise StylizeError("--aligned takes one folder of side-by-side AB images")
        return list(scan(roots[0], warn, min_side, halves=True))
    if len(roots) != 2:
        raise StylizeError("give two folders (A and B), or one with trainA/ and trainB/")
    sides = (scan(roots[0], warn, min_side), scan(roots[1], warn, min_side))
    if paired:
        return match_pairs(*sides, warn)
    return tuple(list(side) for side in sides)


def two_folder_items(
    paired: bool, aligned: bool, folders: list[str], warn: Callable[[str], None], min_side: int
):
    """Training items and, where the layout names them (``val/`` beside ``train/``, or
    ``testA/`` and ``testB/`` beside ``trainA/`` and ``trainB/``), held-out ones, else None."""
    roots = [Path(d) for d in folders]
    if aligned and len(roots) == 1:
        root = roots[0]
        train = root / "train" if (root / "train").is_dir() else root
        items = folder_items(paired, aligned, [train], warn, min_side)
        if (root / "val").is_dir():
            return items, folder_items(paired, aligned, [root / "val"], warn, min_side)
        return items, None
    val_items = None
    if len(roots) == 1 and (roots[0] / "trainA").is_dir():
        root = roots[0]
        roots = [root / "trainA", root / "trainB"]
        if (root / "testA").is_dir() and (root / "testB").is_dir():
            val_items = folder_items(
                paired, aligned, [root / "testA", root / "testB"], warn, min_side
            )
    return folder_items(paired, aligned, roots, warn, min_side), val_items
