"""The creative controls around the model (``--strength``, ``--keep-colors``, ``--scale``): one
file each, found by discovery. A file that registers a ``Control`` is all a new control takes,
its command-line options included."""

from ..registry import discover
from .base import (
    CONTROLS,
    Control,
    click_options,
    configured,
    option,
    option_names,
    register_control,
    scaled,
)
from .scale import model_size

discover(__name__)

__all__ = [
    "CONTROLS",
    "Control",
    "click_options",
    "configured",
    "model_size",
    "option",
    "option_names",
    "register_control",
    "scaled",
]
