"""Temporal smoothing, the stage between the backend and the sinks: one file per method, found
by discovery (a file that registers a ``Smoother`` subclass is all a new method takes)."""

from ..registry import discover
from .base import SMOOTHERS, Smoother, make_smoother, smoothed

discover(__name__)

__all__ = ["SMOOTHERS", "Smoother", "make_smoother", "smoothed"]
