"""What a run is told, grouped by the stage that reads it: built once (by the CLI or a caller),
frozen, and passed whole, under the same names the command-line options have."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from .controls import Control, configured, option_names


@dataclass(frozen=True)
class InferenceOptions:
    """How the generator runs: ``--device``, ``--backend``, ``--precision``, ``--batch-size``,
    ``--tile``, ``--memory-mb`` and ``--bn-stats``."""

    device: str = "auto"
    backend: str = "auto"
    precision: str = "auto"
    batch_size: int = 4
    #: Tile side in pixels; None tiles only what does not fit the memory budget.
    tile: int | None = None
    #: Activation memory budget in MiB; None picks one from the device.
    memory_mb: int | None = None
    #: Batch-norm generators: per-image statistics ("image") or the stored ones ("running").
    bn_stats: str = "image"


@dataclass(frozen=True, init=False)
class StyleOptions:
    """How the style is applied: the settings of every creative control (``stylizer.controls``,
    one file each, such as ``--strength``, ``--keep-colors`` and ``--scale``), in the order the
    controls apply. ``StyleOptions(strength=0.5, scale=1.0)`` sets settings by their options'
    names, the others keep their defaults; ``style.strength`` reads one back."""

    controls: tuple[Control, ...]

    def __init__(self, **settings: Any) -> None:
        object.__setattr__(self, "controls", configured(settings))

    @classmethod
    def picked(cls, options: Mapping[str, Any]) -> StyleOptions:
        """The controls' settings among ``options`` (the command line's, by name)."""
        names = option_names()
        return cls(**{k: v for k, v in options.items() if k in names})

    def __getattr__(self, name: str) -> Any:
        """A setting, from the control that declares it."""
        for control in self.__dict__.get("controls", ()):
            if name in {f.name for f in fields(control)}:
                return getattr(control, name)
        raise AttributeError(f"StyleOptions has no setting {name!r}")


@dataclass(frozen=True)
class TemporalOptions:
    """Flicker removal for videos and pipes: ``--temporal`` and ``--temporal-strength``."""

    temporal: str = "flow"
    temporal_strength: float | None = None


@dataclass(frozen=True)
class ImageOptions:
    """How image files are read and written: ``--size``, ``--max-size``, ``--max-pixels`` and
    ``--ext`` (a suffix such as ``.png``; None keeps each input's format)."""

    size: int | None = None
    max_size: int | None = None
    max_pixels: int | None = None
    ext: str | None = None


@dataclass(frozen=True)
class VideoOptions:
    """Encoder choices; None picks a sensible default for the container and source."""

    codec: str | None = None
    crf: int | None = None
    encoder_preset: str | None = None
    #: A video's output pixel format; with ``--raw``, the frames' format on the pipes.
    pix_fmt: str | None = None
    keep_partial: bool = False
    #: Streams only (files take it from the extension): a key of ``STREAM_FORMATS``.
    stream_format: str | None = None
    #: Re-encode audio the output container cannot hold (instead of stopping).
    reencode_audio: bool = False
    #: Refuse videos whose frames are larger than this (``--max-pixels``, read from the stream's
    #: header); None: ``default_max_pixels()``.
    max_pixels: int | None = None


@dataclass(frozen=True)
class RunOptions:
    """What the whole run does: ``--overwrite``, ``--benchmark`` (videos are decoded, stylized
    and encoded but nothing is written), progress shown (not ``--quiet``) and ``--debug``."""

    overwrite: bool = False
    benchmark: bool = False
    progress: bool = False
    debug: bool = False
