"""Where and in what precision a model runs, and the padding a generator's input needs: what
inference and training both resolve the same way (the trainer imports this, not the backends)."""

from __future__ import annotations

import glob
import os
import sys
from typing import TYPE_CHECKING

from .errors import StylizeError

if TYPE_CHECKING:
    import torch

#: Numeric precisions by name (their PyTorch types: ``torch_dtype``); ``auto`` is resolved per
#: device by ``resolve_precision``. Names only, so that the command line needs no PyTorch.
PRECISIONS = ("fp32", "fp16", "bf16")


def torch_dtype(precision: str) -> torch.dtype:
    """The PyTorch type of a name from ``PRECISIONS``."""
    import torch

    return {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]


def surely_cpu(name: str = "auto") -> bool:
    """Whether the device ``name`` means the CPU here, told without importing PyTorch (which
    takes a second): ``cpu``, or ``auto`` on a Linux machine that shows no NVIDIA GPU (no
    ``/dev/nvidia0``...) or hides them all (``CUDA_VISIBLE_DEVICES`` empty). False when only
    PyTorch can tell."""
    if name == "cpu":
        return True
    if name != "auto" or not sys.platform.startswith("linux"):
        return False
    hidden = os.environ.get("CUDA_VISIBLE_DEVICES", "unset").strip() in ("", "-1")
    return hidden or not glob.glob("/dev/nvidia[0-9]*")


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks the first CUDA device when there is one, else the CPU."""
    import torch

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
    as fast as fp32 and stays faithful (53 dB PSNR to fp32 on real video frames, measured).
    Linux's CPU flags tell without PyTorch; elsewhere PyTorch asks the CPU."""
    if os.path.exists("/proc/cpuinfo"):
        with open("/proc/cpuinfo") as info:
            flags = next((line.split() for line in info if line.startswith("flags")), [])
        return "avx512_bf16" in flags or "amx_bf16" in flags
    import torch

    return torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()


def resolve_precision(name: str, device: torch.device) -> torch.dtype:
    """``auto`` is fp16 on a GPU, bf16 on a CPU that has it natively, else fp32; a name from
    ``PRECISIONS`` is taken as is."""
    import torch

    if name == "auto":
        if device.type == "cuda":
            return torch.float16
        return torch.bfloat16 if cpu_has_fast_bf16() else torch.float32
    if name not in PRECISIONS:
        raise StylizeError(f"unknown precision {name!r}: use auto, {', '.join(PRECISIONS)}")
    return torch_dtype(name)


def default_memory_budget(device: torch.device) -> int:
    """Bytes of activations to allow: 60 % of free GPU memory, or a quarter of RAM on the CPU."""
    if device.type == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        return int(free * 0.6)
    return cpu_memory_budget()


def cpu_memory_budget() -> int:
    """Bytes of activations to allow on the CPU: a quarter of RAM."""
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 4


#: On a CPU, batching gains nothing beyond about this many pixels and then costs: the vangogh
#: preset in bf16 on 2 cores ran 76 / 71 / 77 ms per 256x256 frame in batches of 1 / 2 / 4, and
#: 1.20 against 1.63 s per 1280x720 frame in batches of 1 and 4 (fp32: 2.55 against 3.86 s).
CPU_BATCH_PIXELS = 2 * 256 * 256


def frames_per_batch(
    padded_pixels: int, bytes_per_pixel: int, budget: int, on_cpu: bool, limit: int
) -> int:
    """How many frames of ``padded_pixels`` fit a memory ``budget`` together (at least 1, at
    most ``limit``); on a CPU no more than ``CPU_BATCH_PIXELS`` worth, past which batching only
    overflows the caches. Every backend sizes its batches so."""
    fits = budget // (padded_pixels * bytes_per_pixel)
    if on_cpu:
        fits = min(fits, CPU_BATCH_PIXELS // padded_pixels)
    return max(1, min(limit, fits))


def padded_side(side: int, multiple: int, minimum: int = 0) -> int:
    """``side`` rounded up to ``multiple``, and to at least ``minimum``."""
    return max(-(-side // multiple) * multiple, -(-minimum // multiple) * multiple)


def padding(
    height: int, width: int, multiple: int, minimum: int = 0
) -> tuple[tuple[int, int, int, int], str]:
    """The padding (top, bottom, left, right) that brings a frame up to ``multiple`` and to at
    least ``minimum`` on each side, centred, and how: ``reflect`` where the frame is large
    enough, else ``replicate`` (its edge repeated). Every backend pads this way."""
    ph = padded_side(height, multiple, minimum) - height
    pw = padded_side(width, multiple, minimum) - width
    top, left = ph // 2, pw // 2
    mode = "reflect" if ph < height and pw < width else "replicate"
    return (top, ph - top, left, pw - left), mode


def pad_to_multiple(
    x: torch.Tensor, multiple: int, minimum: int = 0
) -> tuple[torch.Tensor, tuple[int, int]]:
    """``x`` (N x C x H x W) padded as ``padding`` says, and the offsets to crop back."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    (top, bottom, left, right), mode = padding(h, w, multiple, minimum)
    if not (top or bottom or left or right):
        return x, (0, 0)
    return F.pad(x, (left, right, top, bottom), mode=mode), (top, left)
