"""What a run is told, grouped by the stage that reads it: built once (by the CLI or a caller),
frozen, and passed whole, under the same names the command-line options have."""

from __future__ import annotations

from dataclasses import dataclass


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


@dataclass(frozen=True)
class StyleOptions:
    """How the style is applied: ``--strength`` (0 gives the input back, 1 the full style),
    ``--keep-colors`` (the input's colours, the style's light and texture) and ``--scale`` (the
    model runs at this fraction of each frame's size, and the result is resized back: below 1
    the brush strokes grow, above 1 they shrink; None: the preset's working size for frames
    larger than it, so the strokes keep their size relative to the picture)."""

    strength: float = 1.0
    keep_colors: bool = False
    scale: float | None = None


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
