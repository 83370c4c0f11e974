"""What a training task (pix2pix, CycleGAN, ...) provides to the loop; registered by name, with
its settings class. A new task is one new file in this package that calls ``register_task``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, TypeVar, cast

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.nn.utils import parametrize
from torch.utils.data import Dataset

from stylizer.errors import StylizeError
from stylizer.models import Generator, GeneratorSpec, build_generator
from stylizer.registry import Registry

from ..run import RunFolder
from ..settings import Settings

if TYPE_CHECKING:
    from ..losses import GANLoss

Warn = Callable[[str], None]
T = TypeVar("T", bound="type[Task]")

TASKS: Registry[Task] = Registry("task")


def register_task(name: str, before: Iterable[str] = ()) -> Callable[[T], T]:
    """Register the decorated task class as ``name``, and its ``settings_class`` as the
    settings of ``name``."""

    def add(cls: T) -> T:
        cls.settings_class.register(name)
        TASKS.register(name, before)(cls)
        return cls

    return add


def init_weights(net: nn.Module, gain: float = 0.02) -> None:
    """The reference's ``normal`` init: N(0, 0.02) convs, N(1, 0.02) norm scales, zero biases
    (of a spectrally normalised layer, the weight before normalisation)."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d):
            weight = (
                getattr(m.parametrizations, "weight").original  # noqa: B009 (a ModuleDict)
                if parametrize.is_parametrized(m, "weight")
                else m.weight
            )
            nn.init.normal_(weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, gain)
            nn.init.zeros_(m.bias)


class Task:
    """What differs between kinds of training, in one place: the task's settings, how it reads
    its folders, its networks, optimisers, losses and one step, its validation figures and
    preview rows. The loop handles everything around it. The class's docstring is its help
    (``stylize-train --task NAME --help``): a first line, then examples."""

    name = ""
    #: The task's settings: ``Settings`` or a subclass that adds the task's own (each field made
    #: with ``setting(...)`` is a flag) and fills the task's defaults.
    settings_class: ClassVar[type[Settings]] = Settings
    #: Settings given as arguments before the data folders (``stylize-train NAME TEACHER DATA``).
    arguments: tuple[str, ...] = ()
    #: Flags of ``stylize-train`` that also choose this task (``--paired``); a setting of the
    #: task's by that name keeps its meaning too.
    aliases: tuple[str, ...] = ()
    #: What ``stylize-train evaluate`` reports for this task, and the folders it takes.
    evaluation = ""
    #: What the images of one preview row show, left to right.
    preview_columns: tuple[str, ...] = ("input", "output", "target")
    #: Preview rows per held-out sample.
    preview_rows: int = 1
    #: Whether a session ends by writing ``timelapse.mp4`` of the previews.
    timelapse: bool = False
    #: What the preview page says of its rows, beyond the columns.
    preview_note: str = ""
    #: A line said at the start of a session on what the logged figures mean, where their
    #: scales differ (a weighted training loss beside the plain validation error).
    figures: str = ""
    #: The validation figure that says which checkpoint is best, and whether lower or higher is
    #: better (``export --checkpoint best``); None where no figure says it (CycleGAN's cycle
    #: error does not measure the style).
    best_by: tuple[str, str] | None = None

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

    def record(self, direction: str = "AtoB") -> dict:  # noqa: ARG002
        """What an exported preset's manifest says about what the generator (for
        ``direction``) takes: the input it was trained on, and the shorter side it paints at
        (``working_size``)."""
        return {
            "intended_input": f"images like its training data; trained on {self.s.crop_size}px "
            "crops",
            "working_size": self.s.crop_size,
        }

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

    def learning_rates(self) -> dict[str, float]:
        """Each optimiser's learning rate before the schedule scales it: ``--lr`` for all,
        unless a task gives its networks their own (TTUR)."""
        assert self.s.lr is not None, "settings not resolved"
        return {name: self.s.lr for name in self.optims}

    def discriminator_update(
        self,
        discriminator: nn.Module,
        gan: GANLoss,
        real: torch.Tensor,
        made: torch.Tensor,
        judge: Callable[[torch.Tensor], torch.Tensor],
    ) -> dict[str, torch.Tensor]:
        """One step of ``discriminator`` (optimiser ``D``): ``judge``'s verdicts on ``real``
        towards real, on ``made`` (detached here) towards made, under ``gan``; skipped while it
        rests (``--balance``). Its two losses and how often it was right on each; it is left
        frozen for the generator's step that follows."""
        self.set_requires_grad(True, discriminator)
        self.optims["D"].zero_grad(set_to_none=True)
        with self.autocast:
            on_made, on_real = judge(made.detach()), judge(real)
            d_fake, d_real = gan(on_made, False), gan(on_real, True)
        loss = (d_fake + d_real) * 0.5
        rests = self.discriminator_rests(loss, gan.chance)
        if not rests:
            loss.backward()
            self.optims["D"].step()
        self.set_requires_grad(False, discriminator)
        return ({"D_rests": rests} if self.s.balance else {}) | {
            "D_grad": self.grad_norm(discriminator),
            "D_real": d_real,
            "D_fake": d_fake,
            "D_acc_real": gan.accuracy(on_real, True),
            "D_acc_fake": gan.accuracy(on_made, False),
        }

    def discriminator_rests(self, loss: torch.Tensor, chance: float) -> torch.Tensor:
        """With ``--balance``: whether the discriminator skips this step's update, its ``loss``
        being under a tenth of ``chance`` (its loss when it cannot tell); read on the host, one
        synchronisation a step, only with ``--balance``. As a tensor, for the step's figures."""
        resting = bool(self.s.balance) and float(loss.detach()) < 0.1 * chance
        return torch.tensor(float(resting))

    @staticmethod
    def grad_norm(*nets: nn.Module) -> torch.Tensor:
        """The L2 norm of all of ``nets``' gradients (on the device: no host synchronisation),
        for the training doctor."""
        grads = [
            p.grad.detach().float().norm()
            for net in nets
            for p in net.parameters()
            if p.grad is not None
        ]
        return torch.stack(grads).norm() if grads else torch.zeros(())

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
            if nets_only and k not in state["nets"]:
                continue  # a network the other run did not have (a new discriminator) starts fresh
            self.plain(n).load_state_dict(state["nets"][k])
        if nets_only:
            return
        for k, o in self.optims.items():
            o.load_state_dict(state["optims"][k])

    def set_requires_grad(self, requires: bool, *nets: nn.Module) -> None:
        for n in nets:
            n.requires_grad_(requires)


@dataclass(frozen=True)
class Opened:
    """A run's task as one of its checkpoints left it."""

    run: RunFolder
    task: Task
    step: int
    #: Which checkpoint, in words (``the latest checkpoint``).
    checkpoint: str


def open_task(run_dir: Path, device: torch.device, checkpoint: str = "latest") -> Opened:
    """The task of the run in ``run_dir``, built with its saved settings and restored from
    ``checkpoint`` (``RunFolder.chosen_checkpoint``)."""
    run = RunFolder(run_dir)
    if not run.exists():
        raise StylizeError(f"{run_dir}: not a run folder (no settings.json)")
    if not run.latest.is_file():
        raise StylizeError(f"{run_dir}: a run folder with no checkpoint yet")
    s = Settings.load(run.settings_path)
    task = TASKS.get_class(s.task)(s, device)
    path, chosen = run.chosen_checkpoint(checkpoint, task.best_by)
    return Opened(run, task, run.restore(task, path), chosen)
