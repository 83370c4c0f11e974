"""The training doctor (``trainer/doctor.py``): each failure is said once when it starts and once
when it ends, a healthy run hears nothing, and NaNs stop a session before any checkpoint holds
them."""

import json
import math

import pytest
from conftest import blobs, weights_of, write_png

from trainer.doctor import COLLAPSE_WARMUP, WINDOW, Diverged, Doctor
from trainer.loop import train
from trainer.settings import Settings


def doctor(settings=frozenset({"diffaugment", "lr_d"}), best_by=None):
    lines, records = [], []
    return Doctor(lines.append, records.append, settings, best_by), lines, records


def healthy(step: int) -> dict[str, float]:
    wobble = math.sin(step / 30)
    return {"G_GAN": 0.8 + 0.2 * wobble, "D_real": 0.5, "D_fake": 0.5 - 0.1 * wobble,
            "D_acc_real": 0.7 + 0.1 * wobble, "D_acc_fake": 0.65, "diversity": 0.5,
            "real_diversity": 0.6}  # fmt: skip


def test_a_healthy_run_hears_nothing():
    d, lines, records = doctor(best_by=("val_PSNR", "higher"))
    for record in range(1000):
        d.train(record * 10, healthy(record))
        if record % 50 == 0:
            d.validated(record * 10, {"val_PSNR": 20 + record / 100})
    assert lines == [] and records == []


def test_a_winning_discriminator_is_said_once_with_flags_and_its_end_once():
    d, lines, records = doctor()
    for record in range(200):
        figures = healthy(record)
        if 50 <= record < 120:
            figures |= {"D_acc_real": 1.0, "D_acc_fake": 0.99}
        d.train(record * 10, figures)
    assert len(lines) == 2, lines
    start, end = lines
    assert "doctor: the discriminator is winning" in start
    assert 500 < records[0]["step"] < (50 + WINDOW) * 10  # within a window of its start
    assert "--diffaugment" in start and "--lr-d" in start and "--balance" in start
    assert "over: the discriminator is winning" in end
    assert [r["state"] for r in records] == ["start", "end"]
    assert {r["diagnosis"] for r in records} == {"discriminator-wins"}


def test_each_discriminator_of_cyclegan_is_watched_and_flags_exist():
    d, lines, _ = doctor(settings=frozenset())
    for record in range(40):
        d.train(record * 10, {"D_A_acc_real": 0.99, "D_A_acc_fake": 0.99, "D_B_acc_real": 0.6,
                              "D_B_acc_fake": 0.6})  # fmt: skip
    assert len(lines) == 1 and "discriminator D_A is winning" in lines[0]
    assert "--lr-d" not in lines[0] and "--diffaugment" not in lines[0]  # not its flags


def test_mode_collapse_waits_for_the_warmup_then_is_said():
    d, lines, records = doctor()
    for record in range(100):
        d.train(record * 10, healthy(record) | {"diversity": 0.05})
    assert (
        len(lines) == 1
        and "mode collapse: generated images (training) are 8% as varied" in lines[0]
    )
    assert records[0]["step"] == COLLAPSE_WARMUP


def test_nan_raises_and_is_recorded():
    d, _, records = doctor()
    d.train(10, healthy(1))
    with pytest.raises(Diverged, match="diverged at step 20: G_GAN became NaN"):
        d.train(20, healthy(2) | {"G_GAN": float("nan")})
    assert records[-1]["diagnosis"] == "divergence"


def test_no_progress_from_flat_validations():
    d, lines, _ = doctor(best_by=("val_L1", "lower"))
    for i, value in enumerate([0.5, 0.4, 0.3, 0.3, 0.31, 0.3, 0.3, 0.3, 0.3, 0.3, 0.2]):
        d.validated(i * 100, {"val_L1": value})
    assert len(lines) == 2 and "no progress: val_L1" in lines[0] and "over" in lines[1]


def test_a_session_that_diverges_keeps_the_last_good_checkpoint(tmp_path):
    for i in range(12):
        write_png(tmp_path / "img" / f"{i:03d}.png", blobs(i, 16))
    s = dict(task="unconditional", data=[str(tmp_path / "img")], image_size=16, latent=8, ngf=8,
             ndf=8, batch_size=4, workers=0, val_count=2, epochs=1, decay_epochs=0,
             steps_per_epoch=400, preview_every=1000, checkpoint_every=10)  # fmt: skip
    train(Settings(**s), tmp_path / "run", stop_after=10, log=lambda m: None, device="cpu")
    said = []
    with pytest.raises(Diverged):  # a learning rate no network survives
        train({"lr": 1e30, "lr_d": 1e30}, tmp_path / "run", log=said.append, device="cpu",
              changes=True)  # fmt: skip
    state = weights_of(tmp_path / "run")
    assert all(t.isfinite().all() for t in state["task"]["nets"]["G"].values() if t.is_floating_point())  # fmt: skip
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["kind"] == "doctor" and log[-1]["diagnosis"] == "divergence"
    assert state["step"] < log[-1]["step"]


@pytest.fixture
def shoes_like(tmp_path):
    """48 varied 16 px images."""
    for i in range(48):
        write_png(tmp_path / "img" / f"{i:03d}.png", blobs(i, 16))
    return tmp_path / "img"


def sabotage_run(folder, out, steps, **kw) -> list[dict]:
    """A small unconditional run of ``steps`` steps; its doctor's records."""
    s = dict(task="unconditional", data=[str(folder)], image_size=16, latent=16, ngf=16,
             ndf=16, batch_size=16, workers=0, val_count=2, epochs=1, decay_epochs=0,
             steps_per_epoch=steps, preview_every=10_000, checkpoint_every=10_000)  # fmt: skip
    train(Settings(**(s | kw)), out, log=lambda m: None, device="cpu")
    log = [json.loads(x) for x in (out / "log.jsonl").read_text().splitlines()]
    return [r for r in log if r["kind"] == "doctor"]


def test_a_healthy_small_run_gets_no_false_alarm(tmp_path, shoes_like):
    assert sabotage_run(shoes_like, tmp_path / "run", 600) == []


def test_a_discriminator_learning_50x_too_fast_is_diagnosed(tmp_path, shoes_like):
    said = sabotage_run(shoes_like, tmp_path / "run", 400, lr_d=0.02, diffaugment="none",
                        spectral_norm=False, gan_loss="nonsaturating")  # fmt: skip
    wins = [r for r in said if r["diagnosis"] == "discriminator-wins"]
    assert wins and wins[0]["state"] == "start" and wins[0]["step"] <= 400
    assert "--lr-d" in wins[0]["message"] and "--balance" in wins[0]["message"]


def test_balance_rests_the_winning_discriminator(tmp_path, shoes_like):
    said = sabotage_run(shoes_like, tmp_path / "run", 400, lr_d=0.02, diffaugment="none",
                        spectral_norm=False, gan_loss="nonsaturating", balance=True)  # fmt: skip
    assert any(r["diagnosis"] == "balance" for r in said)
    log = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    rested = [r["D_rests"] for r in log if r["kind"] == "train"]
    assert 0 < sum(rested) < len(rested)  # it rests some steps, not all


def test_a_generator_deaf_to_its_noise_collapses_and_is_diagnosed(
    tmp_path, shoes_like, monkeypatch
):
    """Its random input switched off (batch norm would scale a merely tiny one back up), the
    generator draws one image whatever it is given."""
    from trainer.tasks.unconditional import Unconditional

    real_noise = Unconditional.noise
    monkeypatch.setattr(Unconditional, "noise", lambda self, n: real_noise(self, n) * 0)
    said = sabotage_run(shoes_like, tmp_path / "run", 500)
    collapse = [r for r in said if r["diagnosis"] == "mode-collapse"]
    assert collapse and collapse[0]["step"] <= 500 and "mode collapse" in collapse[0]["message"]


def test_a_translation_task_collapsing_on_held_out_images_is_diagnosed():
    d, lines, _ = doctor(settings=frozenset({"diffaugment"}))
    d.validated(0, {"val_diversity": 0.01, "val_real_diversity": 0.5})  # untrained: too early
    d.validated(500, {"val_diversity": 0.3, "val_real_diversity": 0.5})
    d.validated(1000, {"val_diversity": 0.05, "val_real_diversity": 0.5})
    assert len(lines) == 1 and "generated images (held-out) are 10% as varied" in lines[0]
    assert "--latent" not in lines[0]  # not this task's flag


def test_a_winning_judge_of_a_generator_with_its_own_loss_is_explained_as_such():
    d, lines, _ = doctor(settings=frozenset({"lambda_l1", "diffaugment"}))
    for record in range(WINDOW):
        d.train(record * 10, {"D_acc_real": 1.0, "D_acc_fake": 1.0, "G_grad": 90.0})
    assert len(lines) == 1 and "still learns from its L1 loss to the targets" in lines[0]
    assert "a lower --lr " in lines[0] and "--lr-d" not in lines[0]
