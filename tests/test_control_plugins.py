"""A creative control is one file: dropped into stylizer/controls/, it is an option of ``stylize``
(declared once, range included) and a step of every run, with no other file edited."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import dropped_in, noise_image, write_png

import stylizer.cli  # discovery runs now, before the toy file exists
from stylizer.controls import CONTROLS
from stylizer.options import StyleOptions

STYLIZE = Path(sys.executable).with_name("stylize")

TOY = '''"""``--posterize N``: keep the N high bits of each sample."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import Control, option, register_control


@register_control("posterize")
@dataclass(frozen=True)
class Posterize(Control):
    posterize: int | None = option(None, "Keep this many high bits of each sample.", between=(1, 8))

    @property
    def active(self) -> bool:
        return self.posterize is not None

    def finish(self, original: np.ndarray, styled: np.ndarray) -> np.ndarray:
        shift = np.iinfo(styled.dtype).bits - self.posterize
        return styled >> shift << shift
'''


@pytest.fixture
def toy_control():
    with dropped_in(stylizer.controls, TOY) as path:
        yield path


def stylize(*args) -> subprocess.CompletedProcess:
    return subprocess.run([STYLIZE, *map(str, args)], capture_output=True, text=True, timeout=300)


def test_a_control_file_adds_an_option_and_a_step(toy_control, tiny_weights, tmp_path):
    assert "posterize" not in CONTROLS  # this process never imports the toy
    r = stylize("--help")
    assert r.returncode == 0 and "--posterize INTEGER RANGE" in r.stdout
    assert "Keep this many high bits of each sample." in r.stdout
    image = write_png(tmp_path / "in.png", noise_image(24, 32))
    common = [image, "-w", tiny_weights, "--device", "cpu", "--precision", "fp32", "-q"]
    assert stylize(*common, "-o", tmp_path / "plain.png").returncode == 0
    r = stylize(*common, "-o", tmp_path / "poster.png", "--posterize", "3")
    assert r.returncode == 0, r.stderr
    plain, poster = (cv2.imread(str(tmp_path / f"{n}.png")) for n in ("plain", "poster"))
    assert np.array_equal(poster, plain >> 5 << 5)
    assert not np.array_equal(poster, plain)
    # Its declared range is the command line's.
    r = stylize(*common, "-o", tmp_path / "bad.png", "--posterize", "9")
    assert r.returncode == 2 and "9 is not in the range 1<=x<=8" in r.stderr
    assert not (tmp_path / "bad.png").exists()


def test_style_options_take_and_give_each_controls_settings():
    style = StyleOptions(strength=0.5, keep_colors=True)
    assert (style.strength, style.keep_colors, style.scale) == (0.5, True, None)
    assert style == StyleOptions(keep_colors=True, strength=0.5) != StyleOptions()
    assert hash(style) == hash(StyleOptions(keep_colors=True, strength=0.5))
    assert StyleOptions.picked({"scale": 2.0, "device": "cpu"}) == StyleOptions(scale=2.0)
    with pytest.raises(TypeError, match="strenght"):
        StyleOptions(strenght=0.5)
    with pytest.raises(AttributeError, match="device"):
        _ = style.device
    # The colours are kept before the strength blends them, whatever the files are called.
    names = [c.name for c in style.controls]
    assert names.index("keep-colors") < names.index("strength")
