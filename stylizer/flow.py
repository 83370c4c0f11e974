"""Optical flow helpers shared by temporal smoothing and the flicker metric (OpenCV DIS).

A flow field ``F`` from frame ``a`` to frame ``b`` is HxWx2 float32 in pixels, with
``a(x) ~ b(x + F(x))``: ``warp(b, F)`` brings ``b`` onto ``a``'s pixel grid.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np
import torch
import torch.nn.functional as F

#: DIS presets by name, fastest first.
DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}
_local = threading.local()


def to_gray(frame: np.ndarray, scale: float = 1.0) -> np.ndarray:
    """An 8-bit grey version of an RGB (or grey) frame, scaled by ``scale``."""
    if frame.ndim == 3 and frame.shape[2] == 3:
        frame = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    elif frame.ndim == 3:
        frame = frame[:, :, 0]
    if frame.dtype != np.uint8:
        frame = (frame >> 8).astype(np.uint8)
    if scale != 1.0:
        h, w = frame.shape
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(frame)


def dis_flow(a: np.ndarray, b: np.ndarray, preset: str = "fast") -> np.ndarray:
    """Flow from grey frame ``a`` to grey frame ``b`` (one DIS instance per thread and preset)."""
    cache = _local.__dict__.setdefault("dis", {})
    if preset not in cache:
        cache[preset] = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
    return cache[preset].calc(a, b, None)


def resize_flow(flow: np.ndarray, width: int, height: int) -> np.ndarray:
    """A flow field at another resolution, its vectors scaled to match."""
    h, w = flow.shape[:2]
    if (w, h) == (width, height):
        return flow
    big = cv2.resize(flow, (width, height), interpolation=cv2.INTER_LINEAR)
    big[..., 0] *= width / w
    big[..., 1] *= height / h
    return big


def sample_maps(flow: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Absolute sampling coordinates ``x + F(x)`` for ``cv2.remap``."""
    h, w = flow.shape[:2]
    xs = np.arange(w, dtype=np.float32)[None, :] + flow[..., 0]
    ys = np.arange(h, dtype=np.float32)[:, None] + flow[..., 1]
    return xs, ys


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``x + F(x)`` (bilinear, edges repeated)."""
    xs, ys = sample_maps(flow)
    return cv2.remap(image, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def inside(flow: np.ndarray) -> np.ndarray:
    """Where ``x + F(x)`` lands inside the frame (elsewhere nothing can be seen)."""
    h, w = flow.shape[:2]
    xs, ys = sample_maps(flow)
    return (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)


def warp_tensor(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``warp`` for NCHW float tensors on any device; ``flow`` is N x H x W x 2 in pixels."""
    n, _, h, w = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, device=image.device, dtype=image.dtype),
        torch.arange(w, device=image.device, dtype=image.dtype),
        indexing="ij",
    )
    gx = (xs + flow[..., 0]) * (2 / max(w - 1, 1)) - 1
    gy = (ys + flow[..., 1]) * (2 / max(h - 1, 1)) - 1
    grid = torch.stack([gx, gy], dim=-1).expand(n, h, w, 2)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)
