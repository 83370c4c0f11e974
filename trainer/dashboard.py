"""TensorBoard events for a run (``--tensorboard``): the losses, the doctor's measurements and
validation figures as scalars, each preview grid as an image and the doctor's lines as text, in
the run folder, so ``tensorboard --logdir runs/`` shows every run side by side. The run's
``log.jsonl``, index page and ``losses.png`` are written all the same."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from stylizer.errors import StylizeError


class Dashboard:
    """The event writer of one session; a resumed session first drops the events a killed
    session wrote after the checkpoint it resumes from."""

    def __init__(self, folder: Path, step: int) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise StylizeError(
                "--tensorboard needs the tensorboard package: pip install 'stylize[tensorboard]'"
            ) from None
        self.writer: Any = SummaryWriter(log_dir=str(folder), purge_step=step or None)

    def scalars(self, step: int, figures: dict[str, float], group: str) -> None:
        for name, value in figures.items():
            self.writer.add_scalar(f"{group}/{name}", value, step)

    def image(self, step: int, grid: torch.Tensor) -> None:
        """A preview grid, CHW in [-1, 1]."""
        self.writer.add_image("previews", (grid.float().cpu().clamp(-1, 1) + 1) / 2, step)

    def text(self, step: int, line: str) -> None:
        self.writer.add_text("doctor", line, step)

    def close(self) -> None:
        self.writer.close()
