"""``stylize-train distill``: a small student learns a teacher generator's outputs."""

import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch
from conftest import SHARED, blobs, run_main, save_generator, weights_of, write_png
from torch.utils.data import DataLoader

from stylizer import StylizeError, load_generator
from stylizer.cli import main as stylize_main
from stylizer.models import GeneratorSpec
from stylizer.styles.presets import BUILTIN_DIR, Preset
from trainer.cli import main as trainer_main
from trainer.evaluate import evaluate_run
from trainer.export import export_preset
from trainer.loop import build_data, train
from trainer.settings import Settings
from trainer.tasks import TASKS

ROOT = Path(__file__).resolve().parents[1]


def photos(folder: Path, count: int = 40, size: int = 48, first: int = 0) -> Path:
    """``count`` real landscape photos, shrunk to ``size`` px so that the teacher is cheap."""
    sources = sorted((SHARED / "vangogh2photo" / "testB").iterdir())[first : first + count]
    for i, source in enumerate(sources):
        image = cv2.resize(cv2.imread(str(source)), (size, size), interpolation=cv2.INTER_AREA)
        write_png(folder / f"{i:03d}.png", image)
    return folder


def settings(folder: Path, teacher: Path, **kw) -> Settings:
    base = dict(task="distill", teacher=str(teacher), data=[str(folder)], ngf=8, depth=1,
                crop_size=32, sizes=[32, 48], batch_size=4, epochs=60, decay_epochs=0,
                steps_per_epoch=1, lr=3e-3, val_count=4, workers=0, preview_every=20,
                checkpoint_every=20)  # fmt: skip
    return Settings(**(base | kw))


def val_curve(run: Path, key: str) -> list[float]:
    records = map(json.loads, (run / "log.jsonl").read_text().splitlines())
    return [r[key] for r in records if r["kind"] == "val"]


@pytest.fixture(scope="module")
def teacher(tmp_path_factory) -> Path:
    """A small ResNet with random weights, where a test needs a teacher it can change."""
    d = tmp_path_factory.mktemp("teacher")
    return save_generator(d / "teacher_net_G_A.pth", GeneratorSpec("resnet", 2, ngf=8), seed=2)


@pytest.fixture(scope="module")
def distilled(tmp_path_factory, teacher) -> Path:
    """The shipped vangogh preset distilled into a tiny student for 60 steps."""
    root = tmp_path_factory.mktemp("distill")
    out = train(settings(photos(root / "photos"), "vangogh"), root / "run", log=lambda m: None)
    assert out.step == 60
    return root / "run"


def test_student_learns_the_teacher(distilled):
    s = Settings.load(distilled / "settings.json")
    _, val_set = build_data(s, print, distilled)
    batch = next(iter(DataLoader(val_set, batch_size=len(val_set))))
    torch.manual_seed(s.seed)  # the run's student before its first step
    before, _ = TASKS["distill"](s, torch.device("cpu")).evaluate(batch)
    l1 = val_curve(distilled, "val_L1")
    assert len(l1) == 4 and l1[0] == before["val_L1"]  # step 0's preview: the untrained student
    assert l1[-1] < min(l1[1], 0.7 * before["val_L1"]), (before, l1)
    assert val_curve(distilled, "val_PSNR")[-1] > before["val_PSNR"] + 3
    assert before["val_SSIM"] < val_curve(distilled, "val_SSIM")[-1] <= 1
    assert weights_of(distilled)["task"]["nets"].keys() == {"G"}  # no teacher in checkpoints


def test_teacher_outputs_are_cached_once(distilled):
    cache = distilled / "teacher"
    # 36 training photos at two sizes, 4 held out at the first size only
    assert len(list((cache / "train" / "32").glob("*.png"))) == 36
    assert len(list((cache / "train" / "48").glob("*.png"))) == 36
    assert len(list((cache / "val").rglob("*.png"))) == 4
    target = cv2.imread(str(cache / "train" / "48" / "000000.png"))
    assert target.shape == (48, 48, 3)
    # the cached target is the teacher's output for the photo at that size
    photo = cv2.imread(str(distilled.parent / "photos" / "000.png"))[:, :, ::-1]
    photo = torch.from_numpy(photo.copy()).permute(2, 0, 1)[None]
    with torch.no_grad():
        expected = load_generator("vangogh")(photo.float() / 127.5 - 1)[0]
    expected = ((expected + 1) * 127.5).round().clamp(0, 255).byte().permute(1, 2, 0).numpy()
    assert abs(target[:, :, ::-1].astype(int) - expected).max() <= 1


def test_previews_show_input_teacher_student_difference(distilled):
    png = cv2.imread(str(distilled / "previews" / "step_00000060.png"))
    assert png.shape[1] == 4 * 32 + 5 * 4  # four columns of 32 px crops, 4 px padding
    assert (
        "input | teacher | student | difference"
        in (distilled / "previews" / "index.html").read_text()
    )


def test_any_photo_shape_and_teacher_architecture(tmp_path):
    """Photos of odd sizes and aspect ratios; a teacher that takes only multiples of 4 (a
    compact one): its outputs are padded and cropped back to line up with the photos."""
    folder = tmp_path / "photos"
    for i in range(10):
        write_png(folder / f"{i}.png", cv2.resize(blobs(i), (61 + i, 40 + 3 * i)))
    teacher = save_generator(tmp_path / "compact.pth", GeneratorSpec("compact", 1, ngf=8))
    s = settings(folder, teacher, sizes=[32, 37], epochs=3, val_count=1)
    assert train(s, tmp_path / "run", log=lambda m: None).step == 3
    train_set, _ = build_data(Settings.load(tmp_path / "run" / "settings.json"), print,
                              tmp_path / "run")  # fmt: skip
    for i, photo in enumerate(train_set.photos):
        h, w = cv2.imread(str(photo)).shape[:2]
        scale = 37 / min(h, w)
        cached = cv2.imread(str(train_set.target_path(i, 37)))
        assert cached.shape == (max(37, round(h * scale)), max(37, round(w * scale)), 3)


def test_distill_resumes_exactly(tmp_path, teacher):
    folder = photos(tmp_path / "photos", 12)
    s = settings(folder, teacher, epochs=12, checkpoint_every=5)
    train(s, tmp_path / "straight", log=lambda m: None)
    train(s, tmp_path / "split", stop_after=7, log=lambda m: None)
    cached = {p: p.stat().st_mtime_ns for p in (tmp_path / "split" / "teacher").rglob("*.png")}
    train(None, tmp_path / "split", log=lambda m: None)
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "split" / "teacher").rglob("*.png")}
    assert after == cached  # the second session read the first one's targets
    a, b = weights_of(tmp_path / "straight"), weights_of(tmp_path / "split")
    assert a["step"] == b["step"] == 12
    for k, v in a["task"]["nets"]["G"].items():
        assert torch.equal(v, b["task"]["nets"]["G"][k]), k


def test_changed_teacher_recomputes_the_cache(tmp_path, teacher):
    folder = photos(tmp_path / "photos", 8)
    messages = []
    other = save_generator(tmp_path / "other.pth", GeneratorSpec("resnet", 2, ngf=8))
    s = settings(folder, other, epochs=2, val_count=2)
    train(s, tmp_path / "run", log=messages.append)
    first = (tmp_path / "run" / "teacher" / "train" / "32" / "000000.png").read_bytes()
    save_generator(other, GeneratorSpec("resnet", 2, ngf=8), seed=1)  # new weights, same file
    s.epochs = 4
    train(s, tmp_path / "run", log=messages.append, changes=True)
    assert any("teacher or the photos changed" in m for m in messages)
    assert (tmp_path / "run" / "teacher" / "train" / "32" / "000000.png").read_bytes() != first


def test_export_records_the_teacher_and_lists_the_cost(distilled, tmp_path):
    folder = export_preset(distilled, "tiny-fast", out_dir=tmp_path / "presets")
    manifest = json.loads((folder / "preset.json").read_text())
    assert manifest["architecture"]["arch"] == "compact"
    assert manifest["training"]["task"] == "distill"
    origin = manifest["distilled_from"]
    assert origin["teacher"] == "vangogh"
    assert (
        origin["architecture"]
        == json.loads((BUILTIN_DIR / "vangogh" / "preset.json").read_text())["architecture"]
    )
    assert manifest["training"]["last_validation"]["val_PSNR"] > 0
    # It paints what the teacher paints, at the teacher's scale.
    assert manifest["working_size"] == Preset.read(BUILTIN_DIR / "vangogh").working_size
    r = run_main(stylize_main, ["--list-presets"], env={"STYLIZE_PRESETS": str(tmp_path / "presets")},
                 text=True)  # fmt: skip
    line = r.stdout[r.stdout.index("tiny-fast") :].split("\n\n")[0]
    assert "GFLOP per 1280x720 frame" in line and "mimics vangogh" in line
    assert "dB PSNR to it" in line and "paints at" in line


def test_evaluate_runs_the_teacher_on_held_out_photos(distilled, tmp_path):
    result = evaluate_run(distilled, [photos(tmp_path / "held", 6, 64, first=60)], size=32,
                          log=print)  # fmt: skip
    assert result.count == 6
    assert result.metrics["val_PSNR"] > val_curve(distilled, "val_PSNR")[0]
    assert set(result.metrics) == {"val_L1", "val_PSNR", "val_SSIM", "val_diversity", "val_real_diversity"}  # fmt: skip


def test_teacher_can_be_a_run_folder(distilled, tmp_path):
    s = settings(photos(tmp_path / "photos", 8), distilled, epochs=1, val_count=2)
    out = train(s, tmp_path / "second", log=lambda m: None)
    assert out.step == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no-such-preset", "PHOTOS"], "no preset named 'no-such-preset'"),
        (["TEACHER", "PHOTOS", "--sizes", "16,24"], "smaller than the 32px crop"),
        (["TEACHER", "PHOTOS", "--sizes", "big"], "comma-separated pixel counts"),
        (["TEACHER", "missing/"], "missing: no such folder"),
        (["TEACHER", "PHOTOS", "--crop-size", "30"], "multiples of 4; use --crop-size 28"),
    ],
)
def test_distill_cli_errors_are_one_line(tmp_path, teacher, args, message):
    folder = photos(tmp_path / "photos", 4)
    args = [str(teacher) if a == "TEACHER" else str(folder) if a == "PHOTOS" else a for a in args]
    # options in args come later, and so win
    r = run_main(trainer_main, ["distill", "-o", tmp_path / "run", "--crop-size", "32", *args],
                 text=True)  # fmt: skip
    assert r.returncode != 0
    # one line; click's usage errors add their usage lines above it
    assert message in r.stderr.strip().splitlines()[-1] and "Traceback" not in r.stderr, r.stderr


def test_distill_cli_trains_and_continues(tmp_path, teacher):
    folder = photos(tmp_path / "photos", 8)
    args = ["distill", teacher, folder, "-o", tmp_path / "run", "--ngf", "8", "--depth", "1",
            "--crop-size", "32", "--sizes", "32", "--epochs", "3", "--decay-epochs", "0",
            "--steps-per-epoch", "1", "--val-count", "2", "--workers", "0", "-q"]  # fmt: skip
    r = run_main(trainer_main, args, text=True)
    assert r.returncode == 0, r.stderr
    assert "step 3 of 3" in r.stderr
    saved = json.loads((tmp_path / "run" / "settings.json").read_text())
    assert saved["task"] == "distill" and saved["sizes"] == [32] and saved["arch"] == "compact"
    assert saved["teacher"] == str(teacher)
    # a run's settings.json serves as --config for another (its list of sizes too)
    r = run_main(trainer_main, ["distill", teacher, folder, "-o", tmp_path / "again", "--config",
                                tmp_path / "run" / "settings.json", "--epochs", "1"], text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    again = json.loads((tmp_path / "again" / "settings.json").read_text())
    assert again["sizes"] == [32] and again["ngf"] == 8 and again["epochs"] == 1


def test_two_gloo_processes_share_the_teacher_work(tmp_path, teacher):
    folder = photos(tmp_path / "photos", 12)
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "trainer", "distill", teacher, folder, "-o", tmp_path / "ddp", "--ngf", "8",
         "--depth", "1", "--crop-size", "32", "--sizes", "32,48", "--epochs", "4",
         "--decay-epochs", "0", "--steps-per-epoch", "1", "--batch-size", "2", "--workers", "0",
         "--device", "cpu", "-q"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-8000:]
    assert weights_of(tmp_path / "ddp")["step"] == 4
    cache = tmp_path / "ddp" / "teacher"
    assert len(list((cache / "train").rglob("*.png"))) == 2 * 11  # 1 of 12 held out
    assert len(list((cache / "val").rglob("*.png"))) == 1


def test_adversarial_distill_resumes_exactly_and_starts_from_an_l1_run(tmp_path, teacher):
    """``--lambda-gan`` (and ``--lambda-features``) add a discriminator that learns the teacher's
    outputs as real; a split run ends with the same networks, and a run made with L1 only can
    be fine-tuned adversarially (its student kept, the discriminator new)."""
    folder = photos(tmp_path / "photos", 12)
    s = settings(folder, teacher, epochs=10, checkpoint_every=5, lambda_gan=0.05,
                 lambda_features=1.0, ndf=8)  # fmt: skip
    train(s, tmp_path / "straight", log=lambda m: None)
    train(s, tmp_path / "split", stop_after=4, log=lambda m: None)
    train(None, tmp_path / "split", log=lambda m: None)
    a, b = weights_of(tmp_path / "straight"), weights_of(tmp_path / "split")
    assert a["task"]["nets"].keys() == {"G", "D"} and a["task"]["optims"].keys() == {"G", "D"}
    for net in ("G", "D"):
        for k, v in a["task"]["nets"][net].items():
            assert torch.equal(v, b["task"]["nets"][net][k]), (net, k)
    records = [
        json.loads(x) for x in (tmp_path / "straight" / "log.jsonl").read_text().splitlines()
    ]
    logged = [r for r in records if r["kind"] == "train"][-1]
    assert {"L1", "G_GAN", "G_features", "D_real", "D_fake"} <= logged.keys()
    # From an L1-only run: its student carries over, the discriminator starts fresh.
    train(settings(folder, teacher, epochs=3), tmp_path / "l1", log=lambda m: None)
    tuned = settings(
        folder, teacher, epochs=1, lambda_gan=0.05, ndf=8, lr=0.0, init_from=str(tmp_path / "l1")
    )  # fmt: skip  (lr 0: one step moves nothing)
    train(tuned, tmp_path / "tuned", stop_after=1, log=lambda m: None)
    start = weights_of(tmp_path / "tuned")["task"]["nets"]["G"]
    l1 = weights_of(tmp_path / "l1")["task"]["nets"]["G"]
    assert all(torch.equal(v, l1[k]) for k, v in start.items())
    with pytest.raises(StylizeError, match="needs --lambda-gan"):
        settings(folder, teacher, lambda_features=1.0).resolve()
