"""How much a stylized video flickers: the warping error of Lai et al., "Learning Blind Video
Temporal Consistency" (ECCV 2018), with OpenCV DIS flow in place of their FlowNet2.

For each pair of consecutive frames t, t+1: the flow between the input frames in both
directions; a pixel of frame t is visible in t+1 unless the forward-backward test fails
(|F + B'|^2 > 0.01 (|F|^2 + |B'|^2) + 0.5, B' the backward flow sampled at x + F) or it lies on a
motion boundary (|grad F|^2 > 0.01 |F|^2 + 0.002), the thresholds of Lai et al. and Ruder et al.,
or it leaves the frame. The error is the mean squared difference, pixels in [0, 1], over visible
pixels (and colour channels) between output t and output t+1 warped back to t, averaged over the
pairs. Lower is steadier, but a blurred or frozen video is steady too, so the report also gives
the PSNR to a reference (the per-frame stylized video): faithfulness to what was asked for.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

import numpy as np

from .errors import StylizeError
from .optical_flow import dis_flow, inside, to_gray, warp
from .registry import lazy_module

av = lazy_module("av")  # PyAV: loaded on first use (only videos need it)


def visible_mask(forward: np.ndarray, backward: np.ndarray) -> np.ndarray:
    """Pixels of frame t that can be seen in frame t+1, from the flows t->t+1 and t+1->t."""
    back = warp(backward, forward)
    mismatch = np.sum((forward + back) ** 2, axis=2)
    scale = np.sum(forward**2, axis=2) + np.sum(back**2, axis=2)
    gy_u, gx_u = np.gradient(forward[..., 0])
    gy_v, gx_v = np.gradient(forward[..., 1])
    gradient = gx_u**2 + gy_u**2 + gx_v**2 + gy_v**2
    occluded = mismatch > 0.01 * scale + 0.5
    boundary = gradient > 0.01 * np.sum(forward**2, axis=2) + 0.002
    return ~occluded & ~boundary & inside(forward)


def pair_warping_error(
    in_a: np.ndarray, in_b: np.ndarray, out_a: np.ndarray, out_b: np.ndarray, preset: str
) -> float:
    """Warping error between two consecutive outputs, with flow from their inputs."""
    ga, gb = to_gray(in_a), to_gray(in_b)
    forward, backward = dis_flow(ga, gb, preset), dis_flow(gb, ga, preset)
    mask = visible_mask(forward, backward)
    if not mask.any():
        return 0.0
    a = out_a.astype(np.float32) / 255
    b = warp(out_b, forward).reshape(out_b.shape).astype(np.float32) / 255
    return float(((a - b) ** 2)[mask].mean())


@dataclass
class FlickerReport:
    frames: int
    warping_error: float
    psnr: float | None = None

    def line(self) -> str:
        text = f"{self.frames} frames: warping error {self.warping_error:.6f}"
        if self.psnr is not None:
            text += f", PSNR to reference {self.psnr:.2f} dB"
        return text


def measure_flicker(
    inputs: Iterable[np.ndarray],
    outputs: Iterable[np.ndarray],
    reference: Iterable[np.ndarray] | None = None,
    preset: str = "medium",
) -> FlickerReport:
    """Warping error of ``outputs`` (flow from ``inputs``), and their PSNR to ``reference``.

    All three are sequences of HxWxC uint8 frames of one size, read one at a time.
    """
    refs = iter(reference) if reference is not None else None
    errors: list[float] = []
    squared, count = 0.0, 0
    prev = None
    for inp, out in zip_longest(inputs, outputs):
        if inp is None or out is None:
            raise StylizeError(
                f"the output has {'fewer' if out is None else 'more'} frames "
                "than the input: not a stylized version of it"
            )
        if max(inp.shape[:2]) < 16:
            raise StylizeError("frames under 16 pixels are too small to measure flow on")
        if inp.shape[:2] != out.shape[:2]:
            raise StylizeError(
                f"frame {count + 1}: output {out.shape[1]}x{out.shape[0]} does not match "
                f"input {inp.shape[1]}x{inp.shape[0]}"
            )
        if refs is not None:
            ref = next(refs, None)
            if ref is None or ref.shape != out.shape:
                raise StylizeError(f"frame {count + 1}: the reference is shorter or another size")
            squared += float((((out.astype(np.float32) - ref) / 255) ** 2).mean())
        if prev is not None:
            errors.append(pair_warping_error(prev[0], inp, prev[1], out, preset))
        prev = (inp, out)
        count += 1
    if count < 2:
        raise StylizeError("the warping error needs at least two frames")
    psnr = None
    if refs is not None:
        mse = squared / count
        psnr = math.inf if mse == 0 else 10 * math.log10(1 / mse)
    return FlickerReport(count, float(np.mean(errors)), psnr)


def video_frames(path: Path) -> Iterator[np.ndarray]:
    """The RGB frames of a video file, one at a time."""
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError) as e:
        raise StylizeError(f"{path}: not a readable video ({e})") from None
    with container:
        if not container.streams.video:
            raise StylizeError(f"{path}: has no video stream")
        container.streams.video[0].thread_type = "AUTO"
        for frame in container.decode(video=0):
            yield frame.to_ndarray(format="rgb24")


def flicker_report(
    source: Path, output: Path, reference: Path | None = None, preset: str = "medium"
) -> FlickerReport:
    """``measure_flicker`` on video files: the source, its stylized version, and optionally the
    per-frame stylized version to compare against."""
    return measure_flicker(
        video_frames(source),
        video_frames(output),
        video_frames(reference) if reference else None,
        preset,
    )
