"""What a generator is, without PyTorch: the spec a manifest or state dict gives, and the norm
names, so that reading a preset imports nothing heavy (``stylizer.models`` builds them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

#: The normalisation layers a generator may use (``models.norms`` makes them).
NORMS = ("instance", "batch", "none")


@dataclass(frozen=True)
class GeneratorSpec:
    """Everything needed to rebuild a generator; detected from a state dict or read from a manifest.

    ``depth`` is the number of residual blocks for the ResNets and of down-samplings for ``unet``.
    """

    arch: str
    depth: int
    ngf: int = 64
    in_channels: int = 3
    out_channels: int = 3
    norm: str = "instance"
    dropout: bool = False

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> GeneratorSpec:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def describe(self) -> str:
        """One line for listings, as the architecture puts it (imports PyTorch)."""
        from . import GENERATORS  # the package discovers every architecture

        return GENERATORS.get_class(self.arch).describe(self)
