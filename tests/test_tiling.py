import math

import cv2
import numpy as np
import pytest
import torch
from conftest import SHARED, save_generator

from stylizer import load_generator
from stylizer.backends.eager import EagerBackend
from stylizer.device import pad_to_multiple
from stylizer.models import GeneratorSpec
from stylizer.tiling import tile_grid, tiled_forward


def psnr(a: torch.Tensor, b: torch.Tensor, peak: float = 2.0) -> float:
    mse = (a.double() - b.double()).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(peak**2 / mse)


def photo(h: int, w: int) -> torch.Tensor:
    img = cv2.imread(str(SHARED / "samples" / "kodim03.png"))
    if img is None:  # no shared data: a smooth synthetic image
        yy, xx = np.mgrid[0:h, 0:w]
        img = np.dstack([xx * 255 // w, yy * 255 // h, (xx + yy) * 127 // (h + w)])
    img = cv2.resize(img.astype(np.uint8), (w, h))
    return torch.from_numpy(img[:, :, ::-1].copy()).permute(2, 0, 1)[None].float() / 127.5 - 1


def test_tile_cores_partition_the_image():
    tiles = tile_grid(300, 520, 128, 40, 4)
    cover = np.zeros((300, 520), int)
    for t in tiles:
        y0, y1, x0, x1 = t.core
        by0, by1, bx0, bx1 = t.box
        cover[y0:y1, x0:x1] += 1
        assert by0 <= y0 and y1 <= by1 and bx0 <= x0 and x1 <= bx1
        assert all(v % 4 == 0 or v in (300, 520) for v in t.box)
    assert (cover == 1).all() and len(tiles) > 4


@pytest.mark.parametrize(
    "spec, shape, core",
    [
        (GeneratorSpec("resnet", 4, ngf=16), (264, 400), 96),
        (GeneratorSpec("resnet", 3, ngf=8, norm="batch"), (200, 300), 64),
        (GeneratorSpec("resnet-resize", 3, ngf=8), (200, 300), 64),
        (GeneratorSpec("compact", 3, ngf=8), (200, 300), 64),
    ],
    ids=["resnet-instance", "resnet-batch", "resnet-resize", "compact"],
)
def test_tiled_matches_untiled(tmp_path, spec, shape, core):
    model = load_generator(save_generator(tmp_path / "g.pth", spec))
    x = photo(*shape)
    with torch.inference_mode():
        whole = model(x)
        tiled = tiled_forward(model, x, core)
        assert len(tile_grid(*shape, core, model.halo, 4)) >= 4
        # Without whole-image statistics the tiles visibly disagree.
        naive = torch.zeros_like(whole)
        for t in tile_grid(*shape, core, model.halo, 4):
            y0, y1, x0, x1 = t.core
            by0, by1, bx0, bx1 = t.box
            out = model(x[..., by0:by1, bx0:bx1])
            naive[..., y0:y1, x0:x1] = out[..., y0 - by0 : y1 - by0, x0 - bx0 : x1 - bx0]
    assert psnr(tiled, whole) > 60
    assert psnr(naive, whole) < psnr(tiled, whole) - 20


def test_unet_tiles_close_to_whole(tmp_path):
    model = load_generator(save_generator(tmp_path / "g.pth", GeneratorSpec("unet", 6, ngf=8)))
    x, _ = pad_to_multiple(photo(200, 330), model.size_multiple)
    with torch.inference_mode():
        assert psnr(tiled_forward(model, x, 128), model(x)) > 35


def test_engine_tiles_when_over_budget(tmp_path):
    model = load_generator(save_generator(tmp_path / "g.pth", GeneratorSpec("resnet", 2, ngf=8)))
    frames = (photo(150, 222) + 1).mul(127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
    for precision in ("fp32", "bf16"):
        roomy = EagerBackend(model, torch.device("cpu"), precision=precision)
        tight = EagerBackend(model, torch.device("cpu"), 150 * 150 * 128, precision=precision)
        assert roomy.tile_core(150, 222) is None and tight.tile_core(150, 222) is not None
        a, b = roomy(frames), tight(frames)
        assert a.shape == frames.shape == b.shape and a.dtype == torch.uint8
        if precision == "fp32":  # exact but for rounding
            assert (a.int() - b.int()).abs().max() <= 1
        else:  # bf16 sums in another order tile by tile: close, not exact
            assert psnr(a.float() / 255, b.float() / 255, peak=1.0) > 40


def test_out_of_memory_retries_the_same_frames_in_tiles(tmp_path, monkeypatch):
    model = load_generator(save_generator(tmp_path / "g.pth", GeneratorSpec("resnet", 2, ngf=8)))
    frames = (photo(80, 120) + 1).mul(127.5).round().to(torch.uint8).permute(0, 2, 3, 1)
    frames = frames.repeat(2, 1, 1, 1)
    expected = EagerBackend(model, torch.device("cpu"), precision="fp32")(frames)
    engine = EagerBackend(model, torch.device("cpu"), memory_budget=2**30, precision="fp32")

    def infer(x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] == (80, 120):  # every whole-frame attempt fails; tiles succeed
            raise torch.OutOfMemoryError
        return engine.model(x)

    monkeypatch.setattr(engine, "infer", infer)
    got = engine(frames)
    assert got.shape == frames.shape
    assert (got.int() - expected.int()).abs().max() <= 1
    assert engine.tile_core(80, 120) is not None
