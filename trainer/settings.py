"""Training settings, saved as ``settings.json`` in the run: the fields every task shares here,
each task's own in its settings class (a subclass, in the task's file). Those left None (or
empty) are the task's to fill (``Settings.fill``).

The settings classes are found by task name in a table ``register_task`` fills, so this module
never imports the tasks (which read run folders, which hold settings)."""

from __future__ import annotations

import copy
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import torch

from stylizer.errors import StylizeError
from stylizer.files import write_atomic
from stylizer.models import GeneratorSpec, build_generator

#: Settings that say only how a session runs and keeps records: given when continuing a run,
#: they take effect (and are reported) without more ado.
SESSION = frozenset(
    {
        "workers",
        "preview_every",
        "checkpoint_every",
        "keep_checkpoints",
        "precision",
        "channels_last",
        "compile",
        "balance",
        "tensorboard",
    }
)
#: Settings a run may continue with changed when asked (``--resume-with-changes``): its
#: schedule, and the session's. The rest say what it learns from and with: changed, they make a
#: new run, whose checkpoints and log would not be this one's.
ADJUSTABLE = SESSION | {"lr", "epochs", "decay_epochs", "steps_per_epoch"}

#: What ``fill`` sets where neither the settings nor the task's class do: the reference
#: implementation's defaults.
DEFAULTS = {
    "arch": "resnet",
    "norm": "instance",
    "dropout": False,
    "ngf": 64,
    "lr": 2e-4,
    "beta1": 0.5,
    "batch_size": 1,
    "epochs": 100,
    "decay_epochs": 100,
    "val_count": 8,
}


@dataclass(frozen=True)
class Flag:
    """How a setting appears on the ``stylize-train`` command line: its help and its click type
    (a Python type, a tuple of choices, a minimum for an integer, or a name ``trainer.cli``
    knows)."""

    help: str = ""
    type: Any = None


def setting(default: Any = None, help: str = "", type: Any = None) -> Any:
    """A field that is also a command-line option (``--NAME`` from the field's name)."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={"flag": Flag(help, type)})
    return field(default=default, metadata={"flag": Flag(help, type)})


@dataclass
class Settings:
    """One line per setting that every task has; those with a ``setting(...)`` are options of
    ``stylize-train`` (None: the task decides), the rest come from the command's arguments or a
    ``--config`` file. ``Settings(task=NAME, ...)`` makes the settings class of task NAME, with
    that task's own settings among the values."""

    #: Settings classes by task name (``register_task`` fills it).
    _by_task: ClassVar[dict[str, type[Settings]]] = {}
    #: A task's own settings that, like ``ADJUSTABLE``, a run may continue with changed.
    adjustable: ClassVar[frozenset[str]] = frozenset()

    task: str = ""
    data: list[str] = field(default_factory=list)
    # generator
    arch: str = setting(
        "",
        "Generator architecture. resnet-resize: up-samples by resize-convolution (no "
        "transposed-convolution checkerboard). compact: nothing at full size, about a ninth of "
        "the ResNet's arithmetic (for fast styles).",
        "generators",
    )
    depth: int | None = setting(None, "ResNet blocks or U-Net downsamplings.", 1)
    ngf: int | None = setting(None, "Generator width.", 1)
    norm: str = setting("", "Normalisation layers.", "norms")
    dropout: bool | None = None
    # optimisation
    lr: float | None = setting(None, "Adam's learning rate.", float)
    beta1: float | None = None
    beta2: float = 0.999
    batch_size: int | None = setting(None, "Images per step.", 1)
    epochs: int | None = setting(None, "Epochs at full rate.", 0)
    decay_epochs: int | None = setting(None, "Then linear decay to 0.", 0)
    steps_per_epoch: int = setting(0, "Steps per epoch; 0: one pass over the data.", 0)
    # data
    crop_size: int = setting(256, "Side of the square crops trained on.", 8)
    flip: bool = True
    val_count: int | None = setting(None, "Held-out images for validation and previews.", 0)
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
    tensorboard: bool = setting(
        False,
        "Also write TensorBoard events into the run folder (tensorboard --logdir runs/ shows "
        "every run; needs pip install 'stylize[tensorboard]').",
        bool,
    )
    balance: bool = setting(
        False,
        "Skip the discriminator's step while its loss is under a tenth of its value at chance: "
        "the classic remedy when it wins (the doctor says when; the log says when it rests).",
        bool,
    )
    init_from: str = setting(
        "",
        "Start a new run from another run's (or checkpoint's) network weights, to fine-tune at "
        "new settings; or from a preset or generator file (its generator only, the rest fresh). "
        "Optimisers and schedule start afresh.",
        "path",
    )

    def __new__(cls, **values: Any) -> Settings:
        """``Settings(task=NAME, ...)`` is an instance of task NAME's settings class."""
        return super().__new__(cls if cls is not Settings else cls.of(values.get("task", "")))

    def __post_init__(self) -> None:
        if Settings._by_task.get(self.task) is not type(self):
            raise StylizeError(f"{type(self).__name__} are not the settings of task {self.task!r}")

    @classmethod
    def register(cls, task: str) -> None:
        """Make this class the settings of ``task``."""
        Settings._by_task[task] = cls

    @staticmethod
    def of(task: str) -> type[Settings]:
        """The settings class of ``task``."""
        try:
            return Settings._by_task[task]
        except KeyError:
            tasks = ", ".join(sorted(Settings._by_task))
            raise StylizeError(f"unknown task {task!r}: choose from {tasks}") from None

    @classmethod
    def common(cls) -> frozenset[str]:
        """The names of the settings every task has (the rest are a task's own)."""
        return frozenset(f.name for f in dataclasses.fields(Settings))

    def resolve(self) -> Settings:
        """Fill the defaults the task decides, then check the values."""
        self.fill()
        self.check()
        return self

    def fill(self) -> None:
        """Set what the settings leave to the task. A task's class sets its own defaults first,
        then calls this for the rest."""
        self.fill_unset(DEFAULTS)
        self.depth = self.depth or {"unet": 8, "compact": 4}.get(self.arch, 9)

    def fill_unset(self, defaults: dict[str, Any]) -> None:
        """Set each of ``defaults`` the settings leave unset (None or empty)."""
        for name, value in defaults.items():
            if getattr(self, name) in (None, ""):
                setattr(self, name, copy.copy(value))  # a list of the settings' own

    def check(self) -> None:
        """Refuse values the task cannot train with (a task's class checks its own first)."""
        self.check_side(self.crop_size, "--crop-size")

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
        """Written whole or not at all, one flat object: a run is continued by what this file
        says."""
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
        """The settings of the task ``data`` names. Another task's settings are left out:
        files from before each task had its own held every task's, which never applied."""
        cls.check_names(data, source)
        own = {f.name for f in dataclasses.fields(cls.of(data.get("task", "")))}
        return Settings(**{k: v for k, v in data.items() if k in own})

    @staticmethod
    def check_names(data: dict, source: str) -> None:
        """Refuse a key that is no task's setting, naming it: a misspelt one is never dropped
        silently."""
        known = {f.name for c in Settings._by_task.values() for f in dataclasses.fields(c)}
        unknown = sorted(set(data) - known - Settings.common())
        if unknown:
            raise StylizeError(f"{source}: unknown setting(s) {', '.join(unknown)}")


def _compared(name: str, value: Any) -> Any:
    return [Path(d).resolve() for d in value] if name == "data" else value


def _shown(value: Any) -> str:
    if isinstance(value, list):
        return " ".join(map(str, value))
    if isinstance(value, bool):
        return str(value).lower()
    return "none" if value in (None, "") else str(value)
