"""A media kind is one file: dropped into stylizer/media/kinds/, its files are found in folders
and globs, stylized and written where results go, with no other file edited."""

import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import dropped_in, noise_image, write_png

import stylizer.media.kinds
from stylizer.media.kinds import KINDS

STYLIZE = Path(sys.executable).with_name("stylize")

TOY = '''"""NumPy arrays (``.npy``) of H x W x 3 uint8 RGB pixels, as a notebook saves them."""

from __future__ import annotations

import io
import time
from typing import ClassVar

import numpy as np

from ...errors import StylizeError, failure_message
from ...files import write_atomic
from ...images import Picture
from ..kind import FileRun, MediaKind, register_kind
from ..stages import Job


@register_kind("numpy array")
class NumpyArrays(MediaKind):
    extensions: ClassVar[tuple[str, ...]] = (".npy",)

    def stylize_files(self, jobs: list[Job], files: FileRun) -> None:
        for job in jobs:
            started = time.perf_counter()
            try:
                try:
                    rgb = np.load(job.source)
                except (OSError, ValueError) as e:
                    raise StylizeError(f"not a NumPy array ({e})") from None
                styled = files.stylizer.stylize(Picture(rgb)).color
                saved = io.BytesIO()
                np.save(saved, styled)
                write_atomic(job.target, saved.getvalue(), overwrite=files.run.overwrite)
            except Exception as e:  # that array's failure; the others go on
                files.summary.fail(failure_message(str(job.source), e, files.run.debug), files.log)
                continue
            h, w = rgb.shape[:2]
            files.summary.record(job, files.stylizer, kind="numpy array", size=[w, h], frames=1,
                                 seconds=time.perf_counter() - started)
'''


@pytest.fixture
def toy_kind():
    with dropped_in(stylizer.media.kinds, TOY) as path:
        yield path


def stylize(*args) -> subprocess.CompletedProcess:
    return subprocess.run([STYLIZE, *map(str, args)], capture_output=True, text=True, timeout=300)


def test_a_media_kind_file_stylizes_files_of_its_kind(toy_kind, tiny_weights, tmp_path):
    assert "numpy array" not in KINDS  # this process never imports the toy
    folder = tmp_path / "in"
    bgr = noise_image(24, 32, seed=3)
    write_png(folder / "photo.png", bgr)
    np.save(folder / "array.npy", np.ascontiguousarray(bgr[..., ::-1]))
    (folder / "broken.npy").write_bytes(b"not an array")
    common = ["-w", tiny_weights, "--device", "cpu", "--precision", "fp32", "--json", "-"]
    r = stylize(folder, "-o", tmp_path / "out", *common)
    assert r.returncode == 1, r.stderr  # the broken array failed, and only it
    assert "broken.npy: not a NumPy array" in r.stderr and "2 stylized, 1 failed" in r.stderr
    # The array went through the same model as the same pixels in a PNG.
    array = np.load(tmp_path / "out" / "array.npy")
    photo = cv2.imread(str(tmp_path / "out" / "photo.png"))
    assert array.shape == (24, 32, 3) and np.array_equal(array[..., ::-1], photo)
    assert not np.array_equal(array[..., ::-1], bgr)
    assert '"kind": "numpy array"' in r.stdout
    # Re-runs skip what is done, as for every kind.
    r = stylize(folder / "array.npy", "-o", tmp_path / "out" / "array.npy", *common[:-2])
    assert r.returncode == 0 and "1 skipped" in r.stderr, r.stderr
