"""What a run shows of itself, drawn from its log: preview grids with their index page, and the
loss curves (``losses.png``)."""

from __future__ import annotations

import html
from pathlib import Path

import cv2
import numpy as np
import torch
from torchvision.utils import make_grid

from stylizer.images import Picture, write_image

from .run import RunFolder


def write_grid(path: Path, images: torch.Tensor, columns: int, padding: int = 4) -> None:
    """Images in [-1, 1] as rows of ``columns`` (a task's preview row) on white, written
    atomically."""
    grid = make_grid(images.float().cpu().clamp(-1, 1), nrow=columns, padding=padding, pad_value=1)
    pixels = ((grid + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    write_image(path, Picture(pixels))


def save_preview(run: RunFolder, step: int, images: torch.Tensor, columns: tuple[str, ...]) -> None:
    """``previews/step_N.png``, rows of the images ``columns`` name, and the index page."""
    write_grid(run.previews / f"step_{step:08d}.png", images, len(columns))
    _write_index(run, columns)


def _write_index(run: RunFolder, columns: tuple[str, ...]) -> None:
    val = {r["step"]: r for r in run.records() if r.get("kind") == "val"}
    rows = []
    for png in sorted(run.previews.glob("step_*.png"), reverse=True):
        step = int(png.stem.split("_")[1])
        figures = ", ".join(
            f"{k} {v:.4g}" for k, v in val.get(step, {}).items() if k.startswith("val_")
        )
        rows.append(
            f"<h3>step {step} <small>{html.escape(figures)}</small></h3>"
            f'<img src="{png.name}" loading="lazy">'
        )
    title = html.escape(run.root.name)
    page = (
        f"<!doctype html><meta charset=utf-8><title>{title} previews</title>"
        "<style>body{font-family:sans-serif}img{max-width:100%}</style>"
        f"<h1>{title}</h1><p>Columns: {html.escape(' | '.join(columns))}. Newest first.</p>"
        "<img src='../losses.png'>" + "".join(rows)
    )
    (run.previews / "index.html").write_text(page)


def plot_losses(run: RunFolder) -> None:
    """``losses.png``: one small panel per logged series, drawn with OpenCV."""
    series: dict[str, list[tuple[int, float]]] = {}
    for r in run.records():
        for k, v in r.items():
            if k not in ("step", "kind", "epoch", "lr") and isinstance(v, int | float):
                series.setdefault(k, []).append((r["step"], float(v)))
    if not series:
        return
    pw, ph, cols = 320, 180, 3
    rows = -(-len(series) // cols)
    canvas = np.full((ph * rows, pw * cols, 3), 255, np.uint8)
    for i, (name, points) in enumerate(sorted(series.items())):
        _draw_panel(canvas, (i % cols) * pw, (i // cols) * ph, (pw, ph), name, points)
    write_image(run.root / "losses.png", Picture(canvas))


def _draw_panel(
    canvas: np.ndarray,
    ox: int,
    oy: int,
    size: tuple[int, int],
    name: str,
    points: list[tuple[int, float]],
) -> None:
    """One series' curve in the panel at (``ox``, ``oy``), labelled with its last and least."""
    pw, ph = size
    xs = np.array([p[0] for p in points], float)
    ys = np.array([p[1] for p in points], float)
    x0, x1 = xs.min(), max(xs.max(), xs.min() + 1)
    y0, y1 = ys.min(), max(ys.max(), ys.min() + 1e-9)
    px = ox + 10 + (xs - x0) / (x1 - x0) * (pw - 20)
    py = oy + ph - 15 - (ys - y0) / (y1 - y0) * (ph - 45)
    pts = np.stack([px, py], 1).round().astype(np.int32)
    cv2.rectangle(canvas, (ox + 2, oy + 2), (ox + pw - 2, oy + ph - 2), (200, 200, 200))
    cv2.polylines(canvas, [pts], False, (180, 80, 20), 1, cv2.LINE_AA)
    label = f"{name}  last {ys[-1]:.4g}  min {ys.min():.4g}"
    cv2.putText(canvas, label, (ox + 8, oy + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.42, (0, 0, 0), 1)
