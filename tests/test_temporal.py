import cv2
import numpy as np
import pytest
import torch
from clips import camera_move
from conftest import SHARED, noise_image, run_main, write_video

from stylizer.cli import flicker_main
from stylizer.flicker import measure_flicker, visible_mask
from stylizer.optical_flow import dis_flow, to_gray
from stylizer.options import InferenceOptions, TemporalOptions
from stylizer.pipeline import Stylizer, stylize_files
from stylizer.temporal import make_smoother, smoothed


def photo() -> np.ndarray:
    path = SHARED / "samples" / "kodim03.png"
    if path.exists():
        return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    return cv2.GaussianBlur(noise_image(512, 768), (0, 0), 6)  # smooth texture, if no samples


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    mse = np.mean([((x.astype(np.float32) - y) / 255) ** 2 for x, y in zip(a, b)])
    return float(10 * np.log10(1 / mse))


class FlickeryStylizer:
    """A stand-in for a GAN: a fixed colour change plus texture noise that differs every frame."""

    def __init__(self, amount: float = 14.0) -> None:
        self.rng = np.random.default_rng(0)
        self.amount = amount

    def __call__(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        out = []
        for f in frames:
            noise = cv2.GaussianBlur(self.rng.normal(0, 1, f.shape).astype(np.float32), (0, 0), 1)
            styled = f.astype(np.float32) * [0.9, 0.8, 0.6] + 20 + noise * self.amount * 2
            out.append(np.clip(styled, 0, 255).astype(np.uint8))
        return out


def test_warping_error_zero_for_steady_outputs_and_about_twice_the_noise_variance():
    clip = camera_move(photo(), 6, (192, 128), shift=(3, 1))
    assert measure_flicker(clip, clip).warping_error < 2e-4
    rng = np.random.default_rng(0)
    sigma = 0.04
    noisy = [
        np.clip(f + rng.normal(0, sigma * 255, f.shape), 0, 255).astype(np.uint8) for f in clip
    ]
    report = measure_flicker(clip, noisy, reference=clip)
    assert report.warping_error == pytest.approx(2 * sigma**2, rel=0.3)
    assert report.psnr == pytest.approx(-10 * np.log10(sigma**2), abs=1.0)


def test_visible_mask_excludes_what_leaves_the_frame_and_unmatched_content():
    clip = camera_move(photo(), 2, (192, 128), shift=(8, 0))
    a, b = to_gray(clip[0]), to_gray(clip[1])
    mask = visible_mask(dis_flow(a, b, "medium"), dis_flow(b, a, "medium"))
    assert mask[:, 20:150].mean() > 0.9  # the middle moves 8 px left and stays in view
    assert mask[:, :6].mean() < 0.2  # the left edge leaves the frame
    other = to_gray(noise_image(128, 192, seed=3))
    mask = visible_mask(dis_flow(a, other, "medium"), dis_flow(other, a, "medium"))
    assert mask.mean() < 0.5


@pytest.mark.parametrize("move", [{"shift": (3, 1)}, {"shift": (0, 0), "zoom": 1.01}])
def test_flow_smoothing_halves_flicker_and_stays_faithful(move):
    clip = camera_move(photo(), 16, (240, 160), **move)
    per_frame = FlickeryStylizer()(clip)
    flow = make_smoother("flow")(clip, per_frame)
    ema = make_smoother("ema")(clip, per_frame)
    base = measure_flicker(clip, per_frame).warping_error
    flow_report = measure_flicker(clip, flow, reference=per_frame)
    assert flow_report.warping_error < 0.5 * base
    assert flow_report.psnr > 30
    assert measure_flicker(clip, ema).warping_error < base  # the baseline helps, less well


def test_smoothing_state_carries_across_batches():
    clip = camera_move(photo(), 7, (96, 64))
    per_frame = FlickeryStylizer()(clip)
    whole = make_smoother("flow")(clip, per_frame)
    batched, smoother = [], make_smoother("flow")
    for i in range(0, 7, 3):
        batched += smoother(clip[i : i + 3], per_frame[i : i + 3])
    assert all(np.array_equal(a, b) for a, b in zip(whole, batched, strict=True))
    assert not np.array_equal(whole[-1], per_frame[-1])


@pytest.mark.parametrize("name", ["flow", "ema"])
def test_scene_cut_restarts_the_history(name):
    first = camera_move(photo(), 4, (96, 64))
    second = [np.full_like(first[0], 30) + noise_image(64, 96, seed=k) // 8 for k in range(3)]
    clip = first + second
    per_frame = FlickeryStylizer()(clip)
    out = make_smoother(name)(clip, per_frame)
    assert np.array_equal(out[0], per_frame[0]) and not np.array_equal(out[3], per_frame[3])
    assert np.array_equal(out[4], per_frame[4])  # the cut: nothing of the old scene carried in


def test_tensor_warp_and_blend_match_opencv():
    clip = camera_move(photo(), 5, (96, 64), shift=(2.5, -1.5))
    clip.insert(3, np.full_like(clip[0], 30))  # a cut: the history on the device restarts
    per_frame = FlickeryStylizer()(clip)
    cpu = make_smoother("flow")(clip, per_frame)
    smoother = make_smoother("flow")
    smoother.on_device = True  # the GPU code path, run on the CPU
    tensor = smoother(clip, per_frame)
    assert np.array_equal(tensor[3], per_frame[3]) and np.array_equal(tensor[4], per_frame[4])
    for a, b in zip(cpu, tensor, strict=True):
        assert np.abs(a.astype(int) - b).max() <= 2
    assert not np.array_equal(tensor[5], per_frame[5])


def test_strength_is_checked():
    with pytest.raises(Exception, match="between 0 and 1"):
        make_smoother("flow", 1.5)
    with pytest.raises(Exception, match="unknown temporal smoothing"):
        make_smoother("blur")


def make_clip_file(path, frames, fps=10):
    """A lossless clip, so the smoothers see exactly these frames."""
    write_video(path, frames, fps=fps, pix_fmt="yuv444p", options={"crf": "0"})


def test_cli_smooths_videos_and_measures_flicker(tmp_path, tiny_weights):
    src = tmp_path / "pan.mp4"
    make_clip_file(src, camera_move(photo(), 8, (96, 64), shift=(2, 1)))
    for mode in ("none", "flow"):
        summary = stylize_files(
            [str(src)], tiny_weights, tmp_path / mode, temporal=TemporalOptions(mode)
        )
        assert not summary.failed, summary.failed

    def flicker(*args):
        return run_main(flicker_main, list(args), text=True)

    result = flicker(src, tmp_path / "flow" / "pan.mp4", "-r", tmp_path / "none" / "pan.mp4")
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout.startswith("8 frames: warping error ")
        and "PSNR to reference" in result.stdout
    )
    bad = flicker(src, tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    short = tmp_path / "short.mp4"
    make_clip_file(short, camera_move(photo(), 5, (96, 64)))
    bad = flicker(src, short)
    assert bad.returncode == 1 and "fewer frames" in bad.stderr and "Traceback" not in bad.stderr
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"nothing")
    bad = flicker(src, junk)
    assert bad.returncode == 1 and bad.stderr.startswith("stylize: error: ")


def test_stylizer_frames_through_the_smoother_in_batches(tiny_weights):
    """The pipeline's composition: engine batches, then the smoother, in frame order."""
    clip = camera_move(photo(), 5, (64, 48))
    results = []
    for batch in (2, 5):
        stylizer = Stylizer(tiny_weights, InferenceOptions(device="cpu", batch_size=batch))
        run = smoothed(stylizer.stylize_frames, make_smoother("flow"))
        results.append([f for i in range(0, 5, batch) for f in run(clip[i : i + batch])])
    per_frame = Stylizer(tiny_weights, InferenceOptions(device="cpu")).stylize_frames(clip)
    # batches of 2 and 5 agree (to the engine's own rounding between batch sizes)
    assert max(np.abs(a.astype(int) - b).max() for a, b in zip(*results, strict=True)) <= 1
    assert np.array_equal(results[0][0], per_frame[0])
    assert not np.array_equal(results[0][4], per_frame[4])


@pytest.mark.gpu
def test_flow_smoothing_on_the_gpu_matches_the_cpu():
    clip = camera_move(photo(), 4, (320, 192), shift=(2.5, -1.5))
    per_frame = FlickeryStylizer()(clip)
    cpu = make_smoother("flow")(clip, per_frame)
    gpu = make_smoother("flow", device=torch.device("cuda"))(clip, per_frame)
    assert max(np.abs(a.astype(int) - b).max() for a, b in zip(cpu, gpu)) <= 3
