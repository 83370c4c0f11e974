"""``stylize --demo``: inputs made on the spot, so a first run needs no photos and no files
beside the checkout. A landscape (sky, sun, mountain ranges, a lake that mirrors them, a meadow)
is drawn from a seed, in two lights, plus a two-second clip panning across it. Drawn by this
code, so free of any licence."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .controls import scaled
from .files import atomic_output
from .images import Picture, write_image
from .registry import lazy_module

av = lazy_module("av")  # PyAV: loaded on first use (only videos need it)

#: Width and height of the demo pictures; the clip is a window of half the width.
SIZE = (768, 512)


def _ridge(rng: np.random.Generator, width: int, base: float, roughness: float) -> np.ndarray:
    """A mountain skyline: heights (pixels from the top) along ``width``, by midpoint
    displacement."""
    points = np.array([base, base])
    spread = roughness
    while len(points) < width:
        middle = (points[:-1] + points[1:]) / 2 + rng.normal(0, spread, len(points) - 1)
        out = np.empty(len(points) * 2 - 1)
        out[0::2], out[1::2] = points, middle
        points, spread = out, spread * 0.55
    return np.interp(np.linspace(0, len(points) - 1, width), np.arange(len(points)), points)


def landscape(seed: int = 0, evening: bool = False) -> np.ndarray:
    """An RGB uint8 landscape of ``SIZE``: by day, or in evening light."""
    w, h = SIZE
    rng = np.random.default_rng(seed)
    horizon = int(h * 0.62)
    y = np.linspace(0, 1, horizon)[:, None, None]
    top, low = ((40, 30, 90), (250, 150, 70)) if evening else ((60, 120, 200), (190, 220, 240))
    image = np.zeros((h, w, 3), np.float32)
    image[:horizon] = np.array(top) * (1 - y) + np.array(low) * y
    sun = (int(w * 0.7), int(horizon * (0.45 if evening else 0.3)))
    cv2.circle(image, sun, 34, (255, 200, 120) if evening else (255, 250, 220), -1, cv2.LINE_AA)
    for depth, (shade, base) in enumerate([(-0.4, 0.45), (0.1, 0.62), (0.45, 0.8)]):  # far: pale
        skyline = _ridge(rng, w, horizon * base, horizon * 0.35)
        colour = np.array((90, 70, 110) if evening else (70, 100, 90)) * (1 - shade) + 30
        for x in range(w):
            image[int(skyline[x]) : horizon, x] = colour + depth * 8
    # the lake mirrors the sky and the mountains, darker and rippled
    lake = image[horizon - (h - horizon) : horizon][::-1] * 0.75
    ripple = (np.sin(np.arange(h - horizon) * 0.9)[:, None] * 3).astype(int)
    for row in range(h - horizon):
        image[horizon + row] = np.roll(lake[row], ripple[row, 0], axis=0)
    meadow = int(h * 0.86)
    image[meadow:] = (60, 120, 50) if not evening else (70, 80, 40)
    image[meadow:] += rng.normal(0, 12, (h - meadow, w, 1))
    image += rng.normal(0, 3, image.shape)  # film grain: paintings are not flat
    return np.clip(image, 0, 255).astype(np.uint8)


def write_demo(folder: Path, seconds: float = 2.0, fps: int = 24) -> list[Path]:
    """Write the demo inputs into ``folder``: two landscapes and a clip panning across the
    first (H.264 MP4). Returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    day, evening = landscape(0), landscape(0, evening=True)
    paths = [folder / "landscape-day.png", folder / "landscape-evening.png"]
    for path, image in zip(paths, (day, evening)):
        write_image(path, Picture(image))
    clip = folder / "pan.mp4"
    w, h = SIZE
    frames = int(seconds * fps)
    with atomic_output(clip) as tmp, av.open(str(tmp), "w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = w // 2, h // 2, "yuv420p"
        for t in range(frames):
            left = int((w // 2) * t / max(1, frames - 1))
            window = scaled(day[:, left : left + w // 2], w // 2, h // 2).astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(window, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return [*paths, clip]
