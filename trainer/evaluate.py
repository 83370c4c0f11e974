"""Score a run on folders it never trained on: the task's validation figures averaged over every
image, and a grid of before/after rows, so a generator is judged on held-out data, not on the
few validation images the loop watches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import DataLoader
from tqdm import tqdm

from stylizer.device import resolve_device
from stylizer.errors import StylizeError
from stylizer.images import is_image_path

from .report import write_grid
from .tasks.base import open_task


@dataclass
class Evaluation:
    step: int
    count: int
    size: int
    metrics: dict[str, float]


def evaluate_run(
    run_dir: str | Path,
    folders: list[str | Path],
    *,
    size: int = 256,
    batch_size: int = 8,
    grid: str | Path | None = None,
    grid_rows: int = 8,
    checkpoint: str | Path | None = None,
    device: str = "auto",
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> Evaluation:
    """Average the task's validation metrics over the images in ``folders`` at ``size`` px.

    ``folders`` are laid out as the task's ``evaluation`` says (mostly as for training).
    ``grid`` gets the first ``grid_rows`` rows (the task's preview rows). ``checkpoint``: a
    checkpoint file, else the latest.
    """
    if grid and not is_image_path(Path(grid)):
        raise StylizeError(f"{grid}: the grid is an image; name it .png or .jpg")
    roots = [Path(f) for f in folders]
    for root in roots:
        if not root.is_dir():
            raise StylizeError(f"{root}: no such folder")
    opened = open_task(Path(run_dir), resolve_device(device), str(checkpoint or "latest"))
    task, step = opened.task, opened.step
    task.s.check_side(size, "--size")
    data = task.evaluation_data(task.s, roots, size, log)

    sums: dict[str, float] = {}
    counts: dict[str, int] = {}  # a figure that some batches lack is averaged over the rest
    shown: list[torch.Tensor] = []
    loader = DataLoader(data, batch_size=batch_size)
    for batch in tqdm(loader, desc="evaluate", unit="batch", disable=not progress):
        metrics, images = task.evaluate(batch)
        n = len(batch["A"])
        for k, v in metrics.items():
            sums[k] = sums.get(k, 0.0) + v * n
            counts[k] = counts.get(k, 0) + n
        if len(shown) < grid_rows:
            shown.extend(images.cpu().split(len(task.preview_columns)))
    if grid:
        write_grid(Path(grid), torch.cat(shown[:grid_rows]), len(task.preview_columns), padding=2)
    return Evaluation(
        step=step,
        count=len(data),  # type: ignore[arg-type]  # our datasets have a length
        size=size,
        metrics={k: v / counts[k] for k, v in sums.items()},
    )
