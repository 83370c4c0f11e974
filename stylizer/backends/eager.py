"""The portable backend: the PyTorch module as it is, on any device."""

from __future__ import annotations

import torch

from .base import Backend
from .choice import register_backend


@register_backend
class EagerBackend(Backend):
    #: Last everywhere: it runs on every device, with nothing to prepare.
    auto_before = {"cuda": (), "cpu": ()}

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)
