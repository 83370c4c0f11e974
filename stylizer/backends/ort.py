"""``ort``: the generator as an ONNX graph in ONNX Runtime, on the CPU.

For weights without a graph of their own (a preset's runs without PyTorch: ``stylizer.graph``),
the graph (``stylizer.onnx``, dynamic batch, height and width) is exported once per set of
weights and cached in ``cache_dir(kind="onnx")``, keyed by the weights' digest and the versions
of PyTorch, ONNX Runtime and the opset, so a second run starts at once. It runs in float32 (ONNX
Runtime's CPU kernels are fastest there) with as many threads as PyTorch uses.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import torch

from ..graph import onnxruntime_problem, open_session
from ..onnx import OPSET, export_onnx, exporter_problem
from ..styles.weights import weights_digest
from .base import Backend
from .cache import cache_dir, read_cached
from .choice import register_backend


@register_backend
class OnnxRuntimeBackend(Backend):
    @classmethod
    def unavailable(cls, device: torch.device) -> str | None:
        if device.type != "cpu":
            return "the ort backend runs on the CPU"
        return onnxruntime_problem() or exporter_problem()

    #: ONNX Runtime's CPU kernels are float32 ones, and the weights must not pass through another
    #: precision on the way (auto is bf16 on some CPUs, which would round them: 1.7 grey levels
    #: off eager fp32 on random weights, measured).
    fixed_precision = "fp32"
    #: On a CPU, after compile (see there) and before eager.
    auto_before = {"cpu": ("eager",)}
    #: The graph normalises each tile by its own statistics, not by the whole image's.
    infers_tiles = False
    session: Any = None

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.contiguous_format  # ONNX Runtime takes NCHW: no channels-last round trip

    @functools.cached_property
    def cache_path(self) -> Path:
        import onnxruntime

        key = weights_digest(self.model)[:24]
        versions = f"torch{torch.__version__}-ort{onnxruntime.__version__}-opset{OPSET}"
        return cache_dir(kind="onnx") / f"{key}-{versions.replace('+', '_')}.onnx"

    def _load_or_build(self) -> Any:
        path = self.cache_path
        session = read_cached(path, self._open, "ONNX graph", self.notice)
        if session is not None:
            return session
        self.notice(f"exporting the model to ONNX (once; cached in {path.parent})")
        with torch.inference_mode(False):
            export_onnx(self.model, path, whole_images=False)
        return self._open(path)

    @staticmethod
    def _open(path: Path) -> Any:
        return open_session(path, torch.get_num_threads())

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        if self.session is None:
            self.session = self._load_or_build()
        y = self.session.run(None, {"x": x.contiguous().numpy()})[0]
        return torch.from_numpy(y)
