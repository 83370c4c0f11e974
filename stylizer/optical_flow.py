"""Optical flow helpers shared by temporal smoothing and the flicker metric (OpenCV DIS).

A flow field ``F`` from frame ``a`` to frame ``b`` is HxWx2 float32 in pixels, with
``a(x) ~ b(x + F(x))``: ``warp(b, F)`` brings ``b`` onto ``a``'s pixel grid.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from .images import to_8bit

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
    frame = to_8bit(frame)
    if scale != 1.0:
        h, w = frame.shape
        size = (max(8, round(w * scale)), max(8, round(h * scale)))
        frame = cv2.resize(frame, size, interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(frame)


def dis_flow(a: np.ndarray, b: np.ndarray, preset: str = "fast") -> np.ndarray:
    """Flow from grey frame ``a`` to grey frame ``b`` (one DIS instance per thread and preset)."""
    cache = _local.__dict__.setdefault("dis", {})
    if preset not in cache:
        cache[preset] = cv2.DISOpticalFlow.create(DIS_PRESETS[preset])
    return cache[preset].calc(a, b, None)


def sample_map(flow: np.ndarray, width: int | None = None, height: int | None = None) -> np.ndarray:
    """Absolute sampling coordinates ``x + F(x)`` as an HxWx2 map for ``cv2.remap``, at the
    flow's resolution or at ``width`` x ``height`` (vectors scaled to match).

    The map is built at the flow's resolution and resized once (``coarse_map``): resizing is
    linear, so the identity part of the map stays exact (but within half a flow pixel of the
    border).
    """
    m = coarse_map(flow, width, height)
    h, w = flow.shape[:2]
    if (width or w, height or h) == (w, h):
        return m
    return cv2.resize(m, (width or w, height or h), interpolation=cv2.INTER_LINEAR)


def coarse_map(flow: np.ndarray, width: int | None = None, height: int | None = None) -> np.ndarray:
    """``sample_map`` at the flow's resolution, in the coordinates of a ``width`` x ``height``
    image: resized linearly (``cv2.resize``, or ``temporal._gpu.upsample``), it is the full map."""
    h, w = flow.shape[:2]
    sx, sy = (width or w) / w, (height or h) / h
    m = flow * np.array([sx, sy], np.float32)
    m[..., 0] += (np.arange(w, dtype=np.float32) + 0.5) * sx - 0.5
    m[..., 1] += ((np.arange(h, dtype=np.float32) + 0.5) * sy - 0.5)[:, None]
    return m


def warp(image: np.ndarray, flow: np.ndarray) -> np.ndarray:
    """``image`` sampled at ``x + F(x)`` (bilinear, edges repeated); ``flow`` may be smaller
    than ``image``."""
    h, w = image.shape[:2]
    m = sample_map(flow, w, h)
    out = cv2.remap(image, m, None, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return out.reshape(image.shape)


def inside(flow: np.ndarray) -> np.ndarray:
    """Where ``x + F(x)`` lands inside the frame (elsewhere nothing can be seen)."""
    h, w = flow.shape[:2]
    m = sample_map(flow)
    return (m[..., 0] >= 0) & (m[..., 0] <= w - 1) & (m[..., 1] >= 0) & (m[..., 1] <= h - 1)
