"""``compile``: the generator through ``torch.compile`` (Inductor's fused kernels), with CUDA
graphs on a GPU (mode ``reduce-overhead``: no per-kernel launch cost; ``max-autotune`` tunes
convolutions too but compiles for minutes, so it is opt-in through ``STYLIZE_COMPILE_MODE``).

Shapes: a video has one frame size, so it compiles once. A folder of mixed sizes compiles a
second time on the second size, with dynamic height and width (PyTorch's automatic dynamic
shapes), and not again. A short last batch is filled up to the batch size seen for that frame
size (the extra frames are dropped; statistics are per image, so nothing else changes) rather
than compiling a graph for one more batch size.
"""

from __future__ import annotations

import os

import torch

from .base import Engine
from .registry import register_engine


@register_engine("compile")
class CompiledEngine(Engine):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        default = "reduce-overhead" if self.device.type == "cuda" else "default"
        self.mode = os.environ.get("STYLIZE_COMPILE_MODE", default)
        self.compiled = torch.compile(self.model, mode=self.mode)
        self.batch_for: dict[tuple[int, int], int] = {}

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        n, size = x.shape[0], tuple(x.shape[-2:])
        full = self.batch_for[size] = max(self.batch_for.get(size, 0), n)
        if n < full:
            x = torch.cat([x, x[-1:].expand(full - n, *x.shape[1:])])
        if self.mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()  # outputs of the last replay are done
        return self.compiled(x)[:n].clone()
