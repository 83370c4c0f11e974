"""The shipped presets: each says how it was made, and turns real held-out inputs into its style."""

from dataclasses import replace

import cv2
import numpy as np
import pytest
import torch
from conftest import SHARED

from stylizer import load_generator
from stylizer.models import frame_flops
from stylizer.styles.presets import BUILTIN_DIR, MANIFEST, Preset
from stylizer.styles.weights import detect_spec, read_state_dict
from trainer.data import folder_items, split_holdout
from trainer.sketch import sketchify

SHIPPED = sorted(p.parent.name for p in BUILTIN_DIR.glob(f"*/{MANIFEST}"))
needs_data = pytest.mark.skipif(not SHARED.is_dir(), reason="needs ../shared/data")


def test_the_promised_presets_ship():
    assert {"vangogh", "monet", "sketch2shoe", "vangogh-fast", "monet-fast", "sketch2shiba"} <= set(
        SHIPPED
    )


@pytest.mark.parametrize("name", SHIPPED)
def test_manifest_records_how_the_preset_was_made(name):
    preset = Preset.read(BUILTIN_DIR / name)
    # The architecture it claims is the one in its weights (dropout leaves no trace in them).
    found = detect_spec(read_state_dict(preset.weights))
    assert replace(found, dropout=False) == replace(preset.spec, dropout=False)
    assert preset.weights.stat().st_size < 16e6  # small enough to keep in git
    m, training = preset.manifest, preset.manifest["training"]
    for key in ("task", "data", "data_counts", "steps", "hardware", "wall_time_s"):
        assert training[key], key
    assert training["last_validation"] and m["intended_input"] and m["licence_notes"]
    assert preset.working_size  # large photos and videos get the strokes it learnt
    assert m["training_data"]["sources"]


def as_tensor(bgr: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(bgr[:, :, ::-1] / 127.5 - 1).float().permute(2, 0, 1)[None]


def grey_detail(x: torch.Tensor) -> np.ndarray:
    """Grey levels with the finest texture blurred away: the scene's layout."""
    grey = x[0].mean(0).numpy()
    return cv2.GaussianBlur(grey, (0, 0), 3).ravel()


@needs_data
@pytest.mark.parametrize("name", ["vangogh", "monet"])
def test_painting_presets_restyle_held_out_photos_and_keep_the_scene(name):
    g = load_generator(name)
    photos = sorted((SHARED / "vangogh2photo" / "testB").glob("*.jpg"))[::30]
    for path in photos:
        x = as_tensor(cv2.imread(str(path)))
        with torch.inference_mode():
            y = g(x)
        assert y.shape == x.shape and torch.isfinite(y).all()
        change = (y - x).abs().mean().item() / 2  # on [0, 1]
        layout = np.corrcoef(grey_detail(x), grey_detail(y))[0, 1]
        assert change > 0.04, f"{path.name}: barely changed ({change:.3f})"
        assert layout > 0.9, f"{path.name}: scene lost (correlation {layout:.2f})"


@needs_data
def test_sketch2shoe_draws_photos_closer_to_the_real_ones_than_the_sketches():
    g = load_generator("sketch2shoe")
    pairs = sorted((SHARED / "edges2shoes" / "val").glob("*.jpg"))[::20]
    ours, sketches = 0.0, 0.0
    for path in pairs:
        ab = cv2.imread(str(path))
        photo, edges = as_tensor(ab[:, :256]), as_tensor(ab[:, 256:])
        with torch.inference_mode():
            y = g(edges)
        assert y.shape == edges.shape
        ours += (y - photo).abs().mean().item()
        sketches += (edges - photo).abs().mean().item()
    # Mostly white, the sketch is already near the photo's background; the shoe must come closer.
    assert ours < 0.55 * sketches, f"L1 to the photos {ours:.3f}, of the sketches {sketches:.3f}"


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """dB between images in [-1, 1], measured on [0, 1]."""
    return 10 * np.log10(1 / (((a - b) / 2) ** 2).mean().item())


@needs_data
@pytest.mark.parametrize("name", ["vangogh-fast", "monet-fast"])
def test_fast_presets_stay_close_to_their_teachers_at_a_ninth_of_the_cost(name):
    student = load_generator(name)
    teacher_name = Preset.read(BUILTIN_DIR / name).manifest["distilled_from"]["teacher"]
    teacher = load_generator(teacher_name)
    assert frame_flops(teacher.spec) > 8 * frame_flops(student.spec)
    photos = sorted((SHARED / "vangogh2photo" / "testB").glob("*.jpg"))[::30]
    for path in photos:
        x = as_tensor(cv2.imread(str(path)))
        with torch.inference_mode():
            target, y = teacher(x), student(x)
        # far closer to the teacher's painting than the photo itself is
        assert psnr(y, target) > max(20, psnr(x, target) + 3), path.name


@needs_data
def test_sketch2shiba_paints_held_out_sketches_closer_to_the_real_dogs(tmp_path):
    """The photos its run held out (never trained on), sketchified as for training: the output
    is nearer the real photo than the sketch is, and has a dog's colour where the sketch has
    none."""
    photos = SHARED / "shiba" / "train"
    sketchify(photos, tmp_path, log=lambda msg: None)
    _, held = split_holdout(folder_items(True, False, [tmp_path, photos], lambda msg: None), 5)
    assert len(held) == 4
    g = load_generator("sketch2shiba")
    for sketch_path, photo_path in held:
        size = (256, 256)
        sketch = as_tensor(cv2.resize(cv2.imread(str(sketch_path)), size))
        photo = as_tensor(cv2.resize(cv2.imread(str(photo_path)), size))
        with torch.inference_mode():
            y = g(sketch)
        assert (y - photo).abs().mean() < (sketch - photo).abs().mean(), photo_path.name
        saturation = (y.amax(1) - y.amin(1)).mean() / 2
        assert saturation > 2 * (sketch.amax(1) - sketch.amin(1)).mean() / 2, photo_path.name
