"""The creative controls: --strength, --keep-colors and --scale, in the library and the CLI."""

import json
import shutil

import cv2
import numpy as np
import pytest
from conftest import noise_image, run_main, write_png

from stylizer import StylizeError
from stylizer.cli import main
from stylizer.controls import scaled
from stylizer.images import Picture
from stylizer.inference import Stylizer
from stylizer.options import InferenceOptions, StyleOptions

CPU = InferenceOptions(device="cpu", precision="fp32")


def styled(weights, image, **style):
    return Stylizer(weights, CPU, StyleOptions(**style)).stylize(Picture(image)).color


def chroma(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)[:, :, 1:].astype(np.int64)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_strength_fades_from_the_input_to_the_full_style(tiny_weights, dtype):
    image = noise_image(24, 32, dtype=dtype)
    full = styled(tiny_weights, image)
    assert np.array_equal(styled(tiny_weights, image, strength=0.0), image)
    half = styled(tiny_weights, image, strength=0.5).astype(np.int64)
    expected = (image.astype(np.int64) + full.astype(np.int64)) / 2
    assert np.abs(half - expected).max() <= 1  # rounding
    assert np.abs(full.astype(np.int64) - image).mean() > 4 * np.iinfo(dtype).max / 255


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_keep_colors_keeps_the_inputs_chroma_and_takes_the_styles_luma(tiny_weights, dtype):
    top = np.iinfo(dtype).max
    # Photo-like colours, inside the RGB cube: new light on a saturated colour can leave the
    # cube and clip, which changes its chroma (in random full-range noise, 10 % of pixels).
    image = (noise_image(24, 32, dtype=dtype, seed=3) // 4 + top // 8 * 3).astype(dtype)
    full = styled(tiny_weights, image)
    kept = styled(tiny_weights, image, keep_colors=True)
    unit = top / 255
    kept_off = np.abs(chroma(kept) - chroma(image))
    assert kept_off.mean() <= 0.5 * unit and np.percentile(kept_off, 99) <= 3 * unit
    assert np.abs(chroma(full) - chroma(image)).mean() > 5 * unit  # the style did change them
    luma = cv2.cvtColor(kept, cv2.COLOR_RGB2YCrCb)[:, :, 0].astype(np.int64)
    style_luma = cv2.cvtColor(full, cv2.COLOR_RGB2YCrCb)[:, :, 0].astype(np.int64)
    assert np.abs(luma - style_luma).max() <= 3 * unit


def test_scale_runs_the_model_at_a_fraction_of_the_size(tiny_weights):
    image = noise_image(40, 64, seed=5)
    half = styled(tiny_weights, image, scale=0.5)
    assert half.shape == image.shape
    by_hand = scaled(styled(tiny_weights, scaled(image, 32, 20)), 64, 40)
    assert np.array_equal(half, by_hand)
    assert not np.array_equal(half, styled(tiny_weights, image))


def preset_with_working_size(folder, weights, working_size) -> str:
    """A preset folder around ``weights`` whose manifest declares ``working_size``."""
    folder.mkdir()
    shutil.copy(weights, folder / "generator.pth")
    manifest = {"name": folder.name, "weights": "generator.pth", "working_size": working_size}
    (folder / "preset.json").write_text(json.dumps(manifest))
    return str(folder)


def test_a_preset_paints_large_frames_at_its_working_size(tiny_weights, tmp_path):
    preset = preset_with_working_size(tmp_path / "small", tiny_weights, 20)
    large, small = noise_image(40, 64, seed=6), noise_image(16, 24, seed=7)
    by_hand = scaled(styled(tiny_weights, scaled(large, 32, 20)), 64, 40)  # shorter side 20
    assert np.array_equal(styled(preset, large), by_hand)
    # Smaller frames are not enlarged, and --scale overrides the working size.
    assert np.array_equal(styled(preset, small), styled(tiny_weights, small))
    assert np.array_equal(styled(preset, large, scale=1.0), styled(tiny_weights, large))
    # Batches are sized, and --backend auto weighs compiling, at the size the model runs at.
    stylizer = Stylizer(preset, CPU)
    assert stylizer.model_size(40, 64) == (20, 32) and stylizer.model_size(16, 24) == (16, 24)
    assert stylizer.model_pixels([(10, 40, 64), (0, 0, 0)]) == 10 * 20 * 32
    # The CLI says so, once; not when --scale is given, nor for a sliver padded up to 8 px.
    inputs = [write_png(tmp_path / "in" / f"{n}.png", large) for n in "ab"]
    args = [*inputs, "-o", tmp_path / "out", "--weights", preset, "--overwrite"]
    r = run_main(main, args, text=True)
    assert r.returncode == 0 and r.stderr.count("paints at its working size, 20 px") == 1
    assert "64x40 at 32x20" in r.stderr
    r = run_main(main, [*args, "--scale", "1"], text=True)
    assert r.returncode == 0 and "working size" not in r.stderr
    sliver = write_png(tmp_path / "sliver.png", noise_image(1, 16))
    r = run_main(main, [sliver, "-o", tmp_path / "s.png", "--weights", preset], text=True)
    assert r.returncode == 0 and "working size" not in r.stderr


@pytest.mark.parametrize("bad", [0, 2.5, "256"])
def test_a_bad_working_size_is_a_one_line_error(tiny_weights, tmp_path, bad):
    preset = preset_with_working_size(tmp_path / "bad", tiny_weights, bad)
    with pytest.raises(StylizeError, match="working_size"):
        styled(preset, noise_image(16, 16))


def test_out_of_range_controls_are_one_line_errors(tiny_weights):
    with pytest.raises(StylizeError, match="--strength"):
        Stylizer(tiny_weights, CPU, StyleOptions(strength=1.5))
    with pytest.raises(StylizeError, match="--scale"):
        Stylizer(tiny_weights, CPU, StyleOptions(scale=0))


def test_controls_reach_pipes(tiny_weights):
    frames = [noise_image(16, 16, seed=i) // 4 + 96 for i in range(3)]
    args = ["-", "--raw", "16x16", "-o", "-", "--weights", tiny_weights, "--precision", "fp32"]
    same = run_main(main, [*args, "--strength", "0"], stdin=b"".join(f.tobytes() for f in frames))
    assert same.returncode == 0 and same.stdout == b"".join(f.tobytes() for f in frames)
    kept = run_main(main, [*args, "--keep-colors", "--temporal", "none"],
                    stdin=b"".join(f.tobytes() for f in frames))  # fmt: skip
    out = np.frombuffer(kept.stdout, np.uint8).reshape(3, 16, 16, 3)
    assert all(np.abs(chroma(o) - chroma(f)).mean() <= 1 for o, f in zip(out, frames))


def test_sheet_has_a_labelled_tile_per_style_and_a_row_per_photo(tmp_path, tiny_weights):
    from conftest import save_generator, write_png

    from stylizer.models import GeneratorSpec
    from stylizer.sheet import LABEL_HEIGHT

    other = save_generator(tmp_path / "other.pth", GeneratorSpec("resnet", 1, ngf=4))
    for i in range(2):
        write_png(tmp_path / "photos" / f"{i}.png", noise_image(48, 64, seed=i))
    styles = f"{tiny_weights},{other},{tmp_path / 'missing.pth'}"
    r = run_main(main, ["sheet", tmp_path / "photos", "-o", tmp_path / "s.png", "--presets",
                        styles, "--size", "64", "--device", "cpu"], text=True)  # fmt: skip
    assert r.returncode == 1 and "missing.pth" in r.stderr and "2 of 3 styles" in r.stderr
    sheet = cv2.imread(str(tmp_path / "s.png"))
    pad, tile = 4, 64 + LABEL_HEIGHT
    assert sheet.shape == (pad + 2 * (tile + pad), pad + 4 * (64 + pad), 3)
    for row in range(2):
        for col in range(4):
            y, x = pad + row * (tile + pad), pad + col * (64 + pad)
            label, body = (
                sheet[y : y + LABEL_HEIGHT, x : x + 64],
                sheet[y + LABEL_HEIGHT : y + tile, x : x + 64],
            )
            assert (label < 128).any(), (row, col)  # a name is written
            assert (body < 250).any() == (col < 3), (row, col)  # the failed style's tile is white


def test_json_reports_what_was_written(tmp_path, tiny_weights):
    import json

    import av
    from conftest import write_png, write_video

    write_png(tmp_path / "in" / "a.png", noise_image(20, 30))
    write_video(tmp_path / "in" / "v.mkv", [noise_image(16, 24, seed=i) for i in range(4)])
    r = run_main(main, ["-q", tmp_path / "in", "-o", tmp_path / "out", "--weights", tiny_weights,
                        "--json", "-"], text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    *records, summary = [json.loads(line) for line in r.stdout.splitlines()]
    assert {rec["kind"] for rec in records} == {"image", "video"}
    for rec in records:
        assert rec["style"] == tiny_weights.stem and rec["device"] == "cpu" and rec["seconds"] >= 0
        if rec["kind"] == "image":
            h, w = cv2.imread(rec["output"]).shape[:2]
            assert rec["size"] == [w, h] == [30, 20] and rec["frames"] == 1
        else:
            with av.open(rec["output"]) as c:
                frames = sum(1 for _ in c.decode(video=0))
            assert rec["frames"] == frames == 4 and rec["size"] == [24, 16] and rec["fps"] > 0
    assert summary == summary | {"summary": True, "stylized": 2, "failed": [], "frames": 5}
    # With the media on standard output, the report goes to a file, never into the data.
    raw = noise_image(8, 8).tobytes()
    args = ["-", "--raw", "8x8", "-o", "-", "--weights", tiny_weights]
    r = run_main(main, [*args, "--json", "-"], stdin=raw)
    assert r.returncode == 2 and b"give --json a FILE" in r.stderr
    (tmp_path / "file").write_text("")
    r = run_main(main, [*args, "--json", tmp_path / "file" / "r.json"], stdin=raw)
    assert r.returncode == 1 and b"cannot write --json" in r.stderr and r.stdout == b""
    r = run_main(main, [*args, "--json", tmp_path / "r.json"], stdin=raw)
    assert r.returncode == 0 and len(r.stdout) == len(raw)
    assert json.loads((tmp_path / "r.json").read_text())["frames"] == 1
