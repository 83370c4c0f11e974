"""What a run shows of itself, drawn from its log: preview grids with their index page, and the
loss curves (``losses.png``)."""

from __future__ import annotations

import html
from pathlib import Path

import cv2
import numpy as np
import torch
from torchvision.utils import make_grid

from stylizer.images import Picture, read_image, write_image
from stylizer.media.encode import write_frames

from .doctor import MEASURES
from .run import RunFolder


def write_grid(path: Path, images: torch.Tensor, columns: int, padding: int = 4) -> torch.Tensor:
    """Images in [-1, 1] as rows of ``columns`` (a task's preview row) on white, written
    atomically; the grid (CHW in [-1, 1])."""
    grid = make_grid(images.float().cpu().clamp(-1, 1), nrow=columns, padding=padding, pad_value=1)
    pixels = ((grid + 1) * 127.5).round().byte().permute(1, 2, 0).numpy()
    write_image(path, Picture(pixels))
    return grid


def save_preview(
    run: RunFolder, step: int, images: torch.Tensor, columns: tuple[str, ...], note: str = ""
) -> torch.Tensor:
    """``previews/step_N.png``, rows of the images ``columns`` name, and the index page (which
    says ``note`` of them); the grid."""
    grid = write_grid(run.previews / f"step_{step:08d}.png", images, len(columns))
    _write_index(run, columns, note)
    return grid


def _write_index(run: RunFolder, columns: tuple[str, ...], note: str) -> None:
    records = run.records()
    val = {r["step"]: r for r in records if r.get("kind") == "val"}
    doctor = [r for r in records if r.get("kind") == "doctor"]
    rows = []
    pngs = sorted(run.previews.glob("step_*.png"), reverse=True)
    steps = [int(png.stem.split("_")[1]) for png in pngs]
    for png, step, earlier in zip(pngs, steps, [*steps[1:], -1], strict=True):
        figures = ", ".join(
            f"{k} {v:.4g}" for k, v in val.get(step, {}).items() if k.startswith("val_")
        )
        said = "".join(
            f"<p class=doctor>step {r['step']}: {html.escape(r['message'])}</p>"
            for r in doctor
            if earlier < r["step"] <= step
        )
        rows.append(
            f"<h3>step {step} <small>{html.escape(figures)}</small></h3>{said}"
            f'<img src="{png.name}" loading="lazy">'
        )
    title = html.escape(run.root.name)
    page = (
        f"<!doctype html><meta charset=utf-8><title>{title} previews</title>"
        "<style>body{font-family:sans-serif}img{max-width:100%}.doctor{color:#a40}</style>"
        f"<h1>{title}</h1><p>Columns: {html.escape(' | '.join(dict.fromkeys(columns)))}. "
        f"{html.escape(note)} Newest first.</p>"
        "<img src='../losses.png'>" + "".join(rows)
    )
    (run.previews / "index.html").write_text(page)


#: What ``losses.png`` says on top, for reading the curves.
HEALTHY = (
    "Healthy: GAN losses wobble around a level without climbing; validation figures improve, "
    "then level off; a discriminator is right 60-90% of the time."
)
#: Panel size and the panels per row.
_PANEL, _COLUMNS = (360, 200), 3
_INK, _FAINT, _LINE = (0, 0, 0), (225, 195, 170), (170, 70, 10)


def plot_losses(run: RunFolder, best_by: tuple[str, str] | None = None) -> None:
    """``losses.png``: a panel per logged series with its step axis, the raw values faint and a
    smoothed line over them, its last value and its best (lowest for losses; for validation
    figures as ``best_by`` says, whose best step is marked on every panel)."""
    series: dict[str, list[tuple[int, float]]] = {}
    for r in run.records():
        if r.get("kind") not in ("train", "val"):
            continue
        for k, v in r.items():
            if k not in ("step", "kind", "epoch", "lr") and isinstance(v, int | float):
                series.setdefault(k, []).append((r["step"], float(v)))
    if not series:
        return
    best_step = None
    if best_by and best_by[0] in series:
        pick = min if best_by[1] == "lower" else max
        best_step = pick(series[best_by[0]], key=lambda p: p[1])[0]
    pw, ph = _PANEL
    rows = -(-len(series) // _COLUMNS)
    canvas = np.full((ph * rows + 30, pw * _COLUMNS, 3), 255, np.uint8)
    cv2.putText(canvas, HEALTHY, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.42, _INK, 1, cv2.LINE_AA)
    for i, (name, points) in enumerate(sorted(series.items())):
        higher: bool | None = False
        if best_by and name == best_by[0]:
            higher = best_by[1] == "higher"
        elif name.startswith("val_") or any(m in name for m in MEASURES):
            higher = None  # no better direction known
        origin = ((i % _COLUMNS) * pw, 30 + (i // _COLUMNS) * ph)
        _draw_panel(canvas, origin, name, points, higher, best_step)
    write_image(run.root / "losses.png", Picture(canvas))


def smoothed(values: np.ndarray, share: float = 0.05) -> np.ndarray:
    """An exponential moving average over about ``share`` of the points, for the trend."""
    alpha = 1 / max(1.0, share * len(values))
    out, level = np.empty_like(values), values[0]
    for i, v in enumerate(values):
        level += alpha * (v - level)
        out[i] = level
    return out


def _title(name: str, ys: np.ndarray, xs: np.ndarray, higher: bool | None) -> str:
    """The panel's title: what the series is, its last value and, where it has one, its best.
    ``higher``: whether higher is better (None: neither, a measure)."""
    if name == "steps_per_s":
        return f"speed, steps/s (not a loss): last {ys[-1]:.3g}"
    if higher is None:
        return f"{name} (a measure, not a loss): last {ys[-1]:.3g}"
    best = int(np.argmax(ys) if higher else np.argmin(ys))
    word = "best" if name.startswith("val_") else "lowest"
    return f"{name}: last {ys[-1]:.4g}, {word} {ys[best]:.4g} at step {int(xs[best])}"


def _draw_panel(
    canvas: np.ndarray,
    origin: tuple[int, int],
    name: str,
    points: list[tuple[int, float]],
    higher: bool | None,
    best_step: int | None,
) -> None:
    """One series in the panel at ``origin``: axes with step and value labels, the raw curve
    faint, the smoothed one dark, and the best checkpoint's step as a dashed green line."""
    (ox, oy), (pw, ph) = origin, _PANEL
    xs = np.array([p[0] for p in points], float)
    ys = np.array([p[1] for p in points], float)
    x0, x1 = xs.min(), max(xs.max(), xs.min() + 1)
    y0, y1 = ys.min(), max(ys.max(), ys.min() + 1e-9)
    left, right, top, bottom = ox + 48, ox + pw - 12, oy + 28, oy + ph - 24

    def at(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        px = left + (x - x0) / (x1 - x0) * (right - left)
        py = bottom - (y - y0) / (y1 - y0) * (bottom - top)
        return np.stack([px, py], 1).round().astype(np.int32)

    font, small = cv2.FONT_HERSHEY_SIMPLEX, 0.36
    cv2.putText(canvas, _title(name, ys, xs, higher), (ox + 6, oy + 16), font, 0.4, _INK, 1, cv2.LINE_AA)  # fmt: skip
    cv2.line(canvas, (left, bottom), (right, bottom), _INK)
    cv2.line(canvas, (left, top), (left, bottom), _INK)
    for frac in (0.0, 0.5, 1.0):
        step = x0 + frac * (x1 - x0)
        x = int(left + frac * (right - left))
        cv2.line(canvas, (x, bottom), (x, bottom + 3), _INK)
        cv2.putText(canvas, f"{step:.0f}", (x - 12, bottom + 15), font, small, _INK, 1, cv2.LINE_AA)  # fmt: skip
    for value, y in ((y1, top), (y0, bottom)):
        cv2.putText(canvas, f"{value:.3g}", (ox + 4, y + 4), font, small, _INK, 1, cv2.LINE_AA)
    if best_step is not None and x0 <= best_step <= x1:
        bx = int(at(np.array([best_step]), np.array([y0]))[0, 0])
        for y in range(top, bottom, 6):
            cv2.line(canvas, (bx, y), (bx, y + 3), (40, 150, 40))
    cv2.polylines(canvas, [at(xs, ys)], False, _FAINT, 1, cv2.LINE_AA)
    cv2.polylines(canvas, [at(xs, smoothed(ys))], False, _LINE, 1, cv2.LINE_AA)
    quarter = left + (right - left) // 4 - 12
    cv2.putText(canvas, "step", (quarter, bottom + 15), font, small, _INK, 1, cv2.LINE_AA)


#: Frames per second of a run's timelapse: each preview shown a quarter of a second.
TIMELAPSE_FPS = 4


def write_timelapse(run: RunFolder) -> Path | None:
    """``timelapse.mp4``: the run's previews in order, one after another (for a generator from
    noise, the same samples getting better); None when there are fewer than two."""
    pngs = sorted(run.previews.glob("step_*.png"))
    if len(pngs) < 2:
        return None
    frames = (read_image(p).color for p in pngs)
    target = run.root / "timelapse.mp4"
    write_frames(target, frames, TIMELAPSE_FPS, overwrite=True)  # this tool's own file
    return target
