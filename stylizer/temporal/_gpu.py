"""The flow smoother's warp and blend on a GPU (PyTorch), apart so that smoothing on the CPU
never imports it: the operations match OpenCV's that ``flow`` uses there."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def upsample(image: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """An HxWxC float tensor resized to ``height`` x ``width`` as ``cv2.resize`` with
    ``INTER_LINEAR`` enlarges (pixel centres aligned)."""
    nchw = image.permute(2, 0, 1)[None]
    out = F.interpolate(nchw, size=(height, width), mode="bilinear", align_corners=False)
    return out[0].permute(1, 2, 0)


def warp_tensor(image: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """``image`` (NCHW float, any device) sampled at the absolute coordinates ``coords``
    (H x W x 2, a ``sample_map``), bilinear with edges repeated, like ``warp``."""
    h, w = image.shape[-2:]
    scale = torch.tensor([2 / max(w - 1, 1), 2 / max(h - 1, 1)], device=coords.device)
    grid = (coords * scale - 1).expand(image.shape[0], h, w, 2)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def blend_on_device(
    device: torch.device | str,
    last: np.ndarray,
    previous: torch.Tensor | None,
    out: np.ndarray,
    coarse: np.ndarray,
    weight: np.ndarray,
) -> tuple[np.ndarray, torch.Tensor]:
    """The previous result (``previous`` on the device, else ``last`` sent up) moved along the
    analysis-size map ``coarse`` and blended into ``out`` by ``weight``: the result, and the
    same kept on the device for the next frame. Only the frame and the small map and weights
    go up: the full-size ones are made there."""

    def dev(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(a).to(device, non_blocking=True)

    h, w = out.shape[:2]
    if previous is None:
        previous = dev(last).permute(2, 0, 1)[None].float()
    moved = warp_tensor(previous, upsample(dev(coarse), h, w))
    wt = upsample(dev(weight.astype(np.float32))[..., None], h, w).permute(2, 0, 1)[None]
    fresh = dev(out).permute(2, 0, 1)[None].float()
    kept = torch.lerp(fresh, moved, wt).round_().clamp_(0, 255)
    return kept[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy(), kept
