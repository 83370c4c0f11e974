"""Where and in what precision a model runs, and the padding a generator's input needs: what
inference and training both resolve the same way (the trainer imports this, not the backends)."""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F

from .errors import StylizeError

#: Numeric precisions by name; ``auto`` is resolved per device by ``resolve_precision``.
PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks the first CUDA device when there is one, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise StylizeError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise StylizeError(f"device {name!r} asked for, but no CUDA GPU is available")
        if (device.index or 0) >= torch.cuda.device_count():
            raise StylizeError(f"device {name!r}: only {torch.cuda.device_count()} GPU(s) here")
    elif device.type != "cpu":
        raise StylizeError(f"unsupported device {name!r}: use auto, cpu, cuda or cuda:N")
    return device


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bf16 natively (AVX512-BF16 or AMX), where bf16 is about twice
    as fast as fp32 and stays faithful (53 dB PSNR to fp32 on real video frames, measured)."""
    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """``auto`` is fp16 on a GPU, bf16 on a CPU that has it natively, else fp32; a name from
    ``PRECISIONS`` is taken as is."""
    if name == "auto":
        if device.type == "cuda":
            return torch.float16
        return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
    try:
        return PRECISIONS[name]
    except KeyError:
        raise StylizeError(
            f"unknown precision {name!r}: use auto, {', '.join(PRECISIONS)}"
        ) from None


def default_memory_budget(device: torch.device) -> int:
    """Bytes of activations to allow: 60 % of free GPU memory, or a quarter of RAM on the CPU."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * 0.6)
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4


def padded_side(side: int, multiple: int, minimum: int = 0) -> int:
    """``side`` rounded up to ``multiple``, and to at least ``minimum``."""
    return max(-(-side // multiple) * multiple, -(-minimum // multiple) * multiple)


def pad_to_multiple(
    x: torch.Tensor, multiple: int, minimum: int = 0
) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad H and W up to ``multiple`` and to at least ``minimum`` (centred; reflecting where the
    image is large enough, else repeating its edge); return the offsets to crop back."""
    h, w = x.shape[-2:]
    ph, pw = padded_side(h, multiple, minimum) - h, padded_side(w, multiple, minimum) - w
    if not ph and not pw:
        return x, (0, 0)
    top, left = ph // 2, pw // 2
    pads = (left, pw - left, top, ph - top)
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, pads, mode=mode), (top, left)
