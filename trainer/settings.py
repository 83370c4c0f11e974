"""Every training setting, saved as ``settings.json`` in the run; those left None (or empty) are
the task's to fill (``Task.resolve``)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from stylizer.errors import StylizeError
from stylizer.files import write_atomic
from stylizer.models import GeneratorSpec, build_generator

#: Settings a run may continue with changed (``--resume-with-changes``): its schedule and how its
#: sessions run and keep records. The rest say what it learns from and with: changed, they make a
#: new run, whose checkpoints and log would not be this one's.
ADJUSTABLE = frozenset(
    {
        "lr",
        "epochs",
        "decay_epochs",
        "steps_per_epoch",
        "workers",
        "preview_every",
        "checkpoint_every",
        "keep_checkpoints",
        "precision",
        "channels_last",
        "compile",
    }
)


@dataclass(frozen=True)
class Flag:
    """How a setting appears on the ``stylize-train`` command line: its help, its click type
    and, where only one command takes it, which (``train`` or ``distill``)."""

    help: str = ""
    type: Any = None
    only: str | None = None


def setting(default: Any = None, help: str = "", type: Any = None, only: str | None = None) -> Any:
    """A field that is also a command-line option (``--NAME`` from the field's name)."""
    if isinstance(default, list):
        return field(
            default_factory=lambda: list(default), metadata={"flag": Flag(help, type, only)}
        )
    return field(default=default, metadata={"flag": Flag(help, type, only)})


@dataclass
class Settings:
    """One line per setting; those with a ``setting(...)`` are options of ``stylize-train``
    (None: the task decides, ``Task.resolve``), the rest come from the command's arguments or a
    ``--config`` file."""

    task: str = "cyclegan"  # "pix2pix", "cyclegan" or "distill"
    data: list[str] = field(default_factory=list)
    aligned: bool = setting(
        False, "pix2pix from one folder of side-by-side AB images.", bool, only="train"
    )
    direction: str = setting("AtoB", "Which side is the input.", ("AtoB", "BtoA"), only="train")
    # generator / discriminator
    arch: str = setting(
        "",
        "Default: unet (pix2pix), resnet (CycleGAN), compact (distill). resnet-resize: up-samples "
        "by resize-convolution (no transposed-convolution checkerboard). compact: nothing at full "
        "size, about a ninth of the ResNet's arithmetic (for fast styles).",
        "generators",
    )
    depth: int | None = setting(None, "ResNet blocks (9; compact 4) or U-Net downsamplings (8).", 1)
    ngf: int | None = setting(None, "Generator width (default 64; distill 24).", 1)
    norm: str = setting("", "Default: batch (pix2pix), instance (CycleGAN, distill).", "norms")
    dropout: bool | None = None  # default: on for pix2pix
    ndf: int = 64
    d_layers: int = 3
    # objective
    gan_loss: str = setting(
        "", "Default: vanilla (pix2pix), lsgan (CycleGAN).", ("lsgan", "vanilla"), only="train"
    )
    lambda_l1: float = setting(
        100.0, "pix2pix: weight of the L1 loss to the target.", float, only="train"
    )
    lambda_cycle: float = setting(10.0, "CycleGAN: weight of the cycle loss.", float, only="train")
    lambda_identity: float = setting(
        0.5, "CycleGAN: weight of the identity loss, relative to the cycle's.", float, only="train"
    )
    pool_size: int = 50
    # optimisation
    lr: float | None = setting(None, "Adam's learning rate (default 0.0002; distill 0.001).", float)
    beta1: float | None = None
    beta2: float = 0.999
    batch_size: int | None = setting(None, "Images per step (default 1; distill 4).", 1)
    epochs: int | None = setting(None, "Epochs at full rate (default 100; distill 8).", 0)
    decay_epochs: int | None = setting(None, "Then linear decay to 0 (default 100; distill 4).", 0)
    steps_per_epoch: int = setting(0, "Steps per epoch; 0: one pass over the data.", 0)
    # data
    load_size: int = setting(286, "Images are resized to this before cropping.", 8, only="train")
    crop_size: int = setting(256, "Side of the square crops trained on.", 8)
    flip: bool = True
    val_count: int | None = setting(
        None, "Held-out images for validation and previews (default 8; distill 16).", 0
    )
    workers: int = setting(2, "Data-loading processes.", 0)
    # bookkeeping
    seed: int = setting(0, "Random seed.", int)
    preview_every: int = setting(500, "Steps between previews.", 1)
    checkpoint_every: int = setting(1000, "Steps between checkpoints.", 1)
    keep_checkpoints: int = setting(
        3,
        "Numbered checkpoints to keep, newest first (0: all). Rename one (best.pt, say) to keep "
        "it for good.",
        0,
    )
    precision: str = setting(
        "auto",
        "auto is bf16 on a GPU that has it, else fp32; bf16 on a CPU ran 20x slower than fp32 "
        "on an AMD EPYC with native bf16 (measured), so auto keeps CPUs in fp32.",
        ("auto", "fp32", "bf16"),
    )
    channels_last: bool = True
    compile: bool = setting(False, "torch.compile the networks.", bool)
    init_from: str = setting(
        "",
        "Start a new run from another run's (or checkpoint's) network weights, to fine-tune at "
        "new settings; or from a preset or generator file (its generator only, the rest fresh). "
        "Optimisers and schedule start afresh.",
        "path",
    )
    # distillation
    teacher: str = ""  # preset, run folder or generator file the student learns from
    sizes: list[int] | None = setting(
        None,
        "Shorter sides (px) the photos are resized to, one drawn at random per crop "
        "(default 256,384).",
        "sizes",
        only="distill",
    )

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
        assert self.depth and self.ngf and self.dropout is not None, "settings not resolved"
        spec = GeneratorSpec(self.arch, self.depth, self.ngf, norm=self.norm, dropout=self.dropout)
        with torch.device("meta"):
            multiple = build_generator(spec).size_multiple
        if side % multiple:
            hint = f" or --depth {self.depth - 1}" if self.arch == "unet" else ""
            raise StylizeError(
                f"a {spec.describe()} needs sides that are multiples of {multiple}; use {flag} "
                f"{max(multiple, side // multiple * multiple)}{hint}"
            )

    def differences(self, other: Settings) -> list[str]:
        """The names of the settings ``other`` gives otherwise, in their order; data folders
        count as the same however they are spelt (``A``, ``./A/``)."""
        return [
            f.name
            for f in dataclasses.fields(self)
            if _compared(f.name, getattr(self, f.name)) != _compared(f.name, getattr(other, f.name))
        ]

    def describe(self, names: list[str]) -> str:
        """``data A B and ngf 8``: the values of settings ``names``, for a message."""
        parts = [f"{name.replace('_', '-')} {_shown(getattr(self, name))}" for name in names]
        return " and ".join(filter(None, [", ".join(parts[:-1]), parts[-1]]))

    def save(self, path: Path) -> None:
        """Written whole or not at all: a run is continued by what this file says."""
        write_atomic(path, (json.dumps(dataclasses.asdict(self), indent=2) + "\n").encode())

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise StylizeError(f"{path}: unreadable run settings ({e})") from None
        return cls.from_dict(data, str(path))

    @classmethod
    def from_dict(cls, data: dict, source: str) -> Settings:
        """Settings from ``data``; a key that is no setting is an error that names it, so a
        misspelt one is never dropped silently."""
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise StylizeError(f"{source}: unknown setting(s) {', '.join(unknown)}")
        return cls(**data)


def _compared(name: str, value: Any) -> Any:
    return [Path(d).resolve() for d in value] if name == "data" else value


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(map(str, value))
    if isinstance(value, bool):
        return str(value).lower()
    return "none" if value in (None, "") else str(value)
