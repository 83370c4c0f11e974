"""Unconditional generation (``trainer/tasks/unconditional.py``, ``stylizer/models/dcgan.py``)
and ``stylize generate`` (``stylizer/generation.py``, ``stylizer/commands/generate.py``)."""

import json

import av
import cv2
import numpy as np
import pytest
import torch
from conftest import blobs, run_main, weights_of, write_png
from test_trainer import assert_same_state

from stylizer.cli import main as stylize_main
from stylizer.errors import StylizeError
from stylizer.generation import GenerateOptions, NoiseSampler, slerp
from stylizer.models import GeneratorSpec, build_generator
from stylizer.styles.weights import detect_spec
from trainer.export import export_preset
from trainer.loop import train
from trainer.settings import Settings


def quiet(message: str) -> None:
    pass


@pytest.fixture
def side_by_side(tmp_path):
    """24 side-by-side AB images: a blob on the left, black on the right."""
    for i in range(24):
        image = np.zeros((16, 32, 3), np.uint8)
        image[:, :16] = blobs(i, 16)
        write_png(tmp_path / "ab" / f"{i:03d}.png", image)
    return tmp_path / "ab"


def settings(folder, **kw) -> Settings:
    base = dict(task="unconditional", data=[str(folder)], image_size=16, latent=8, ngf=8,
                ndf=8, batch_size=4, workers=0, val_count=4, half="left", epochs=1,
                decay_epochs=0, steps_per_epoch=12, preview_every=6, checkpoint_every=100)  # fmt: skip
    return Settings(**(base | kw))


def test_dcgan_draws_images_of_its_size_and_is_detected():
    spec = GeneratorSpec("dcgan", 4, 8, in_channels=16, norm="batch")
    g = build_generator(spec).eval()
    assert g(torch.randn(3, 16)).shape == (3, 3, 64, 64)
    assert detect_spec(g.state_dict()) == spec


def test_a_run_trains_resumes_exactly_and_exports(tmp_path, side_by_side):
    train(settings(side_by_side), tmp_path / "whole", log=quiet, device="cpu")
    train(settings(side_by_side), tmp_path / "split", stop_after=5, log=quiet, device="cpu")
    assert train(None, tmp_path / "split", log=quiet, device="cpu").step == 12
    assert_same_state(weights_of(tmp_path / "whole"), weights_of(tmp_path / "split"))
    state = weights_of(tmp_path / "whole")["task"]
    assert state["nets"].keys() == {"G", "D", "G_ema"} and state["averaged"] == 12
    records = [json.loads(x) for x in (tmp_path / "whole" / "log.jsonl").read_text().splitlines()]
    figures = next(r for r in records if r["kind"] == "train")
    assert {"D_acc_real", "D_acc_fake", "G_grad", "D_grad", "diversity", "real_diversity"} <= set(figures)  # fmt: skip
    preview = cv2.imread(str(tmp_path / "whole" / "previews" / "step_00000012.png"))
    assert preview.shape[1] == 8 * 16 + 9 * 4  # eight samples a row
    folder = export_preset(tmp_path / "whole", "blobs", out_dir=tmp_path / "presets")
    manifest = json.loads((folder / "preset.json").read_text())
    assert manifest["architecture"]["arch"] == "dcgan" and "gflop_per_image" in manifest
    assert "random vectors of 8 numbers" in manifest["intended_input"]


def test_the_average_follows_the_generator(tmp_path, side_by_side):
    """With --ema 0 the sampled generator is the trained one; with the default it differs."""
    train(settings(side_by_side, ema=0.0), tmp_path / "last", log=quiet, device="cpu")
    nets = weights_of(tmp_path / "last")["task"]["nets"]
    assert_same_state(nets["G"], nets["G_ema"])
    train(settings(side_by_side), tmp_path / "avg", log=quiet, device="cpu")
    nets = weights_of(tmp_path / "avg")["task"]["nets"]
    assert not torch.equal(nets["G"]["model.0.weight"], nets["G_ema"]["model.0.weight"])


def test_settings_are_checked(side_by_side):
    with pytest.raises(StylizeError, match="--image-size 48"):
        settings(side_by_side, image_size=48).resolve()
    with pytest.raises(StylizeError, match="one folder"):
        settings(side_by_side, data=[str(side_by_side)] * 2).resolve()
    s = settings(side_by_side, lr=1e-4).resolve()
    assert (s.depth, s.lr_d, s.norm) == (2, 4e-4, "batch")  # TTUR: 4x the generator's rate


@pytest.fixture
def shoes_preset(tmp_path, side_by_side):
    train(settings(side_by_side, steps_per_epoch=2), tmp_path / "run", log=quiet, device="cpu")
    return export_preset(tmp_path / "run", "blobs", out_dir=tmp_path / "presets")


def test_generate_writes_images_a_grid_and_a_walk(tmp_path, shoes_preset):
    out = tmp_path / "new"
    r = run_main(stylize_main, ["generate", "-p", shoes_preset, "-n", "5", "-o", out, "--grid",
                               tmp_path / "grid.png", "--seed", "3", "--size", "32"], text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [f"blobs_seed3_{i:04d}.png" for i in range(5)]
    assert cv2.imread(str(files[0])).shape == (32, 32, 3)
    assert cv2.imread(str(tmp_path / "grid.png")).shape == (2 + 2 * 34, 2 + 3 * 34, 3)
    again = run_main(stylize_main, ["generate", "-p", shoes_preset, "-n", "5", "-o", out, "--seed", "3"], text=True)  # fmt: skip
    assert again.returncode == 1 and "already exist" in again.stderr  # never replaced unasked
    video = tmp_path / "walk.mp4"
    r = run_main(stylize_main, ["generate", "-p", shoes_preset, "--walk", "1.5", "--fps", "10", "-o", video], text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    with av.open(str(video)) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 15 and frames[0].shape == (256, 256, 3)


def test_the_same_seed_draws_the_same_images(shoes_preset):
    sampler = NoiseSampler(GenerateOptions(str(shoes_preset), "cpu", seed=7))
    first, second = sampler.draw(sampler.vectors(4)), sampler.draw(sampler.vectors(4))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    other = sampler.draw(sampler.vectors(4, seed=8))
    assert not np.array_equal(first[0], other[0])


def test_a_walk_moves_smoothly_along_the_sphere():
    a, b = torch.randn(1, 64), torch.randn(1, 64)
    points = slerp(a.repeat(11, 1), b.repeat(11, 1), torch.linspace(0, 1, 11))
    torch.testing.assert_close(points[0], a[0])
    torch.testing.assert_close(points[-1], b[0])
    steps = (points[1:] - points[:-1]).norm(dim=1)
    assert steps.max() < 1.2 * steps.min()  # even steps: no jumps
    lengths = points.norm(dim=1)  # never through the short middle of a straight line
    assert lengths.min() >= 0.99 * min(a.norm(), b.norm())


def test_presets_of_the_other_kind_are_refused(tmp_path, shoes_preset, tiny_weights):
    write_png(tmp_path / "x.png", blobs(0))
    r = run_main(stylize_main, [tmp_path / "x.png", "-p", shoes_preset, "-o", tmp_path / "o.png"], text=True)  # fmt: skip
    assert r.returncode == 1 and "stylize generate" in r.stderr and "Traceback" not in r.stderr
    r = run_main(stylize_main, ["generate", "-p", tiny_weights, "-o", tmp_path / "g"], text=True)
    assert r.returncode == 1 and "does not draw new ones" in r.stderr


def test_the_patch_distance_ranks_what_differs_more_further():
    """val_SWD: two sets of the same kind of image are close; blurred copies further; noise
    far."""
    from trainer.losses import sliced_wasserstein

    def images(start: int) -> torch.Tensor:
        return torch.stack([torch.from_numpy(blobs(i, 32)).permute(2, 0, 1).float() / 127.5 - 1
                            for i in range(start, start + 64)])  # fmt: skip

    real, other = images(0), images(100)
    same = sliced_wasserstein(real, other)
    blurred = sliced_wasserstein(real, torch.nn.functional.avg_pool2d(other, 5, 1, 2))
    noise = sliced_wasserstein(real, torch.rand_like(real) * 2 - 1)
    assert same < blurred < noise and noise > 5 * same
    assert sliced_wasserstein(real, other) == same  # seeded: figures of a run compare


def test_the_shipped_shoes_preset_draws_varied_shoes_and_is_listed_as_such(tmp_path):
    sampler = NoiseSampler(GenerateOptions("shoes", "cpu"))
    images = np.stack(sampler.draw(sampler.vectors(8)))
    assert images.shape == (8, 64, 64, 3)
    assert images.std(axis=0).mean() > 20  # eight different images, not one
    assert np.median(images[:, :4, :4]) > 200  # on white, as the photos are
    listed = run_main(stylize_main, ["--list-presets"], text=True).stdout
    lines = listed.splitlines()
    start = next(i for i, x in enumerate(lines) if x.startswith("shoes "))
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith(" ")), None)
    entry = "\n".join(lines[start:end])
    assert "stylize generate" in entry and "1280x720" not in entry
    write_png(tmp_path / "p.png", blobs(0, 64))
    r = run_main(stylize_main, ["sheet", tmp_path / "p.png", "-o", tmp_path / "s.png", "--size", "32"], text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr  # every preset that stylizes, not shoes


def test_an_unwritable_output_is_one_line_before_any_drawing(tmp_path, shoes_preset):
    for args in (["--walk", "1", "-o", "/proc/walk.mp4"], ["-n", "2", "-o", "/proc/new"]):
        r = run_main(stylize_main, ["generate", "-p", shoes_preset, *args], text=True)
        assert r.returncode == 1 and "not writable" in r.stderr and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
