"""Media in and out: sources -> processor -> sinks, joined by the stage runner (``stages.run``).

``sources`` and ``sinks`` hold one class per kind of input and output (image files, a PyAV
video, raw frames on a pipe); ``processors`` the stylizing stage; ``plan`` which files a run
takes and where each result goes; ``formats`` the container and pixel formats.
"""

from .stages import Batch, Failure, Frame, Job, Packets, Processor, Sink, Source, StageTimes, run

__all__ = [
    "Batch",
    "Failure",
    "Frame",
    "Job",
    "Packets",
    "Processor",
    "Sink",
    "Source",
    "StageTimes",
    "run",
]
