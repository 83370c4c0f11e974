"""What a learner reads while training: the start-of-run summary, the validation lines, the
loss plot, the preview page, TensorBoard events, the messages at the end, and settings given
when continuing a run."""

import json

import av
import cv2
import numpy as np
from conftest import blobs, run_main, tiny, write_png
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from trainer.cli import main as trainer_main
from trainer.loop import train
from trainer.report import HEALTHY


def pix2pix(pairs, **kw):
    return tiny("pix2pix", list(pairs), epochs=1, decay_epochs=0, steps_per_epoch=20, lr=1e-3,
                preview_every=10, checkpoint_every=10, **kw)  # fmt: skip


def test_a_session_says_what_it_will_do_and_how_it_goes(tmp_path, inversion_pairs):
    said: list[str] = []
    train(pix2pix(inversion_pairs), tmp_path / "run", log=said.append, device="cpu")
    text = "\n".join(said)
    assert "pix2pix: 22 training images, 2 held out; to step 20 (1 epochs of 20 steps" in text
    assert "generator 0." in text and "M parameters" in text
    assert "G_L1 is the L1 error times --lambda-l1" in text  # the scales explained
    assert "the remaining" in text and "the next preview is at step" in text
    step0 = next(line for line in said if line.startswith("step 0: val_L1"))
    assert "(best val_L1" in step0 and "lower is better" in step0 and "the next at step 10" in step0
    assert "index.html" in step0
    page = (tmp_path / "run" / "previews" / "index.html").read_text()
    assert "held-out input | output | real target" in page
    assert sorted(p.name for p in (tmp_path / "run" / "previews").glob("*.png")) == [
        "step_00000000.png", "step_00000010.png", "step_00000020.png"]  # fmt: skip


def test_the_loss_plot_has_axes_a_note_and_the_best_step(tmp_path, inversion_pairs):
    train(pix2pix(inversion_pairs), tmp_path / "run", log=lambda m: None, device="cpu")
    plot = cv2.imread(str(tmp_path / "run" / "losses.png"))
    assert plot.shape[0] > 200 and plot.shape[1] == 3 * 360
    green = (plot[..., 1] > 120) & (plot[..., 0] < 80) & (plot[..., 2] < 80)
    assert green.any()  # the dashed line at the best checkpoint's step
    assert "Healthy" in HEALTHY and "wobble" in HEALTHY
    axes = plot[30 + 200 - 24, 48 : 360 - 12]  # the first panel's step axis: a black line
    assert (axes.max(axis=1) < 60).mean() > 0.9


def test_tensorboard_events_hold_the_scalars_images_and_doctor(tmp_path, inversion_pairs):
    train(pix2pix(inversion_pairs, tensorboard=True), tmp_path / "run", log=lambda m: None,
          device="cpu")  # fmt: skip
    events = EventAccumulator(str(tmp_path / "run"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert {"train/G_L1", "train/D_acc_real", "train/steps_per_s", "val/val_L1"} <= set(tags["scalars"])  # fmt: skip
    assert [e.step for e in events.Scalars("val/val_L1")] == [0, 10, 20]
    logged = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    l1 = [r["G_L1"] for r in logged if r["kind"] == "train"]
    assert np.allclose([e.value for e in events.Scalars("train/G_L1")], l1, rtol=1e-5)
    images = events.Images("previews")
    assert [e.step for e in images] == [0, 10, 20]
    png = cv2.imdecode(np.frombuffer(images[-1].encoded_image_string, np.uint8), cv2.IMREAD_COLOR)
    on_disk = cv2.imread(str(tmp_path / "run" / "previews" / "step_00000020.png"))
    assert png.shape == on_disk.shape and np.abs(png.astype(int) - on_disk).max() <= 1


def test_the_end_says_how_to_continue_and_continuing_takes_session_flags(tmp_path, inversion_pairs):
    a, b = inversion_pairs
    run = tmp_path / "run"
    common = ["--paired", a, b, "-o", run, "--ngf", "8", "--depth", "5", "--crop-size", "32",
              "--load-size", "36", "--workers", "0", "--epochs", "1", "--decay-epochs", "0",
              "--steps-per-epoch", "20", "--preview-every", "100", "-q"]  # fmt: skip
    r = run_main(trainer_main, [*common, "--stop-after", "5"], text=True)
    assert r.returncode == 0, r.stderr
    assert f"stopped at step 5 of 20: stylize-train -o {run} continues it" in r.stderr
    r = run_main(trainer_main, ["-o", run, "--preview-every", "7", "-q"], text=True)
    assert r.returncode == 0, r.stderr
    assert "continuing" in r.stderr and "preview-every 7 (was preview-every 100)" in r.stderr
    assert (run / "previews" / "step_00000007.png").is_file()  # it took effect
    assert f"finished: step 20 of 20; stylize-train export {run} --name NAME" in r.stderr
    r = run_main(trainer_main, ["-o", run, "--lr", "1e-5", "-q"], text=True)
    assert r.returncode == 1 and "--resume-with-changes" in r.stderr  # the schedule: asked for
    r = run_main(trainer_main, ["export", run, "--name", "sk", "-o", tmp_path / "p", "--checkpoint", "best"], text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "from step" in r.stderr and "the best val_L1" in r.stderr
    manifest = json.loads((tmp_path / "p" / "sk" / "preset.json").read_text())
    assert manifest["intended_input"].startswith(f"images like those in {a}")  # not "photos"


def test_an_unconditional_session_ends_with_a_timelapse(tmp_path):
    from test_unconditional import settings

    folder = tmp_path / "ab"
    for i in range(12):
        image = np.zeros((16, 32, 3), np.uint8)
        image[:, :16] = blobs(i, 16)
        write_png(folder / f"{i:03d}.png", image)
    said: list[str] = []
    train(settings(folder, preview_every=4), tmp_path / "run", log=said.append, device="cpu")
    assert any("wrote" in line and "timelapse.mp4" in line for line in said)
    with av.open(str(tmp_path / "run" / "timelapse.mp4")) as container:
        assert sum(1 for _ in container.decode(video=0)) == 4  # steps 0, 4, 8 and 12
