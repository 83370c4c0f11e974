"""Training tasks, one file each, registered by name."""

from . import cyclegan, distill, pix2pix  # noqa: F401  (importing registers them)
from .base import TASKS, Task

__all__ = ["TASKS", "Task"]
