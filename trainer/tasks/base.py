"""What a training task (pix2pix, CycleGAN, ...) provides to the loop; registered by name."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, cast

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import Dataset

from stylizer.errors import StylizeError
from stylizer.models import Generator, GeneratorSpec, PatchDiscriminator, build_generator
from stylizer.registry import Registry

if TYPE_CHECKING:
    from ..settings import Settings

Warn = Callable[[str], None]

TASKS: Registry[Task] = Registry("task")
register_task = TASKS.register


def init_weights(net: nn.Module, gain: float = 0.02) -> None:
    """The reference's ``normal`` init: N(0, 0.02) convs, N(1, 0.02) norm scales, zero biases."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


#: The reference implementation's defaults, which pix2pix and CycleGAN keep.
REFERENCE_DEFAULTS = {
    "ngf": 64,
    "lr": 2e-4,
    "beta1": 0.5,
    "batch_size": 1,
    "epochs": 100,
    "decay_epochs": 100,
    "val_count": 8,
}


def fill_defaults(s: Settings, defaults: dict) -> None:
    """Set each of ``defaults`` the settings leave unset (None or empty)."""
    for name, value in defaults.items():
        if getattr(s, name) in (None, ""):
            setattr(s, name, copy.copy(value))  # a list of the settings' own


class Task:
    """What differs between kinds of training, in one place: the task's defaults, how it reads
    its folders, its networks, optimisers, losses and one step, its validation figures and
    preview rows. The loop handles everything around it."""

    name = ""
    #: What the images of one preview row show, left to right.
    preview_columns: tuple[str, ...] = ("input", "output", "target")
    #: Preview rows per held-out sample.
    preview_rows: int = 1
    #: The validation figure that says which checkpoint is best, and whether lower or higher is
    #: better (``export --checkpoint best``); None where no figure says it (CycleGAN's cycle
    #: error does not measure the style).
    best_by: tuple[str, str] | None = None

    @classmethod
    def resolve(cls, s: Settings) -> None:
        """Fill the settings this task decides (left empty by the user) and check its own."""

    @classmethod
    def datasets(cls, s: Settings, warn: Warn, run_root: Path) -> tuple[Dataset, Dataset]:
        """Training and held-out data from the settings' folders, for a run in ``run_root``."""
        raise NotImplementedError

    @classmethod
    def evaluation_data(cls, s: Settings, roots: list[Path], size: int, warn: Warn) -> Dataset:
        """Held-out data from ``roots`` at ``size`` px, for ``stylize-train evaluate``."""
        raise NotImplementedError

    def prepare(
        self, train_set: Dataset, val_set: Dataset, log: Warn, progress: bool, rank: int, world: int
    ) -> None:
        """Work a session does before its first step (every rank of ``world`` calls it)."""

    def record(self) -> dict:
        """What an exported preset's manifest adds about this task's training."""
        return {}

    def __init__(self, s: Settings, device: torch.device) -> None:
        self.s, self.device = s, device
        self.nets: dict[str, nn.Module] = {}
        self.optims: dict[str, torch.optim.Optimizer] = {}
        dtype = torch.bfloat16 if self._bf16() else None
        self.autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)

    def _bf16(self) -> bool:
        if self.s.precision == "bf16":
            return True
        return (
            self.s.precision == "auto"
            and self.device.type == "cuda"
            and torch.cuda.is_bf16_supported()
        )

    def spec(self, in_channels: int = 3, out_channels: int = 3) -> GeneratorSpec:
        s = self.s
        assert s.depth and s.ngf and s.dropout is not None, "settings not resolved"
        return GeneratorSpec(s.arch, s.depth, s.ngf, in_channels, out_channels, s.norm, s.dropout)

    def add_net(self, name: str, net: nn.Module) -> nn.Module:
        init_weights(net)
        net = net.to(self.device)
        if self.s.channels_last and self.device.type == "cuda":
            net = net.to(memory_format=torch.channels_last)
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            # Buffers stay per rank (after one sync at the start, when they are equal anyway):
            # broadcasting batch-norm statistics from rank 0 before each forward modifies them
            # in place between the discriminator's two forwards and its one backward, which
            # autograd refuses on GPUs. Rank 0's are the ones saved; they only matter with
            # --bn-stats running, since pix2pix infers with per-image ones.
            net = DistributedDataParallel(
                net,
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
                forward_sync_buffers=False,
            )
        self.nets[name] = net
        return cast(nn.Module, torch.compile(net)) if self.s.compile else net

    def generator(self, in_channels: int = 3, out_channels: int = 3) -> nn.Module:
        return build_generator(self.spec(in_channels, out_channels))

    def discriminator(self, in_channels: int) -> nn.Module:
        return PatchDiscriminator(in_channels, self.s.ndf, self.s.d_layers, self.s.norm)

    def adam(self, *nets: nn.Module) -> torch.optim.Optimizer:
        params = [p for n in nets for p in n.parameters()]
        assert self.s.lr is not None and self.s.beta1 is not None, "settings not resolved"
        return torch.optim.Adam(params, lr=self.s.lr, betas=(self.s.beta1, self.s.beta2))

    @staticmethod
    def plain(net: nn.Module) -> nn.Module:
        return net.module if isinstance(net, DistributedDataParallel) else net

    def to_device(self, images: torch.Tensor) -> torch.Tensor:
        """A batch to the training device without waiting for the copy (the loader pins
        memory on a GPU)."""
        return images.to(self.device, non_blocking=True)

    def train_step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """One optimisation step; the losses stay on the device (detached), read only when the
        loop logs them, so a GPU step has no host synchronisation."""
        raise NotImplementedError

    @torch.no_grad()
    def evaluate(self, batch: dict[str, torch.Tensor]) -> tuple[dict[str, float], torch.Tensor]:
        """Validation figures for a held-out batch and its preview rows (N x 3 images)."""
        raise NotImplementedError

    def generator_for(self, direction: str) -> Generator:
        """The generator (unwrapped) that translates ``direction``: what a preset exports and what
        a fine-tune from a preset starts."""
        raise NotImplementedError

    def export(self, direction: str) -> tuple[dict[str, torch.Tensor], GeneratorSpec]:
        """The generator for ``direction`` as a plain state dict and its spec."""
        g = self.generator_for(direction)
        return g.state_dict(), g.spec

    def state_dict(self) -> dict:
        return {
            "nets": {k: self.plain(n).state_dict() for k, n in self.nets.items()},
            "optims": {k: o.state_dict() for k, o in self.optims.items()},
        }

    def load_state_dict(self, state: dict, nets_only: bool = False) -> None:
        """Restore networks, optimisers (and pools); ``nets_only`` takes just the weights, to
        fine-tune from another run."""
        for k, n in self.nets.items():
            self.plain(n).load_state_dict(state["nets"][k])
        if nets_only:
            return
        for k, o in self.optims.items():
            o.load_state_dict(state["optims"][k])

    def set_requires_grad(self, requires: bool, *nets: nn.Module) -> None:
        for n in nets:
            n.requires_grad_(requires)


class ReferenceTask(Task):
    """pix2pix and CycleGAN: the reference's defaults, and its augmentation (resize to
    ``load_size``, random crop of ``crop_size``)."""

    @classmethod
    def resolve(cls, s):
        fill_defaults(s, REFERENCE_DEFAULTS)
        if s.crop_size > s.load_size:
            raise StylizeError(f"--crop-size {s.crop_size} exceeds --load-size {s.load_size}")
