"""The ``stylize`` command line, one file per command: ``stylize`` itself (``stylize.py``), and
subcommands that add themselves to ``SUBCOMMANDS`` (a new one is one new file here)."""

from ..registry import discover
from ._shared import SUBCOMMANDS, say

discover(__name__)

__all__ = ["SUBCOMMANDS", "say"]
