"""``tensorrt``: the generator compiled by Torch-TensorRT (dynamo path) into TensorRT engines.

Each engine serves a range of input shapes (a profile, see ``shape_profile``), so a video builds
one engine and a folder of similar photos builds one or two. Building takes a minute or more;
built engines are saved under ``cache_dir()`` keyed by everything that makes them valid
(``cache_key``), so the next run on the same machine starts at once.

Precision: since Torch-TensorRT 2.13 the dynamo path builds strongly typed networks and ignores
``enabled_precisions``; the engine computes in the dtype of the traced graph. The base class has
already cast the model to ``self.dtype`` (fp16 on a GPU by default) and the graph is traced with
an input of that dtype, so the engine runs in fp16 with fp16 input and output.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..files import atomic_output
from ..styles.weights import weights_digest
from .base import Backend
from .cache import cache_dir, read_cached
from .choice import register_backend

Shape = tuple[int, int, int, int]


@dataclass(frozen=True)
class Profile:
    """The NCHW input shapes one engine accepts (``min_shape`` to ``max_shape``), tuned for
    ``opt_shape``."""

    min_shape: Shape
    opt_shape: Shape
    max_shape: Shape

    def contains(self, shape: Sequence[int]) -> bool:
        """Whether an engine built for this profile accepts an input of ``shape``."""
        return all(lo <= s <= hi for lo, s, hi in zip(self.min_shape, shape, self.max_shape))


def shape_profile(shape: Sequence[int], multiple: int) -> Profile:
    """The profile built for a first batch of ``shape`` (N, C, H, W, sides multiples of
    ``multiple``).

    Batch 1 to N: the batch size is chosen once per frame size, so later batches are that size
    or a shorter last one. Each side from about half its size (never below two multiples, a
    size every generator here accepts) up to 1.5 times it, rounded outwards to ``multiple``: so
    photos of similar sizes share an engine, while the engine's memory, which TensorRT sizes for
    the largest shape, stays within about 2.25 times that of the given batch.
    """
    n, c, h, w = shape

    def side(s: int) -> tuple[int, int]:
        low = min(s, max(2 * multiple, s // 2 // multiple * multiple))
        high = -(-3 * s // (2 * multiple)) * multiple
        return low, high

    (h0, h1), (w0, w1) = side(h), side(w)
    return Profile((1, c, h0, w0), (n, c, h, w), (n, c, h1, w1))


def dynamic_shapes(profile: Profile, multiple: int) -> tuple[dict[int, Any]]:
    """``torch.export`` dimensions for ``profile``: height and width as multiples of
    ``multiple``, which generators need (a U-Net concatenates skips of matching size)."""
    dims: dict[int, Any] = {}
    if profile.max_shape[0] > profile.min_shape[0]:
        dims[0] = torch.export.Dim("batch", min=profile.min_shape[0], max=profile.max_shape[0])
    for axis, name in ((2, "height"), (3, "width")):
        steps = torch.export.Dim(
            f"{name}_steps",
            min=profile.min_shape[axis] // multiple,
            max=profile.max_shape[axis] // multiple,
        )
        dims[axis] = multiple * steps
    return (dims,)


def export_program(
    model: nn.Module, profile: Profile, multiple: int
) -> torch.export.ExportedProgram:
    """The model traced by ``torch.export`` for every shape of ``profile``, in the model's dtype
    and on its device; what Torch-TensorRT compiles."""
    with torch.no_grad():
        return torch.export.export(
            model,
            (example_input(model, profile),),
            dynamic_shapes=dynamic_shapes(profile, multiple),
        )


def example_input(model: nn.Module, profile: Profile) -> torch.Tensor:
    """A tracing input of the largest shape: no side is one step, which export would make
    static."""
    weight = next(model.parameters())
    return torch.zeros(profile.max_shape, dtype=weight.dtype, device=weight.device)


def cache_key(
    weights: str, profile: Profile, dtype: torch.dtype, gpu: str, versions: Sequence[str]
) -> str:
    """The name of a cached engine: it is valid only for these weights, shapes and dtype, on this
    GPU model, with these versions of PyTorch, TensorRT and Torch-TensorRT."""
    fields = [weights, profile.min_shape, profile.opt_shape, profile.max_shape, str(dtype), gpu]
    text = json.dumps([*fields, list(versions)])
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _load_trt(path: Path) -> nn.Module:
    import torch_tensorrt

    # On a bad file torch_tensorrt.load prints the first attempt's traceback before trying
    # TorchScript and raising; ``read_cached`` reports it in one line instead.
    with contextlib.redirect_stderr(io.StringIO()):
        return torch_tensorrt.load(str(path)).module()


def _versions() -> tuple[str, str, str]:
    import tensorrt
    import torch_tensorrt

    return torch.__version__, tensorrt.__version__, torch_tensorrt.__version__


@register_backend
class TensorRTBackend(Backend):
    #: First on a GPU: the fastest there, once its engine is built.
    auto_before = {"cuda": ("compile",)}
    #: The engines normalise each tile by its own statistics, not by the whole image's.
    infers_tiles = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.compiled: dict[Profile, nn.Module] = {}

    @classmethod
    def unavailable(cls, device: torch.device) -> str | None:
        if device.type != "cuda" or not torch.cuda.is_available():
            return "TensorRT needs a CUDA GPU"
        try:
            import torch_tensorrt  # noqa: F401
        except ImportError:
            return "torch_tensorrt is not installed: pip install stylize[tensorrt]"
        except Exception as e:  # installed but broken, e.g. built for another torch or CUDA
            return f"torch_tensorrt does not load ({type(e).__name__}: {e})"
        return None

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.contiguous_format  # engines take NCHW: no channels-last round trip

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        module = next((m for p, m in self.compiled.items() if p.contains(x.shape)), None)
        if module is None:
            profile = shape_profile(x.shape, self.model.size_multiple)
            module = self.compiled[profile] = self._load_or_build(profile)
        return module(x)

    @functools.cached_property
    def weights_hash(self) -> str:
        """``weights_digest`` of the model, computed once."""
        return weights_digest(self.model)

    def cache_path(self, profile: Profile) -> Path:
        """Where the engine for ``profile`` is cached."""
        gpu = torch.cuda.get_device_name(self.device)
        key = cache_key(self.weights_hash, profile, self.dtype, gpu, _versions())
        return cache_dir() / f"{key}.pt2"

    def _load_or_build(self, profile: Profile) -> nn.Module:
        path = self.cache_path(profile)
        # The PT2 stack under Torch-TensorRT has failed on inference tensors and in inference
        # mode before (pytorch/pytorch#93042), and ``_run`` calls ``infer`` in inference mode.
        with torch.inference_mode(False), torch.no_grad():
            module = read_cached(path, _load_trt, "TensorRT engine", self.notice)
            if module is not None:
                return module
            (n0, _, h0, w0), (n1, _, h1, w1) = profile.min_shape, profile.max_shape
            self.notice(
                f"building a TensorRT engine for batch {n0}-{n1}, {w0}-{w1} x {h0}-{h1} px "
                f"(once; cached in {path.parent})"
            )
            module = self._build(profile)
            try:
                with atomic_output(path) as tmp:  # another run reads it whole or not at all
                    self._save(module, profile, str(tmp))
            except Exception as e:  # the engine works; only the next run will build it again
                self.notice(f"could not cache the TensorRT engine ({type(e).__name__}: {e})")
        return module

    def _build(self, profile: Profile) -> nn.Module:
        import torch_tensorrt

        spec = torch_tensorrt.Input(
            min_shape=profile.min_shape,
            opt_shape=profile.opt_shape,
            max_shape=profile.max_shape,
            dtype=self.dtype,
        )
        program = export_program(self.model, profile, self.model.size_multiple)
        return torch_tensorrt.dynamo.compile(program, arg_inputs=[spec], device=self.device)

    def _save(self, module: nn.Module, profile: Profile, path: str) -> None:
        import torch_tensorrt

        torch_tensorrt.save(
            module,
            path,
            output_format="exported_program",
            arg_inputs=[example_input(self.model, profile)],
            dynamic_shapes=dynamic_shapes(profile, self.model.size_multiple),
            retrace=True,
        )
