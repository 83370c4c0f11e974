"""A backend is one file: dropped into ``stylizer/backends/`` it is a ``--backend`` choice, runs
whole frames and tiles, and says where ``auto`` tries it, with no other file edited."""

import os
import re
import subprocess
import sys
import textwrap

import cv2
import numpy as np
import pytest
import torch
from conftest import dropped_in, noise_image, run_main, write_png

import stylizer.backends
from stylizer.backends import BACKENDS, backend_class
from stylizer.backends.choice import COMPILE_PIXELS, auto_order
from stylizer.backends.eager import EagerBackend
from stylizer.cli import main
from stylizer.styles.loading import load_generator
from stylizer.tiling import tile_grid

TOY = '''
"""A backend in one file: eager, telling the caller's log about each batch it runs."""

import torch

from stylizer.backends.base import Backend
from stylizer.backends.choice import register_backend


@register_backend
class ToyEngine(Backend):
    def infer(self, x: torch.Tensor) -> torch.Tensor:
        self.notice(f"toy infers {tuple(x.shape)}")
        return self.model(x)
'''

# Two runs of the CLI in one fresh process: its help, then the same image through toy and eager.
CHECK = """
import sys
from stylizer.cli import main

for args in (["--help"], *(a.split("|") for a in sys.argv[1:])):
    sys.argv = ["stylize", *args]
    try:
        main()
    except SystemExit as e:
        assert not e.code, (args, e.code)
"""


@pytest.fixture
def toy_backend():
    with dropped_in(stylizer.backends, textwrap.dedent(TOY)) as path:
        yield path


def test_a_backend_is_one_new_file(toy_backend, tiny_weights, tmp_path):
    """Its file's name is its name: the help lists it without importing any backend."""
    toy = toy_backend.stem
    image = write_png(tmp_path / "img.png", noise_image(40, 56))
    common = f"{image}|-w|{tiny_weights}|--device|cpu|--precision|fp32"
    out = subprocess.run(
        [sys.executable, "-c", CHECK]
        + [f"{common}|--backend|{name}|-o|{tmp_path / name}.png" for name in (toy, "eager")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},  # no stray .pyc of the toy file
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    choices = re.search(r"--backend \[([^\]]+)\]", out.stdout)
    assert choices and toy in choices[1].split("|"), out.stdout
    assert "stylize: toy infers (1, 3, 40, 56)" in out.stderr, out.stderr
    toyed, eager = (cv2.imread(str(tmp_path / f"{name}.png")) for name in (toy, "eager"))
    assert toyed is not None and np.array_equal(toyed, eager)


def test_tiles_go_through_the_backend(tiny_weights, tmp_path, monkeypatch):
    shapes: list[tuple[int, ...]] = []
    infer = EagerBackend.infer

    def counted(self, x: torch.Tensor) -> torch.Tensor:
        shapes.append(tuple(x.shape))
        return infer(self, x)

    monkeypatch.setattr(EagerBackend, "infer", counted)
    image = write_png(tmp_path / "img.png", noise_image(64, 160))
    for tile in ("0", "32"):
        args = [image, "-w", tiny_weights, "--device", "cpu", "--precision", "fp32"]
        args += ["--backend", "eager", "--tile", tile, "-o", tmp_path / f"{tile}.png"]
        r = run_main(main, args, text=True)
        assert r.returncode == 0, r.stderr
    model = load_generator(tiny_weights)
    tiles = tile_grid(64, 160, 32, model.halo, model.size_multiple)
    assert shapes == [(1, 3, 64, 160)] + [
        (1, 3, t.box[1] - t.box[0], t.box[3] - t.box[2]) for t in tiles
    ]
    assert len(tiles) > 2
    a, b = (cv2.imread(str(tmp_path / f"{tile}.png")).astype(int) for tile in ("0", "32"))
    assert np.abs(a - b).max() <= 1  # whole-image statistics: the tiles do not show


class Traced(EagerBackend):
    """A backend whose graph cannot take tiles (as TensorRT's and ONNX Runtime's cannot)."""

    infers_tiles = False

    def infer(self, x: torch.Tensor) -> torch.Tensor:
        assert x.shape[-2:] == (72, 96), "a tile reached a backend that cannot take one"
        return super().infer(x)


def test_a_backend_that_cannot_take_tiles_has_them_run_eagerly(tiny_weights):
    frames = torch.from_numpy(noise_image(72, 96))[None]
    cpu = torch.device("cpu")
    options = dict(tile=32, precision="fp32")
    traced = Traced(load_generator(tiny_weights), cpu, **options)(frames)
    assert torch.equal(traced, EagerBackend(load_generator(tiny_weights), cpu, **options)(frames))
    Traced(load_generator(tiny_weights), cpu, precision="fp32")(frames)  # whole: infer


def test_each_backend_declares_where_auto_tries_it(monkeypatch):
    assert auto_order("cuda") == ["tensorrt", "compile", "eager"]
    assert auto_order("cpu") == ["compile", "ort", "eager"]

    class Toy(EagerBackend):
        name = "toy"
        auto_before = {"cpu": ("compile",)}

    monkeypatch.setitem(BACKENDS, "toy", Toy)
    assert auto_order("cpu") == ["toy", "compile", "ort", "eager"]
    assert auto_order("cuda") == ["tensorrt", "compile", "eager"]  # declared for CPUs only
    cpu = torch.device("cpu")
    notices: list[str] = []
    assert backend_class("auto", cpu, notices.append, workload=COMPILE_PIXELS) is Toy
    assert notices == ["a long job: preparing the model first (backend toy)"]
    assert backend_class("auto", cpu, workload=COMPILE_PIXELS - 1).name == "eager"  # short job
    monkeypatch.setattr(Toy, "auto_before", {"cpu": ("eager",)})
    assert auto_order("cpu") == ["compile", "ort", "toy", "eager"]
