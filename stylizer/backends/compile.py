"""``compile``: the generator through ``torch.compile`` (Inductor's fused kernels), with CUDA
graphs on a GPU (mode ``reduce-overhead``: no per-kernel launch cost; ``max-autotune`` tunes
convolutions too but compiles for minutes, so it is opt-in through ``STYLIZE_COMPILE_MODE``).

Shapes: a video has one frame size, so it compiles once. A folder of mixed sizes compiles a
second time on the second size, with dynamic height and width (PyTorch's automatic dynamic
shapes), and not again. A short last batch is filled up to the batch size seen for that frame
size (the extra frames are dropped; statistics are per image, so nothing else changes) rather
than compiling a graph for one more batch size.

Tiles run compiled too: the whole-image statistics that tiling fixes in the norm layers are
module attributes, which Dynamo takes as inputs of the graph, so a new image compiles nothing.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys

import torch

from .base import Backend
from .choice import register_backend


def compiler_for(device_type: str) -> tuple[str, ...]:
    """The compilers Inductor would use for its generated code, in its order: ``$CXX`` or g++
    (clang++ on macOS) for CPU kernels; ``$CC``, gcc or clang for Triton's GPU launchers."""
    if device_type == "cpu":
        return (os.environ.get("CXX") or ("clang++" if sys.platform == "darwin" else "g++"),)
    return (os.environ["CC"],) if os.environ.get("CC") else ("gcc", "clang")


@register_backend
class CompiledBackend(Backend):
    #: On a CPU, compile and ort run the vangogh preset at 720p about equally fast (2 Skylake
    #: cores in one run: eager 5.90 s a frame, compile 3.32, ort 3.46); ort prepares in a quarter
    #: of the time (13 s against 54), so it serves where there is no C++ compiler for compile.
    auto_before = {"cuda": ("eager",), "cpu": ("ort",)}

    @classmethod
    def unavailable(cls, device: torch.device) -> str | None:
        names = compiler_for(device.type)
        if any(shutil.which(n) for n in names):
            return None
        return f"torch.compile needs a compiler ({' or '.join(names)}) on PATH"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        default = "reduce-overhead" if self.device.type == "cuda" else "default"
        self.mode = os.environ.get("STYLIZE_COMPILE_MODE", default)
        if self.device.type == "cpu":
            # Inductor's C++ toolchain lookup warns that a CUDA toolkit without a GPU is unused.
            logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
        self.compiled = torch.compile(self.model, mode=self.mode)
        self.batch_for: dict[tuple[int, int], int] = {}

    def out_of_memory(self) -> None:
        self.batch_for.clear()  # or single frames would be filled up to the batch that failed

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        n, size = x.shape[0], (x.shape[-2], x.shape[-1])
        full = self.batch_for[size] = max(self.batch_for.get(size, 0), n)
        if n < full:
            x = torch.cat([x, x[-1:].expand(full - n, *x.shape[1:])])
        if self.mode == "reduce-overhead":
            torch.compiler.cudagraph_mark_step_begin()  # outputs of the last replay are done
        return self.compiled(x)[:n].clone()
