"""Temporal smoothing, the stage between the engine and the sinks: one file per method."""

from . import ema, flow  # noqa: F401  (importing registers them)
from .base import SMOOTHERS, Smoother, make_smoother, smoothed

__all__ = ["SMOOTHERS", "Smoother", "make_smoother", "smoothed"]
