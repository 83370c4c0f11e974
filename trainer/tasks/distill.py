"""Distillation: a small, fast generator learns to give a big one's outputs on real photos.

The teacher (a preset, a run folder or any generator weight file, the reference's checkpoints
included) runs once per photo and size before training; its outputs are cached in the run
folder (``teacher/``), so a step costs only the student's forward and backward, and a resumed
run reads the very targets the first session wrote. The student sees random crops of photos
resized to several sizes, flipped, and learns the teacher's pixels under an L1 loss.

L1 alone averages what the student cannot reproduce exactly, and brush strokes are the first to
go. ``--lambda-gan`` adds an adversarial term: a PatchGAN sees each photo beside an output and
learns to tell the teacher's outputs (real) from the student's (made), so the student is pushed
towards outputs with the teacher's texture, not their blurred mean; ``--lambda-features`` adds
feature matching on the discriminator's layers.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import Dataset
from torchvision.transforms import v2
from typing_extensions import override

from stylizer.device import pad_to_multiple
from stylizer.errors import StylizeError
from stylizer.files import write_atomic
from stylizer.images import Picture, write_image
from stylizer.models import Generator, PatchDiscriminator
from stylizer.progress import Progress
from stylizer.styles.loading import load_generator, resolve
from stylizer.styles.presets import MANIFEST
from stylizer.styles.weights import weights_digest

from ..data import load_rgb, scan, split_holdout, to_unit
from ..losses import GANLoss, diversity_figures, psnr, ssim
from ..settings import Settings, setting
from .base import Task, open_task, register_task

#: What ``fill`` sets where the settings leave it to the task.
DEFAULTS = {
    "arch": "compact",
    "ngf": 24,
    "lr": 1e-3,
    "beta1": 0.9,  # Adam's usual: a regression, not a GAN's balance
    "batch_size": 4,
    "epochs": 8,
    "decay_epochs": 4,
    "val_count": 16,
    "sizes": [256, 384],
}
#: Raw bytes the cached teacher outputs may take (PNG holds them in about half).
CACHE_BUDGET_BYTES = 8 * 2**30
#: Brightens the preview's difference column: 1/8 of the range shows white.
_DIFFERENCE_GAIN = 8


def resized(image: torch.Tensor, size: int) -> torch.Tensor:
    """A CHW uint8 image with its shorter side ``size`` px; the one resize that makes both
    what the teacher saw and what the student sees, so the two always line up."""
    h, w = image.shape[1:]
    scale = size / min(h, w)
    return v2.functional.resize(
        image, [max(size, round(h * scale)), max(size, round(w * scale))], antialias=True
    )


def load_teacher(source: str) -> Generator:
    """The generator ``source`` names: a preset, a weight file, or a run folder (its latest
    checkpoint's generator, A to B)."""
    path = Path(source)
    if path.is_dir() and (path / "settings.json").is_file() and not (path / MANIFEST).is_file():
        return open_task(path, torch.device("cpu")).task.generator_for("AtoB")
    return load_generator(source)


class DistillData(Dataset):
    """Photos at random sizes, cropped and flipped, with the teacher's output for the same
    pixels ("B", read from the cache). Without a cache folder (held-out photos scored by
    ``evaluate``, where the teacher runs on the fly) the items hold the photo alone."""

    def __init__(
        self,
        photos: list[Path],
        sizes: list[int],
        crop: int,
        flip: bool,
        train: bool,
        cache: Path | None = None,
    ) -> None:
        self.photos, self.sizes, self.crop, self.flip = photos, sizes, crop, flip
        self.train, self.cache = train, cache

    def __len__(self) -> int:
        return len(self.photos)

    def target_path(self, index: int, size: int) -> Path:
        """Where the teacher's output for photo ``index`` at ``size`` is cached."""
        assert self.cache is not None, "training data has a cache"
        return self.cache / str(size) / f"{index:06d}.png"

    def sizes_used(self) -> list[int]:
        """The sizes this set draws from (held-out photos use the first one only)."""
        return self.sizes if self.train else self.sizes[:1]

    def __getitem__(self, key: tuple[int, int] | int) -> dict[str, torch.Tensor]:
        i, seed = key if isinstance(key, tuple) else (key, key)
        gen = torch.Generator().manual_seed(seed)
        sizes = self.sizes_used()
        size = sizes[int(torch.randint(len(sizes), (1,), generator=gen))]
        images = [resized(load_rgb(self.photos[i]), size)]
        if self.cache is not None:
            images.append(load_rgb(self.target_path(i, size)))
        h, w = images[0].shape[1:]
        if images[-1].shape != images[0].shape:
            raise StylizeError(
                f"{self.target_path(i, size)}: not the teacher's output for "
                f"{self.photos[i]} (another size); delete the run's teacher/"
            )
        if self.train:
            top = int(torch.randint(h - self.crop + 1, (1,), generator=gen))
            left = int(torch.randint(w - self.crop + 1, (1,), generator=gen))
            mirror = self.flip and bool(torch.rand(1, generator=gen) < 0.5)
        else:
            top, left, mirror = (h - self.crop) // 2, (w - self.crop) // 2, False
        images = [im[:, top : top + self.crop, left : left + self.crop] for im in images]
        if mirror:
            images = [im.flip(-1) for im in images]
        return dict(zip("AB", (to_unit(im) for im in images), strict=False))


@dataclass
class DistillSettings(Settings):
    #: The preset, run folder or generator file the student learns from.
    teacher: str = ""
    sizes: list[int] | None = setting(
        None,
        "Shorter sides (px) the photos are resized to, one drawn at random per crop.",
        "sizes",
    )

    lambda_gan: float = setting(
        0.0,
        "Weight of an adversarial term (0: L1 only): a PatchGAN judges each photo beside an "
        "output, the teacher's as real and the student's as made, so the student keeps the "
        "teacher's strokes where L1 alone averages them away (try 0.05).",
        float,
    )
    lambda_features: float = setting(
        0.0,
        "With --lambda-gan: weight of an L1 between the discriminator's layer activations on "
        "the teacher's and the student's outputs (feature matching).",
        float,
    )
    ndf: int = setting(32, "With --lambda-gan: the discriminator's width.", 1)
    d_layers: int = 3

    def fill(self) -> None:
        self.fill_unset(DEFAULTS)
        super().fill()

    def check(self) -> None:
        if self.lambda_gan < 0 or self.lambda_features < 0:
            raise StylizeError("--lambda-gan and --lambda-features are weights: 0 or more")
        if self.lambda_features and not self.lambda_gan:
            raise StylizeError(
                "--lambda-features matches the discriminator's layers: it needs --lambda-gan"
            )
        if not self.teacher:
            raise StylizeError("distillation needs a teacher: a preset, run folder or weight file")
        assert self.sizes, "settings not filled"
        if min(self.sizes) < self.crop_size:
            raise StylizeError(
                f"--sizes {min(self.sizes)} is smaller than the {self.crop_size}px crop: every "
                "size must be at least --crop-size"
            )
        super().check()


@register_task("distill")
class Distill(Task):
    """Distill TEACHER into a small, fast generator that gives the same outputs on the photos.

    \b
      stylize-train distill vangogh photos/ -o runs/vangogh-fast     # a preset as teacher
      stylize-train distill latest_net_G_A.pth photos/ -o runs/fast  # any generator file
      stylize-train distill runs/vangogh photos/ more/ -o runs/fast  # a run folder's generator
      stylize-train export runs/vangogh-fast --name vangogh-fast

    The teacher's outputs for every photo and size are computed once and kept in the run
    folder (teacher/); the student (compact, ngf 24, 4 blocks by default: about 28 GFLOP per
    720p frame) learns them from random crops and flips under an L1 loss. Previews show
    input | teacher | student | difference; validation reports the student's PSNR and SSIM to
    the teacher on held-out photos.
    """

    settings_class = DistillSettings
    s: DistillSettings
    arguments = ("teacher",)
    evaluation = (
        "the student's L1, PSNR and SSIM to the teacher (run on the fly), from folders of photos"
    )
    best_by = ("val_PSNR", "higher")
    preview_columns = ("input", "teacher", "student", f"difference x{_DIFFERENCE_GAIN}")

    @classmethod
    def datasets(cls, s, warn, run_root):
        found: dict[Path, tuple[int, int]] = {}
        for folder in s.data:
            found |= scan(Path(folder), warn)
        train, val = split_holdout(list(found), s.val_count)
        if not train:
            raise StylizeError("no photos left to train on")
        cache = run_root / "teacher"
        sets = (
            DistillData(train, s.sizes, s.crop_size, s.flip, True, cache / "train"),
            DistillData(val, s.sizes, s.crop_size, False, False, cache / "val"),
        )
        _check_budget(sets, found)
        return sets

    @override
    @classmethod
    def evaluation_data(cls, s, roots, size, warn):
        photos = [p for root in roots for p in scan(root, warn)]
        return DistillData(photos, [size], size, False, False)

    def __init__(self, s, device) -> None:
        super().__init__(s, device)
        self.G = self.add_net("G", self.generator())
        self.optims = {"G": self.adam(self.nets["G"])}
        if s.lambda_gan:
            self.D = self.add_net("D", PatchDiscriminator(6, s.ndf, s.d_layers, "instance"))
            params = self.nets["D"].parameters()
            self.optims["D"] = torch.optim.Adam(params, lr=s.lr, betas=(0.5, s.beta2))
            self.gan = GANLoss("lsgan").to(device)
        self._teacher: Generator | None = None

    @property
    def teacher(self) -> Generator:
        """Loaded when first needed (training reads the cache, not the teacher)."""
        if self._teacher is None:
            self._teacher = load_teacher(self.s.teacher).to(self.device).eval()
            self._teacher.requires_grad_(False)
        return self._teacher

    def prepare(self, train_set, val_set, log, progress, rank, world):
        """Cache the teacher's output for every photo and size, each rank a share (what is
        already there and still matches the teacher and the photos is kept)."""
        sets = (train_set, val_set)
        cache = train_set.cache.parent
        if rank == 0:
            key = {
                "teacher": self.s.teacher,
                "weights": weights_digest(self.teacher),
                "photos": [[_identity(p) for p in data.photos] for data in sets],
                "sizes": self.s.sizes,
            }
            record = cache / "cache.json"
            if record.is_file() and json.loads(record.read_text()) != key:
                log(f"{cache}: the teacher or the photos changed; its outputs are computed again")
                shutil.rmtree(cache)
            cache.mkdir(parents=True, exist_ok=True)
            write_atomic(record, (json.dumps(key) + "\n").encode())
        if world > 1:
            torch.distributed.barrier()  # the cache is cleared before any rank fills it
        # Each rank's share is dealt from every item, then what is on disk is left out: a share
        # dealt from what is missing would shift as soon as another rank wrote its first file.
        every = [
            (data, i, size) for data in sets for size in data.sizes_used() for i in range(len(data))
        ]
        todo = [(d, i, size) for d, i, size in every if not d.target_path(i, size).is_file()]
        mine = [
            (d, i, size)
            for d, i, size in every[rank::world]
            if not d.target_path(i, size).is_file()
        ]
        if todo:
            log(f"computing the teacher's output for {len(todo)} photo sizes (once per run)")
            bar = Progress("teacher outputs", "image", len(mine), progress)
            try:
                for data, i, size in mine:
                    photo = resized(load_rgb(data.photos[i]), size)
                    write_image(data.target_path(i, size), Picture(self._teach(photo)))
                    bar.update()
            finally:
                bar.close()
        self._teacher = None  # training never runs it: its memory goes back
        if world > 1:
            torch.distributed.barrier()  # every rank's share is on disk

    @torch.inference_mode()
    def _teach(self, image: torch.Tensor) -> np.ndarray:
        """The teacher's output for a CHW uint8 image, as HWC uint8 RGB."""
        y = self._teacher_output(to_unit(image)[None].to(self.device))[0]
        return ((y + 1) * 127.5).round().byte().permute(1, 2, 0).cpu().numpy()

    def _teacher_output(self, x: torch.Tensor) -> torch.Tensor:
        """The teacher on images in [-1, 1] of any size: padded to what its architecture takes,
        as ``stylize`` pads them, and cropped back."""
        t = self.teacher
        h, w = x.shape[-2:]
        padded, (top, left) = pad_to_multiple(x, t.size_multiple, t.min_size)
        return t(padded)[..., top : top + h, left : left + w].float().clamp(-1, 1)

    def train_step(self, batch):
        photo, target = self.to_device(batch["A"]), self.to_device(batch["B"])
        with self.autocast:
            student = self.G(photo).float()
        losses = self._judged(photo, student, target) if self.s.lambda_gan else {}
        self.optims["G"].zero_grad(set_to_none=True)
        with self.autocast:
            losses["L1"] = F.l1_loss(student, target)
            if self.s.lambda_gan:
                losses |= self._fooling(photo, student, target)
            loss = sum(v for k, v in losses.items() if not k.startswith("D_"))
        loss.backward()
        self.optims["G"].step()
        losses["G_grad"] = self.grad_norm(self.G)
        return {k: v.detach() for k, v in losses.items()}

    def _judged(self, photo: torch.Tensor, student: torch.Tensor, target: torch.Tensor) -> dict:
        """The discriminator's step: the teacher's output beside its photo towards 1, the
        student's towards 0."""
        return self.discriminator_update(
            self.nets["D"],
            self.gan,
            torch.cat([photo, target], 1),
            torch.cat([photo, student], 1),
            self.D,
        )

    def _fooling(self, photo: torch.Tensor, student: torch.Tensor, target: torch.Tensor) -> dict:
        """The student's adversarial terms: its output judged real, and (with
        ``--lambda-features``) the discriminator's layers seeing it as they see the teacher's."""
        made = torch.cat([photo, student], 1)
        if not self.s.lambda_features:
            return {"G_GAN": self.gan(self.D(made), True) * self.s.lambda_gan}
        judge = self.plain(self.D)
        with torch.no_grad():
            real = _activations(judge, torch.cat([photo, target], 1))[:-1]
        *features, verdict = _activations(judge, made)
        matching = sum(F.l1_loss(m, r) for m, r in zip(features, real, strict=True))
        return {
            "G_GAN": self.gan(verdict, True) * self.s.lambda_gan,
            "G_features": matching / len(real) * self.s.lambda_features,
        }

    @torch.no_grad()
    def evaluate(self, batch):
        photo = batch["A"].to(self.device)
        cached = batch.get("B")  # held-out photos from other folders have no cached output
        target = self._teacher_output(photo) if cached is None else cached.to(self.device)
        g = self.plain(self.nets["G"]).eval()
        student = g(photo).float()
        g.train()
        difference = ((student - target).abs() * _DIFFERENCE_GAIN / 2).clamp(0, 1) * 2 - 1
        metrics = {
            "val_L1": F.l1_loss(student, target).item(),
            "val_PSNR": psnr(student, target),
            "val_SSIM": ssim(student, target),
        } | diversity_figures(student, target)
        return metrics, torch.stack([photo, target, student, difference], 1).flatten(0, 1)

    @override
    def generator_for(self, direction):
        return self.plain(self.nets["G"])

    def record(self, direction="AtoB"):  # noqa: ARG002 (one generator)
        sizes = ", ".join(map(str, self.s.sizes or []))
        origin: dict = {"teacher": self.s.teacher, "sizes": self.s.sizes}
        try:
            teacher = self.teacher
            origin |= {"architecture": teacher.spec.to_dict(), "weights": weights_digest(teacher)}
        except StylizeError:  # moved or deleted since: the student exports all the same
            pass
        return {
            "intended_input": f"photos; trained on {self.s.crop_size}px crops of photos resized "
            f"to {sizes} px on the shorter side",
            "working_size": self._teacher_working_size() or max(self.s.sizes or [self.s.crop_size]),
            "distilled_from": origin,
        }

    def _teacher_working_size(self) -> int | None:
        """The teacher preset's working size: the student paints what the teacher paints, at
        the same scale."""
        try:
            preset = resolve(self.s.teacher)[1]
        except StylizeError:
            return None
        return preset.working_size if preset else None


def _activations(discriminator: torch.nn.Module, x: torch.Tensor) -> list[torch.Tensor]:
    """What each activation layer of a PatchGAN gives for ``x``, in order, then its verdict."""
    assert isinstance(discriminator, PatchDiscriminator)
    found = []
    for layer in discriminator.model:
        x = layer(x)
        if isinstance(layer, torch.nn.LeakyReLU):
            found.append(x)
    return [*found, x]


def _identity(photo: Path) -> list:
    """A photo as the cache knows it: an edited or replaced file gets a new output."""
    st = photo.stat()
    return [str(photo), st.st_size, st.st_mtime_ns]


def _check_budget(sets: tuple[DistillData, ...], dims: dict[Path, tuple[int, int]]) -> None:
    """Refuse, before the teacher's first image, a cache over ``CACHE_BUDGET_BYTES``."""
    total, count = 0, 0
    for data in sets:
        for size in data.sizes_used():
            for photo in data.photos:
                w, h = dims[photo]
                total += round(h * size / min(h, w)) * round(w * size / min(h, w)) * 3
                count += 1
    if total > CACHE_BUDGET_BYTES:
        raise StylizeError(
            f"the teacher's outputs for {count} photo sizes would take about "
            f"{total / 2**30:.1f} GiB (over {CACHE_BUDGET_BYTES / 2**30:.0f} GiB): use fewer "
            "photos or fewer --sizes"
        )
