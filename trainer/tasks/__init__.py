"""Training tasks, one file each: every public module here is imported, and registers its task
(``register_task``), so a new task is a new file and nothing else."""

from stylizer.registry import discover

from .base import TASKS, Task

discover(__name__)

__all__ = ["TASKS", "Task"]
