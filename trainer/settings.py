"""Every training setting, saved as ``settings.json`` in the run; those left None (or empty) are
the task's to fill (``Task.resolve``)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import torch

from stylizer.errors import StylizeError
from stylizer.models import GeneratorSpec, build_generator


@dataclass
class Settings:
    task: str = "cyclegan"  # "pix2pix", "cyclegan" or "distill"
    data: list[str] = field(default_factory=list)
    aligned: bool = False
    direction: str = "AtoB"
    # generator / discriminator
    arch: str = ""  # default: unet for pix2pix, resnet for cyclegan
    depth: int = 0  # default: 8 (unet_256), 4 blocks (compact) or 9 blocks
    ngf: int | None = None  # None here and below: the task's default
    norm: str = ""  # default: batch for pix2pix, instance for cyclegan
    dropout: bool | None = None  # default: on for pix2pix
    ndf: int = 64
    d_layers: int = 3
    # objective
    gan_loss: str = ""  # default: vanilla for pix2pix, lsgan for cyclegan
    lambda_l1: float = 100.0
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    pool_size: int = 50
    # optimisation
    lr: float | None = None
    beta1: float | None = None
    beta2: float = 0.999
    batch_size: int | None = None
    epochs: int | None = None
    decay_epochs: int | None = None
    steps_per_epoch: int = 0  # 0: one pass over the data
    # data
    load_size: int = 286
    crop_size: int = 256
    flip: bool = True
    val_count: int | None = None
    workers: int = 2
    # bookkeeping
    seed: int = 0
    preview_every: int = 500
    checkpoint_every: int = 1000
    keep_checkpoints: int = 3  # numbered checkpoints kept, newest first; 0 keeps every one
    precision: str = "auto"  # auto, fp32, bf16
    channels_last: bool = True
    compile: bool = False
    init_from: str = ""  # run, checkpoint, preset or generator file a new run starts from
    # distillation
    teacher: str = ""  # preset, run folder or generator file the student learns from
    sizes: list[int] | None = None  # shorter sides photos are resized to, drawn at random

    def resolve(self) -> Settings:
        """Fill the defaults the task decides, then the architecture's, and check the values."""
        from .tasks import TASKS  # imported here: a task may read run folders, which hold settings

        TASKS.get_class(self.task).resolve(self)
        self.depth = self.depth or {"unet": 8, "compact": 4}.get(self.arch, 9)
        self.check_side(self.crop_size, "--crop-size")
        if self.direction not in ("AtoB", "BtoA"):
            raise StylizeError("--direction must be AtoB or BtoA")
        return self

    def check_side(self, side: int, flag: str) -> None:
        """Refuse a crop or evaluation side the generator cannot take whole."""
        spec = GeneratorSpec(self.arch, self.depth, self.ngf, norm=self.norm, dropout=self.dropout)
        with torch.device("meta"):
            multiple = build_generator(spec).size_multiple
        if side % multiple:
            hint = f" or --depth {self.depth - 1}" if self.arch == "unet" else ""
            raise StylizeError(
                f"a {spec.describe()} needs sides that are multiples of {multiple}; use {flag} "
                f"{max(multiple, side // multiple * multiple)}{hint}"
            )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise StylizeError(f"{path}: unreadable run settings ({e})") from None
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
