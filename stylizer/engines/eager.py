"""The portable backend: the PyTorch module as it is, on any device."""

from __future__ import annotations

import torch

from .base import Engine
from .registry import register_engine


@register_engine("eager")
class EagerEngine(Engine):
    #: Last everywhere: it runs on every device, with nothing to prepare.
    auto_before = {"cuda": (), "cpu": ()}

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
