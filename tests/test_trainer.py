import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import (
    SHARED,
    blobs,
    make_inversion_pairs,
    noise_image,
    run_main,
    tiny,
    weights_of,
    write_png,
)

from stylizer import StylizeError, load_generator
from stylizer.cli import main as stylize_main
from trainer.cli import main as trainer_main
from trainer.export import export_preset
from trainer.loop import train
from trainer.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def val_curve(run: Path, key: str) -> list[float]:
    lines = (run / "log.jsonl").read_text().splitlines()
    return [r[key] for r in map(json.loads, lines) if r["kind"] == "val"]


@pytest.fixture(scope="module")
def inversion_run(tmp_path_factory) -> Path:
    """One pix2pix run of 150 steps on the inversion pairs, every numbered checkpoint kept."""
    root = tmp_path_factory.mktemp("inversion")
    s = tiny("pix2pix", list(make_inversion_pairs(root)), epochs=150, decay_epochs=0,
             steps_per_epoch=1, lr=1e-3, preview_every=25, checkpoint_every=25,
             keep_checkpoints=0)  # fmt: skip
    out = train(s, root / "run", log=lambda m: None)
    assert out.step == 150
    return root / "run"


def test_pix2pix_learns_colour_inversion(inversion_run):
    l1 = val_curve(inversion_run, "val_L1")
    assert len(l1) == 7  # the untrained network's at step 0, then every 25 steps
    assert l1[-1] < 0.5 * l1[0], l1
    assert val_curve(inversion_run, "val_PSNR")[-1] > val_curve(inversion_run, "val_PSNR")[0]
    run = inversion_run
    assert (run / "settings.json").is_file() and (run / "losses.png").is_file()
    assert (run / "previews" / "index.html").is_file()
    assert len(list((run / "previews").glob("step_*.png"))) == 7
    assert len(list((run / "checkpoints").glob("step_*.pt"))) == 6


def assert_same_state(a, b, where="state"):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_state(a[k], b[k], f"{where}.{k}")
    elif torch.is_tensor(a):
        assert torch.equal(a, b), where
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_state(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


@pytest.mark.parametrize("task", ["cyclegan", "pix2pix"])
def test_resume_ends_with_the_same_weights(tmp_path, inversion_pairs, task):
    """Exact on the CPU. On a GPU, reflection padding's and bilinear upsampling's backward
    passes are nondeterministic (atomic adds), so a split run matches only to rounding."""
    s = dict(epochs=2, decay_epochs=2, steps_per_epoch=6, checkpoint_every=1000, preview_every=1000)
    train(
        tiny(task, list(inversion_pairs), **s), tmp_path / "whole", log=lambda m: None, device="cpu"
    )
    train(
        tiny(task, list(inversion_pairs), **s),
        tmp_path / "split",
        stop_after=9,
        log=lambda m: None,
        device="cpu",
    )
    assert weights_of(tmp_path / "split")["step"] == 9
    out = train(
        None, tmp_path / "split", log=lambda m: None, device="cpu"
    )  # continue from settings.json
    assert out.step == 24
    whole, split = weights_of(tmp_path / "whole"), weights_of(tmp_path / "split")
    assert_same_state(whole, split)
    # The learning rate decayed linearly to (nearly) nothing over the last epochs.
    records = [json.loads(x) for x in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    lrs = [r["lr"] for r in records if r["kind"] == "train"]
    assert lrs[0] == 2e-4 and lrs[-1] < 1e-4


@pytest.mark.parametrize("arch", ["resnet", "resnet-resize"])
def test_export_then_stylize_preset(tmp_path, inversion_pairs, arch):
    s = tiny("cyclegan", list(inversion_pairs), epochs=1, decay_epochs=0, steps_per_epoch=4,
             arch=arch)  # fmt: skip
    train(s, tmp_path / "run", log=lambda m: None)
    folder = export_preset(
        tmp_path / "run", "inverse", direction="AtoB", out_dir=tmp_path / "presets"
    )
    manifest = json.loads((folder / "preset.json").read_text())
    assert manifest["architecture"]["arch"] == arch and manifest["training"]["steps"] == 4
    assert manifest["working_size"] == s.load_size  # the scale it learnt at
    record = manifest["training"]
    assert list(record["data_counts"].values()) == [len(list(Path(d).iterdir())) for d in s.data]
    assert record["hardware"] and "CPU" in record["hardware"][0]
    assert 0 < record["wall_time_s"] < 300
    about = tmp_path / "about.json"
    about.write_text('{"licence_notes": "made up for the test"}')
    r = run_cli("export", tmp_path / "run", "--name", "inv2", "-o", tmp_path / "presets",
                "--about", about)  # fmt: skip
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / "presets" / "inv2" / "preset.json").read_text())
    assert manifest["licence_notes"] == "made up for the test"
    about.write_text('{"working_size": "large"}')  # refused, and nothing is published
    r = run_cli("export", tmp_path / "run", "--name", "inv4", "-o", tmp_path / "presets",
                "--about", about)  # fmt: skip
    assert r.returncode != 0 and "working_size" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not (tmp_path / "presets" / "inv4").exists()
    # Without -o, into the user's presets (never into the installed package), found by name.
    # (--overwrite: each parameter of this test exports inv3 into the session's one home)
    assert run_cli("export", tmp_path / "run", "--name", "inv3", "--overwrite").returncode == 0
    from stylizer.styles.presets import BUILTIN_DIR, user_presets_dir

    assert (user_presets_dir() / "inv3" / "preset.json").is_file()
    assert not (BUILTIN_DIR / "inv3").exists() and load_generator("inv3") is not None
    g = load_generator(folder)
    ref = load_generator(tmp_path / "run" / "export" / "inverse_net_G.pth")  # fp32 reference-style
    x = torch.rand(1, 3, 40, 40) * 2 - 1
    with torch.no_grad():
        assert (g(x) - ref(x)).abs().max() < 0.02  # fp16 storage
    env = {"STYLIZE_PRESETS": str(tmp_path / "presets")}
    img = write_png(tmp_path / "p.png", noise_image(30, 44))
    r = run_main(stylize_main, [img, "--preset", "inverse"], text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "p_inverse.png").is_file()
    r = run_main(stylize_main, ["--list-presets"], text=True, env=env)
    assert "inverse" in r.stdout


def run_cli(*args):
    """``stylize-train ARGS``, run in this process; stdout and stderr as text."""
    return run_main(trainer_main, list(args), text=True)


def test_bad_training_input_is_explained(tmp_path, inversion_pairs):
    a, b = inversion_pairs
    (tmp_path / "empty").mkdir()
    cases = [
        ["--paired", tmp_path / "empty", b, "-o", tmp_path / "r1"],
        ["--paired", a, tmp_path / "missing", "-o", tmp_path / "r2"],
        ["--paired", a, b, "-o", tmp_path / "r3", "--crop-size", "300"],
        [a, b, "-o", tmp_path / "r4"],  # no task
    ]
    for args in cases:
        r = run_cli(*args)
        assert r.returncode != 0 and "Traceback" not in r.stderr, args
        assert len([x for x in r.stderr.splitlines() if x.strip()]) <= 3, r.stderr
    # Unmatched names: one warning, the rest train. Non-image files are ignored.
    write_png(a / "lonely.png", blobs(99))
    (b / "notes.txt").write_text("x")
    common = ["--depth", "5", "--ngf", "8", "--load-size", "36", "--crop-size", "32",
              "--workers", "0", "--stop-after", "2"]  # fmt: skip
    r = run_cli("--paired", a, b, "-o", tmp_path / "ok", *common)
    assert r.returncode == 0, r.stderr
    assert "lonely" in r.stderr and "no partner" in r.stderr
    # A run folder of another kind is refused and left as it was.
    before = (tmp_path / "ok" / "settings.json").read_text()
    r = run_cli("--unpaired", a, b, "-o", tmp_path / "ok", *common)
    assert r.returncode == 1 and "pix2pix run" in r.stderr
    assert (tmp_path / "ok" / "settings.json").read_text() == before
    # A truncated checkpoint gives a one-line error.
    latest = tmp_path / "ok" / "checkpoints" / "latest.pt"
    latest.write_bytes(latest.read_bytes()[:500])
    r = run_cli("-o", tmp_path / "ok")
    assert r.returncode == 1 and "damaged" in r.stderr and "Traceback" not in r.stderr


def test_aligned_ab_folder_and_direction(tmp_path):
    for i in range(12):
        a = blobs(i)
        write_png(tmp_path / "ab" / "train" / f"{i}_AB.png", np.hstack([a, 255 - a]))
    for i in range(2):
        a = blobs(100 + i)
        write_png(tmp_path / "ab" / "val" / f"{i}_AB.png", np.hstack([a, 255 - a]))
    s = tiny("pix2pix", [tmp_path / "ab"], aligned=True, direction="BtoA", epochs=1,
             decay_epochs=0, steps_per_epoch=2)  # fmt: skip
    train(s, tmp_path / "run", log=lambda m: None)
    from trainer.loop import build_data

    train_set, val_set = build_data(s.resolve(), print, tmp_path)
    assert len(train_set) == 12 and len(val_set) == 2
    item = val_set[0]
    torch.testing.assert_close(item["A"], -item["B"], atol=0.02, rtol=0)  # B is the negative


def test_sketchify(tmp_path):
    write_png(tmp_path / "photos" / "x" / "a.png", blobs(1, 64))
    r = run_cli("sketchify", tmp_path / "photos", tmp_path / "sk")
    assert r.returncode == 0, r.stderr
    import cv2

    sk = cv2.imread(str(tmp_path / "sk" / "x" / "a.png"), cv2.IMREAD_UNCHANGED)
    assert sk.shape == (64, 64) and sk.mean() > 128  # mostly paper-white


def test_ddp_with_two_gloo_processes(tmp_path, inversion_pairs):
    a, b = inversion_pairs
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "trainer", "--paired", a, b, "-o", tmp_path / "ddp", "--depth", "5",
         "--ngf", "8", "--load-size", "36", "--crop-size", "32", "--workers", "0",
         "--epochs", "1", "--decay-epochs", "0", "--steps-per-epoch", "4", "--device", "cpu", "-q"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-8000:]  # long enough to reach the failing rank's error
    state = weights_of(tmp_path / "ddp")
    assert state["step"] == 4
    assert "step 4 of 4" in r.stderr


@pytest.mark.skipif(not (SHARED / "edges2shoes").is_dir(), reason="no shared data")
def test_real_aligned_data_loads(tmp_path):
    s = Settings(task="pix2pix", data=[str(SHARED / "edges2shoes")], aligned=True,
                 direction="BtoA").resolve()  # fmt: skip
    from trainer.loop import build_data

    train_set, val_set = build_data(s, print, tmp_path)
    assert len(train_set) == 500 and len(val_set) == 8
    item = train_set[(0, 1)]
    assert item["A"].shape == (3, 256, 256) and item["A"].mean() > item["B"].mean()  # edges: white


def test_settings_errors():
    with pytest.raises(StylizeError):
        Settings(task="pix2pix", crop_size=200).resolve()


@pytest.mark.parametrize("number", [signal.SIGINT, signal.SIGHUP], ids=["SIGINT", "SIGHUP"])
def test_ctrl_c_or_hangup_saves_and_resumes(tmp_path, inversion_pairs, number):
    """A real signal to this process while it trains (the subprocess SIGTERM test in
    test_reliability covers the exit status)."""
    a, b = inversion_pairs
    log = tmp_path / "run" / "log.jsonl"

    done = threading.Event()

    def signal_when_logging():
        while not (log.is_file() and '"train"' in log.read_text()):
            if done.wait(0.05):
                return
        os.kill(os.getpid(), number)  # step 10 is logged

    # As from a terminal: a suite started in the background (``cmd &``, nohup) ignores SIGINT
    # and SIGHUP, and training rightly leaves ignored signals ignored.
    default = signal.default_int_handler if number == signal.SIGINT else signal.SIG_DFL
    previous = signal.signal(number, default)
    sender = threading.Thread(target=signal_when_logging)
    sender.start()
    messages = []
    s = tiny("pix2pix", [a, b], epochs=100000, decay_epochs=0, steps_per_epoch=1)
    try:
        out = train(s, tmp_path / "run", log=messages.append)
    finally:
        done.set()  # the sender never signals a process that is no longer training
        sender.join()
        signal.signal(number, previous)
    assert out.signal == number and out.step >= 10
    name = signal.Signals(number).name
    assert messages[-1] == (f"interrupted ({name}): saved step {out.step}; run the same "
                            "command again to continue")  # fmt: skip
    assert weights_of(tmp_path / "run")["step"] == out.step
    r = run_cli("-o", tmp_path / "run", "--stop-after", "3")
    assert r.returncode == 0 and f"resuming {tmp_path / 'run'} at step {out.step}" in r.stderr
    assert weights_of(tmp_path / "run")["step"] == out.step + 3


def test_config_file_sets_defaults(tmp_path, inversion_pairs):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"depth": 5, "ngf": 8, "load_size": 36, "crop_size": 32,
                               "workers": 0, "lambda_l1": 50}))  # fmt: skip
    r = run_cli("--config", cfg, "--paired", *inversion_pairs, "-o", tmp_path / "r",
                "--stop-after", "1", "--ngf", "4")  # fmt: skip
    assert r.returncode == 0, r.stderr
    saved = json.loads((tmp_path / "r" / "settings.json").read_text())
    assert saved["ngf"] == 4 and saved["lambda_l1"] == 50 and saved["crop_size"] == 32
    # A run's own settings.json as the config of a new run: the settings no flag sets (ndf,
    # pool size) come along too, and the new command's data and task win.
    old = saved | {"ndf": 16, "pool_size": 7, "data": ["elsewhere"], "task": "cyclegan"}
    cfg.write_text(json.dumps(old))
    r = run_cli("--config", cfg, "--paired", *inversion_pairs, "-o", tmp_path / "r2",
                "--stop-after", "1")  # fmt: skip
    assert r.returncode == 0, r.stderr
    again = json.loads((tmp_path / "r2" / "settings.json").read_text())
    assert again == saved | {"ndf": 16, "pool_size": 7}


def test_unknown_config_keys_are_named(tmp_path, inversion_pairs):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"ngf": 8, "lamda_l1": 50, "crop": 32}))
    r = run_cli("--config", cfg, "--paired", *inversion_pairs, "-o", tmp_path / "r")
    assert r.returncode == 2 and "unknown setting(s) crop, lamda_l1" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "r").exists()


def test_data_problems_are_warned_once_each(tmp_path, inversion_pairs):
    from trainer.loop import build_data

    a, b = inversion_pairs
    write_png(a / "small.png", blobs(50, 16))
    write_png(b / "small.png", blobs(51, 20))  # smaller than the crop, and sizes differ
    write_png(a / "grey.png", noise_image(36, 36, c=1))
    write_png(b / "grey.png", blobs(52))
    (a / "broken.png").write_bytes(b"\x89PNG broken")
    write_png(b / "broken.png", blobs(53))
    warnings = []
    train_set, _ = build_data(tiny("pix2pix", [a, b]).resolve(), warnings.append, tmp_path)
    assert any("unreadable" in w and "broken.png" in w for w in warnings)
    assert any("smaller than the 32px crop" in w for w in warnings)
    assert any("differ in size" in w for w in warnings)
    assert any("no partner" in w and "broken" in w for w in warnings)
    assert len(warnings) == 5  # the small-image warning comes once per folder
    for i in range(len(train_set)):
        item = train_set[(i, i)]
        assert item["A"].shape == item["B"].shape == (3, 32, 32)


def test_evaluate_scores_held_out_folders(tmp_path, inversion_run):
    from trainer.evaluate import evaluate_run

    for i in range(5):  # held out: pairs the run never saw
        x = blobs(200 + i)
        write_png(tmp_path / "test" / "A" / f"{i}.png", x)
        write_png(tmp_path / "test" / "B" / f"{i}.png", 255 - x)
    test = [tmp_path / "test" / "A", tmp_path / "test" / "B"]
    early = evaluate_run(inversion_run, test, size=32, log=print,
                         checkpoint=inversion_run / "checkpoints" / "step_00000025.pt")  # fmt: skip
    late = evaluate_run(inversion_run, test, size=32, batch_size=2, log=print)
    assert early.step == 25 and late.step == 150 and late.count == 5
    assert late.metrics["val_L1"] < 0.7 * early.metrics["val_L1"], (early, late)
    # Batch size changes nothing: each image counts once.
    whole = evaluate_run(inversion_run, test, size=32, batch_size=5, log=print)
    assert whole.metrics["val_L1"] == pytest.approx(late.metrics["val_L1"], rel=1e-5)


def test_evaluate_cli_cyclegan_grid(tmp_path, inversion_pairs):
    import cv2

    a, b = inversion_pairs
    train(tiny("cyclegan", [a, b], epochs=1, decay_epochs=0, steps_per_epoch=2),
          tmp_path / "run", log=lambda m: None)  # fmt: skip
    for i in range(3):  # sides of different sizes: every image of the longer one is scored
        write_png(tmp_path / "t" / "testA" / f"{i}.png", blobs(300 + i))
    write_png(tmp_path / "t" / "testB" / "0.png", 255 - blobs(400))
    grid = tmp_path / "grid.png"
    r = run_cli("evaluate", tmp_path / "run", tmp_path / "t", "--size", "32", "--grid", grid,
                "--grid-rows", "4", "--json", "--device", "cpu")  # fmt: skip
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["count"] == 3 and result["step"] == 2
    assert set(result["metrics"]) == {"val_cycle_A", "val_cycle_B", "val_diversity", "val_real_diversity"}  # fmt: skip
    metrics = result["metrics"]
    assert 0 < metrics["val_cycle_A"] < 2 and 0 < metrics["val_cycle_B"] < 2
    assert metrics["val_real_diversity"] == 0 < metrics["val_diversity"]  # B repeats its one image
    assert cv2.imread(str(grid)).shape == (4 * 34 + 2, 3 * 34 + 2, 3)  # 4 rows of 3, 2px gaps
    r = run_cli("evaluate", tmp_path / "run", tmp_path / "missing")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "no such folder" in r.stderr


def test_init_from_fine_tunes_another_runs_networks(tmp_path, inversion_pairs):
    base = tiny("cyclegan", list(inversion_pairs), epochs=1, decay_epochs=0, steps_per_epoch=6)
    train(base, tmp_path / "base", log=lambda m: None)
    source = weights_of(tmp_path / "base")["task"]["nets"]
    # A fine-tune at other settings (larger crops, no learning) starts from those weights, with
    # fresh optimisers and its own step count.
    fine = tiny("cyclegan", list(inversion_pairs), epochs=1, decay_epochs=0, steps_per_epoch=1,
                lr=0.0, load_size=40, crop_size=40, init_from=str(tmp_path / "base"))  # fmt: skip
    out = train(fine, tmp_path / "fine", log=lambda m: None)
    assert out.step == 1
    state = weights_of(tmp_path / "fine")
    for net, weights in state["task"]["nets"].items():
        for k, v in weights.items():
            if v.is_floating_point() and "running" not in k:
                assert torch.equal(v, source[net][k]), f"{net}.{k}"
    assert state["task"]["optims"]["G"]["state"][0]["step"] == 1
    folder = export_preset(tmp_path / "fine", "fine", out_dir=tmp_path / "presets")
    manifest = json.loads((folder / "preset.json").read_text())
    assert manifest["training"]["initialized_from"]["step"] == 6
    assert manifest["training"]["steps"] == 1
    listed = run_main(stylize_main, ["--list-presets"], text=True,
                      env={"STYLIZE_PRESETS": str(folder.parent)})  # fmt: skip
    assert "trained 1 step (fine-tuned from a run of 6 steps)" in listed.stdout, listed.stdout
    # Networks of another shape, or nothing there: one line, no run folder left behind.
    for source, message in [(tmp_path / "base", "does not match"), (tmp_path / "nope", "no such")]:
        r = run_cli("--unpaired", *inversion_pairs, "-o", tmp_path / "bad", "--ngf", "16",
                    "--depth", "2", "--workers", "0", "--init-from", source)  # fmt: skip
        assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert not (tmp_path / "bad").exists()


def test_init_from_a_preset_or_generator_file_fine_tunes_its_generator(
    tmp_path, inversion_pairs, monkeypatch
):
    base = tiny("pix2pix", list(inversion_pairs), epochs=1, decay_epochs=0, steps_per_epoch=4)
    train(base, tmp_path / "base", log=lambda m: None)
    folder = export_preset(tmp_path / "base", "inverse", out_dir=tmp_path / "presets")
    shipped = torch.load(folder / "generator.pth", weights_only=True)  # fp16, as presets ship
    reference_file = tmp_path / "base" / "export" / "inverse_net_G.pth"  # the reference's layout
    monkeypatch.setenv("STYLIZE_PRESETS", str(tmp_path / "presets"))
    source_d = weights_of(tmp_path / "base")["task"]["nets"]["D"]
    for i, (source, expected) in enumerate(
        [("inverse", shipped), (str(folder), shipped), (str(reference_file), None)]
    ):
        expected = expected or torch.load(reference_file, weights_only=True)
        fine = tiny("pix2pix", list(inversion_pairs), epochs=1, decay_epochs=0, steps_per_epoch=1,
                    lr=0.0, init_from=source, seed=1)  # fmt: skip
        train(fine, tmp_path / f"fine{i}", log=lambda m: None)
        nets = weights_of(tmp_path / f"fine{i}")["task"]["nets"]
        for k, v in expected.items():
            if v.is_floating_point() and "running" not in k:  # batch-norm statistics move
                assert torch.equal(nets["G"][k], v.float()), f"{source}: G.{k}"
        # The discriminator is not in a generator file: it starts fresh, not from the base run.
        assert not torch.equal(nets["D"]["model.0.weight"], source_d["model.0.weight"])
        init = json.loads((tmp_path / f"fine{i}" / "log.jsonl").read_text().splitlines()[0])
        assert init["kind"] == "init" and init["generator_only"]
        assert init["from_step"] == (4 if i < 2 else None)
    manifest = json.loads((export_preset(tmp_path / "fine0", "again", out_dir=tmp_path / "p2")
                           / "preset.json").read_text())  # fmt: skip
    assert manifest["training"]["initialized_from"] == {
        "checkpoint": str(folder / "generator.pth"), "step": 4, "generator_only": True}  # fmt: skip
    listed = run_main(stylize_main, ["--list-presets"], text=True,
                      env={"STYLIZE_PRESETS": str(tmp_path / "p2")})  # fmt: skip
    assert "trained 1 step (fine-tuned from a generator trained 4 steps)" in listed.stdout
    # Another architecture, or a name that is nothing: one line, no run folder left behind.
    cases = [("inverse", "this run trains a ResNet"), ("nothing", "no preset named 'nothing'"),
             (str(tmp_path / "no.pth"), "no such run folder, checkpoint, preset or weight file")]  # fmt: skip
    for source, message in cases:
        r = run_cli("--paired", *inversion_pairs, "-o", tmp_path / "bad", "--arch", "resnet",
                    "--ngf", "8", "--depth", "2", "--workers", "0", "--init-from", source)  # fmt: skip
        assert r.returncode == 1 and message in r.stderr and "Traceback" not in r.stderr, r.stderr
        assert not (tmp_path / "bad").exists()


def test_export_the_best_checkpoint(tmp_path, inversion_pairs):
    """Early stopping after the fact: ``--checkpoint best`` exports the kept checkpoint whose
    validation L1 is lowest, and the manifest says which and why."""
    s = tiny("pix2pix", list(inversion_pairs), epochs=1, decay_epochs=0, steps_per_epoch=12,
             preview_every=3, checkpoint_every=3, keep_checkpoints=0)  # fmt: skip
    train(s, tmp_path / "run", log=lambda m: None)
    records = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    val = {r["step"]: r["val_L1"] for r in records if r["kind"] == "val"}
    best = min(val, key=val.__getitem__)
    r = run_cli("export", tmp_path / "run", "--name", "best", "-o", tmp_path / "presets",
                "--checkpoint", "best")  # fmt: skip
    assert r.returncode == 0, r.stderr
    record = json.loads((tmp_path / "presets" / "best" / "preset.json").read_text())["training"]
    assert record["steps"] == best and f"step {best}" in record["checkpoint"]
    assert record["last_validation"]["val_L1"] == val[best]
    exported = load_generator(tmp_path / "run" / "export" / "best_net_G.pth").state_dict()
    kept = torch.load(tmp_path / "run" / "checkpoints" / f"step_{best:08d}.pt", weights_only=True)
    net = kept["task"]["nets"]["G"]
    assert exported.keys() == net.keys()
    assert all(torch.equal(v.float(), net[k].float()) for k, v in exported.items())
    for which, message in (("7", "no checkpoint of step 7"), ("soon", "use latest, best")):
        r = run_cli("export", tmp_path / "run", "--name", "x", "-o", tmp_path / "presets",
                    "--checkpoint", which)  # fmt: skip
        assert r.returncode == 1 and message in r.stderr
