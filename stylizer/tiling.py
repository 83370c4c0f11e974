"""Tiled inference for images too large to process at once, with whole-image normalisation.

Instance norm (and per-image batch norm) normalise with statistics of the *whole* image, so a tile
that normalised with its own statistics would come out in other colours than its neighbours. Here
every tile uses the exact statistics of the whole image instead. Each norm layer's statistics
depend on those of the layers before it, so they are gathered layer by layer: for the k-th norm,
every tile runs up to that layer (earlier layers already fixed to whole-image statistics) and its
core's sums are accumulated; the pass stops there. A last pass runs the tiles through with all
statistics fixed. This costs about ``depth / 2`` extra forward passes and never more memory than
one tile.

Tiles overlap by the generator's ``halo`` so that each core sees the context it sees in the whole
image; cores partition the image, so there is nothing to blend and no seam.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from .models import Generator
from .models.norms import WholeImageStats


@dataclass(frozen=True)
class Tile:
    """A core box (the output it owns) inside an input box (what it is computed from), in pixels."""

    core: tuple[int, int, int, int]  # y0, y1, x0, x1
    box: tuple[int, int, int, int]


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


def tile_grid(height: int, width: int, core: int, halo: int, multiple: int) -> list[Tile]:
    """Cores of about ``core`` pixels covering the image, each widened by ``halo`` (clipped)."""
    core, halo = _round_up(core, multiple), _round_up(halo, multiple)

    def spans(n: int) -> list[tuple[int, int, int, int]]:
        count = max(1, round(n / core))
        step = _round_up(-(-n // count), multiple)
        cuts = [min(i * step, n) for i in range(count)] + [n]
        cuts = sorted(set(cuts))
        return [(a, b, max(0, a - halo), min(n, b + halo)) for a, b in zip(cuts, cuts[1:])]

    return [
        Tile((y0, y1, x0, x1), (by0, by1, bx0, bx1))
        for y0, y1, by0, by1 in spans(height)
        for x0, x1, bx0, bx1 in spans(width)
    ]


class _StopForward(Exception):
    """Raised by a collector once its layer has been seen: the rest of the pass is not needed."""


class StatsCollector:
    """Accumulates per-channel sum and sum of squares of one layer's input over tile cores.

    With ``layer=None`` it records the order in which norm layers run and stops nothing.
    """

    def __init__(self, layer: nn.Module | None = None) -> None:
        self.layer = layer
        self.order: list[nn.Module] = []
        self.sums: list[torch.Tensor] | None = None
        self.region: tuple[int, int, int, int, int] | None = None  # core y0, y1, x0, x1, tile h

    def add(self, layer: object, x: torch.Tensor) -> None:
        if self.layer is None:
            self.order.append(cast(nn.Module, layer))
            return
        if layer is not self.layer:
            return
        if self.region is not None:
            y0, y1, x0, x1, tile_h = self.region
            scale = tile_h // x.shape[-2]
            x = x[..., y0 // scale : y1 // scale, x0 // scale : x1 // scale]
        x = x.double()
        parts = [x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), torch.tensor(float(x[0, 0].numel()))]
        self.sums = parts if self.sums is None else [a + b for a, b in zip(self.sums, parts)]
        raise _StopForward

    def statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        assert self.sums is not None, "statistics before any tile"
        s, sq, n = self.sums
        mean = s / n
        return mean.float(), (sq / n - mean * mean).clamp_min(0).float()


@contextmanager
def _norms_using(
    norms: list[WholeImageStats], stats: dict, sink: StatsCollector | None = None
) -> Iterator[None]:
    for layer in norms:
        layer.stats_override = stats.get(layer)
        layer.stats_sink = sink
    try:
        yield
    finally:
        for layer in norms:
            layer.stats_override = None
            layer.stats_sink = None


def _crops(x: torch.Tensor, tiles: list[Tile]) -> Iterator[tuple[Tile, torch.Tensor]]:
    for tile in tiles:
        by0, by1, bx0, bx1 = tile.box
        yield tile, x[..., by0:by1, bx0:bx1]


def tiled_forward(
    model: Generator,
    x: torch.Tensor,
    core: int,
    forward: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> torch.Tensor:
    """``model(x)`` for large images, computed tile by tile with whole-image statistics.

    ``x`` is NxCxHxW with H and W multiples of ``model.size_multiple``; ``core`` is the tile core
    side in pixels. Memory is that of one tile of ``core + 2 * halo`` pixels a side.

    ``forward`` (a backend's, ``model`` by default) runs the last pass, the full one over each
    tile. It must run ``model``'s own norm layers, which then hold the whole-image statistics;
    the passes gathering them stop inside the model, so they always run ``model`` itself.
    """
    forward = forward or model
    if x.shape[0] != 1:
        return torch.cat([tiled_forward(model, xi[None], core, forward) for xi in x])
    multiple = model.size_multiple
    tiles = tile_grid(x.shape[-2], x.shape[-1], core, model.halo, multiple)
    norms: list[WholeImageStats] = [m for m in model.modules() if isinstance(m, WholeImageStats)]
    stats: dict = {}
    if norms:
        probe = StatsCollector()
        with _norms_using(norms, stats, probe):
            model(x.new_zeros((1, x.shape[1], multiple * 2, multiple * 2)))
        for layer in probe.order:
            sink = StatsCollector(layer)
            with _norms_using(norms, stats, sink):
                for tile, crop in _crops(x, tiles):
                    y0, y1, x0, x1 = tile.core
                    by0, by1, bx0, _ = tile.box
                    sink.region = (y0 - by0, y1 - by0, x0 - bx0, x1 - bx0, by1 - by0)
                    with suppress(_StopForward):
                        model(crop)
            stats[layer] = sink.statistics()
    out = None
    with _norms_using(norms, stats):
        for tile, crop in _crops(x, tiles):
            y0, y1, x0, x1 = tile.core
            by0, _, bx0, _ = tile.box
            y = forward(crop)
            if out is None:
                out = y.new_empty((1, y.shape[1], *x.shape[-2:]))
            out[..., y0:y1, x0:x1] = y[..., y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
    assert out is not None, "no tiles"
    return out
