"""Bad input, faults and signals: one file never stops the rest, nothing is half-written or lost."""

import errno
import json
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import warnings
import zlib
from pathlib import Path
from types import SimpleNamespace

import av
import cv2
import numpy as np
import pytest
import torch
from conftest import (
    noise_image,
    run_main,
    save_generator,
    tiny,
    weights_of,
    write_png,
    write_video,
)

from stylizer import StylizeError, load_generator
from stylizer.cli import main
from stylizer.media.processors import FrameProcessor
from stylizer.models import GeneratorSpec
from stylizer.options import InferenceOptions, RunOptions
from stylizer.pipeline import Stylizer, stylize_files, stylize_video
from trainer.export import export_preset
from trainer.loop import train
from trainer.run import RunFolder


def run(*args, stdin: bytes = b"", env: dict | None = None) -> subprocess.CompletedProcess:
    """``stylize ARGS`` in this process; standard input is empty unless given; bytes out."""
    return run_main(main, list(args), stdin, env=env)


def stderr_lines(r: subprocess.CompletedProcess) -> list[str]:
    return [line for line in r.stderr.decode().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def unet_weights(tmp_path_factory) -> Path:
    """A pix2pix U-Net of depth 5 (inputs padded to multiples of 32), batch norm."""
    folder = tmp_path_factory.mktemp("unet")
    return save_generator(folder / "unet.pth", GeneratorSpec("unet", 5, ngf=8, norm="batch"))


# --- images ---------------------------------------------------------------------------------------

TINY_SIZES = {"dot": (1, 1), "speck": (2, 3), "column": (4000, 1), "row": (1, 300), "thin": (5, 2)}


@pytest.mark.parametrize("arch", ["resnet", "unet"])
def test_tiny_images_are_padded_and_the_whole_folder_is_written(
    tmp_path, tiny_weights, unet_weights, arch
):
    weights = tiny_weights if arch == "resnet" else unet_weights
    folder = tmp_path / "in"
    for i, (h, w) in enumerate([(20, 30), (40, 40), (17, 9)]):
        write_png(folder / f"good{i}.png", noise_image(h, w, seed=i))
    for name, (h, w) in TINY_SIZES.items():
        write_png(folder / f"{name}.png", noise_image(h, w, seed=len(name)))
    r = run(folder, "-o", tmp_path / "out", "-w", weights)
    assert r.returncode == 0, r.stderr.decode()
    assert b"Traceback" not in r.stderr and b"8 stylized" in r.stderr
    for source in folder.iterdir():
        out = cv2.imread(str(tmp_path / "out" / source.name), cv2.IMREAD_UNCHANGED)
        assert out is not None and out.shape == cv2.imread(str(source)).shape, source.name


def test_a_folder_of_every_bad_kind_writes_every_good_file(tmp_path, tiny_weights):
    folder = tmp_path / "in"
    good = {
        "a.png": noise_image(20, 30),
        "b.jpg": noise_image(24, 16),
        "dot.png": noise_image(1, 1),
    }
    for name, pixels in good.items():
        write_png(folder / name, pixels)
    assert cv2.imwritemulti(
        str(folder / "pages.tif"), [noise_image(12, 12, seed=i) for i in (1, 2)]
    )
    header = struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0)
    (folder / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header))
    (folder / "empty.png").write_bytes(b"")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    png = cv2.imencode(".png", noise_image(40, 40))[1].tobytes()
    (folder / "cut.png").write_bytes(png[: len(png) // 3])
    (folder / "dir.png").mkdir()  # a folder named like an image: not listed, not a failure
    r = run(folder, "-o", tmp_path / "out", "-w", tiny_weights)
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    errors = [line for line in stderr_lines(r) if "error:" in line]
    assert sorted(line.split(": ")[2].split("/")[-1] for line in errors) == [
        "bomb.png", "corrupt.jpg", "cut.png", "empty.png"
    ]  # fmt: skip
    assert b"4 stylized, 4 failed" in r.stderr
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["a.png", "b.jpg", "dot.png", "pages.tif"]


class FlakyStylizer(Stylizer):
    """Fails, as a backend bug would, on any batch that holds a picture 9 pixels wide."""

    def stylize_batch(self, pictures):
        if any(p.size[0] == 9 for p in pictures):
            raise RuntimeError("backend fell over")
        return super().stylize_batch(pictures)


def test_an_internal_error_fails_only_its_own_file(tmp_path, tiny_weights):
    names = ["a.png", "b.png", "c.png", "d.png"]
    for i, name in enumerate(names):
        write_png(tmp_path / "in" / name, noise_image(12, 9 if name == "b.png" else 16, seed=i))
    logged = []
    summary = stylize_files([str(tmp_path / "in")], tiny_weights, tmp_path / "out",
                            log=logged.append, stylizer=FlakyStylizer(tiny_weights, InferenceOptions(batch_size=4)))  # fmt: skip
    assert sorted(p.name for p in summary.done) == ["a.png", "c.png", "d.png"]
    assert summary.failed == [
        f"{tmp_path / 'in' / 'b.png'}: internal error: RuntimeError: backend fell over "
        "(--debug shows the traceback)"
    ]
    assert len(logged) == 1 and "Traceback" not in logged[0]
    summary = stylize_files([str(tmp_path / "in" / "b.png")], tiny_weights, tmp_path / "o2",
                            run=RunOptions(debug=True), log=logged.append,
                            stylizer=FlakyStylizer(tiny_weights))  # fmt: skip
    assert "Traceback" in logged[-1] and "backend fell over" in logged[-1]


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def test_decompression_bomb_is_refused_from_its_header(tmp_path, tiny_weights):
    header = struct.pack(">IIBBBBB", 40000, 40000, 8, 2, 0, 0, 0)  # 40000x40000 RGB
    bomb = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
    bomb += _png_chunk(b"IDAT", zlib.compress(b"\0" * 400_000)) + _png_chunk(b"IEND", b"")
    (tmp_path / "bomb.png").write_bytes(bomb)
    good = write_png(tmp_path / "good.png", noise_image(30, 40))
    r = run(tmp_path / "bomb.png", good, "-o", tmp_path / "out", "-w", tiny_weights)
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    errors = [line for line in stderr_lines(r) if "error:" in line]
    assert len(errors) == 1 and "bomb.png: 40000x40000 is 1,600,000,000 pixels, over" in errors[0]
    assert (tmp_path / "out" / "good.png").is_file()
    r = run(good, "-o", tmp_path / "small", "-w", tiny_weights, "--max-pixels", "1000")
    assert r.returncode == 1
    assert b"40x30 is 1,200 pixels, over the limit of 1,000 (--max-pixels raises it)" in r.stderr


def test_multi_page_tiff_keeps_every_page(tmp_path, tiny_weights):
    pages = [noise_image(30, 40, seed=i) for i in range(2)] + [noise_image(20, 24, seed=2)]
    assert cv2.imwritemulti(str(tmp_path / "scan.tif"), pages)
    r = run(tmp_path / "scan.tif", "-o", tmp_path / "out", "-w", tiny_weights)
    assert r.returncode == 0, r.stderr.decode()
    ok, written = cv2.imreadmulti(str(tmp_path / "out" / "scan.tif"), flags=cv2.IMREAD_UNCHANGED)
    assert ok and [p.shape for p in written] == [p.shape for p in pages]
    assert not np.array_equal(written[2], pages[2])  # stylized, not copied
    r = run(tmp_path / "scan.tif", "-o", tmp_path / "png", "--ext", "png", "-w", tiny_weights)
    assert r.returncode == 1 and b"3 pages do not fit in one .png image" in r.stderr
    assert not (tmp_path / "png").exists() or not list((tmp_path / "png").iterdir())


def test_truncated_png_gets_our_line_only(tmp_path, tiny_weights):
    data = cv2.imencode(".png", noise_image(64, 64))[1].tobytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    # A process of its own: OpenCV writes its warnings to file descriptor 2, not sys.stderr.
    r = subprocess.run([sys.executable, "-m", "stylizer", str(tmp_path / "cut.png"), "-o",
                        str(tmp_path / "out"), "-w", str(tiny_weights)], capture_output=True)  # fmt: skip
    assert r.returncode == 1
    assert stderr_lines(r)[0].startswith("stylize: error:") and b"WARN" not in r.stderr
    assert len(stderr_lines(r)) == 2  # the error and the summary


def test_output_problems_are_found_before_any_work(tmp_path, tiny_weights):
    a = write_png(tmp_path / "a.png", noise_image(16, 16))
    b = write_png(tmp_path / "b.png", noise_image(16, 16))
    (tmp_path / "taken").write_text("a file, not a folder")
    # The weights do not even exist: the outputs are checked before the model is loaded.
    r = run(a, b, "-o", tmp_path / "taken", "-w", tmp_path / "missing.pth")
    assert r.returncode == 1 and b"Traceback" not in r.stderr
    assert b"taken is a file, not a folder" in r.stderr and b"missing.pth" not in r.stderr
    r = run(tmp_path, "-o", tmp_path, "-w", tiny_weights)
    assert r.returncode == 1 and b"would overwrite an input; choose another -o" in r.stderr
    r = run(a, "-w", tiny_weights, "-o", a)
    assert r.returncode == 1 and b"would overwrite an input; choose another -o" in r.stderr


def test_read_only_output_folder_is_found_before_any_work(tmp_path, tiny_weights, monkeypatch):
    import stylizer.files as files

    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(files.tempfile, "TemporaryFile", refuse)
    write_png(tmp_path / "a.png", noise_image(16, 16))
    logged = []
    summary = stylize_files([str(tmp_path / "a.png")], tmp_path / "missing.pth", tmp_path / "out",
                            log=logged.append)  # fmt: skip
    assert summary.failed == [
        f"{tmp_path / 'a.png'}: cannot write {tmp_path / 'out' / 'a.png'}: {tmp_path} is not "
        "writable (Permission denied)"
    ]


# --- videos and pipes -----------------------------------------------------------------------------


def _flat(value: int, ready: threading.Event, wait_for: threading.Event | None):
    """A stand-in model: every frame becomes ``value``; the first call signals ``ready`` and
    then waits for ``wait_for``, so that two runs overlap."""

    def frames(batch):
        ready.set()
        if wait_for is not None:
            assert wait_for.wait(30)
        return [np.full_like(f, value) for f in batch]

    return frames


def _frame_means(path: Path) -> list[float]:
    with av.open(str(path)) as c:
        return [float(f.to_ndarray(format="rgb24").mean()) for f in c.decode(video=0)]


@pytest.mark.parametrize("overwrite", [True, False])
def test_two_runs_writing_one_video_never_mix(tmp_path, overwrite):
    src = write_video(tmp_path / "in.mp4", [noise_image(32, 32, seed=i) for i in range(12)])
    target = tmp_path / "out.mp4"
    a_started, b_finished = threading.Event(), threading.Event()
    outcome = {}

    def job(name, value, ready, wait_for):
        try:
            stylize_video(src, target, FrameProcessor(_flat(value, ready, wait_for), 4),
                          overwrite=overwrite)  # fmt: skip
            outcome[name] = "done"
        except Exception as e:
            outcome[name] = f"{type(e).__name__}: {e}"

    a = threading.Thread(target=job, args=("a", 40, a_started, b_finished))
    a.start()
    assert a_started.wait(30)
    job("b", 200, threading.Event(), None)  # all of b's video while a waits in its first batch
    b_finished.set()
    a.join(60)
    means = _frame_means(target)
    assert len(means) == 12 and not list(tmp_path.glob(".out.mp4*"))
    assert outcome["b"] == "done"
    if overwrite:
        assert outcome["a"] == "done"
        assert all(abs(m - 40) < 3 for m in means)  # a finished last: its frames, all of them
    else:
        assert "StylizeError" in outcome["a"] and "another run wrote it" in outcome["a"]
        assert all(abs(m - 200) < 3 for m in means)  # b's file, untouched by a


def test_empty_standard_input_is_an_error(tiny_weights):
    for args in (["--raw", "8x8"], [], ["-o", "-"]):
        r = run("-", *args, "-w", tiny_weights)
        assert r.returncode == 1 and b"standard input is empty" in r.stderr, args
        assert r.stdout == b"" and b"Traceback" not in r.stderr


def test_progress_lines_when_stderr_is_not_a_terminal(tmp_path, tiny_weights):
    src = write_video(tmp_path / "in.mp4", [noise_image(32, 32, seed=i) for i in range(8)])
    env = {"STYLIZE_PROGRESS_SECONDS": "0"}
    r = run(src, "-o", tmp_path / "out.mp4", "-w", tiny_weights, "--batch-size", "2", env=env)
    assert r.returncode == 0, r.stderr.decode()
    lines = [line for line in stderr_lines(r) if "frames (" in line]
    assert lines and lines[-1].startswith(f"{src}: 8/8 frames (100%), ")
    assert "frame/s" in lines[0] or "starting" in lines[0]
    assert "\r" not in r.stderr.decode()
    r = run(src, "-o", tmp_path / "q.mp4", "-w", tiny_weights, "-q", env=env)
    assert r.returncode == 0 and r.stderr == b""


def test_sigterm_mid_video_leaves_no_file(tmp_path, tiny_weights):
    src = write_video(tmp_path / "in.mp4", [noise_image(64, 64, seed=i % 7) for i in range(400)])
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "stylizer", str(src), "-o", str(out / "v.mp4"),
                             "-w", str(tiny_weights), "--temporal", "none"],
                            stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (out.is_dir() and list(out.iterdir())):
        time.sleep(0.05)  # until its temporary file exists
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()
    assert b"stopped by SIGTERM" in err and b"Traceback" not in err
    assert list(out.iterdir()) == []


# --- weights --------------------------------------------------------------------------------------


def test_safetensors_weights_load_and_export(tmp_path, tiny_weights, inversion_pairs):
    import safetensors.torch

    state = torch.load(tiny_weights, weights_only=True)
    safetensors.torch.save_file(state, tmp_path / "g.safetensors")
    x = torch.rand(1, 3, 16, 16) * 2 - 1
    expected = load_generator(tiny_weights)(x)
    assert torch.equal(load_generator(tmp_path / "g.safetensors")(x), expected)
    (tmp_path / "bad.safetensors").write_bytes(b"\x08\0\0\0\0\0\0\0{garbage")
    r = run(write_png(tmp_path / "a.png", noise_image(8, 8)), "-w", tmp_path / "bad.safetensors")
    assert r.returncode == 1 and b"not a readable safetensors file" in r.stderr
    assert len(stderr_lines(r)) == 1
    s = tiny("cyclegan", list(inversion_pairs), epochs=1, decay_epochs=0, steps_per_epoch=2)
    train(s, tmp_path / "run", log=lambda m: None)
    folder = export_preset(tmp_path / "run", "st", out_dir=tmp_path / "presets",
                           weights_format="safetensors")  # fmt: skip
    assert json.loads((folder / "preset.json").read_text())["weights"] == "generator.safetensors"
    assert (tmp_path / "run" / "export" / "st_net_G.safetensors").is_file()
    assert (tmp_path / "run" / "export" / "st_net_G.pth").is_file()
    assert load_generator(folder).spec.ngf == 8


def test_torchscript_and_folders_as_weights(tmp_path, tiny_weights):
    img = write_png(tmp_path / "a.png", noise_image(8, 8))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # TorchScript is deprecated: all the more reason to say so
        torch.jit.save(torch.jit.script(torch.nn.Conv2d(3, 3, 1)), tmp_path / "ts.pt")
    r = run(img, "-w", tmp_path / "ts.pt")
    assert r.returncode == 1 and len(stderr_lines(r)) == 1
    assert b"a TorchScript program, not a state dict" in r.stderr
    (tmp_path / "one").mkdir()
    (tmp_path / "one" / "g.pth").write_bytes(tiny_weights.read_bytes())
    r = run(img, "-o", tmp_path / "out.png", "-w", tmp_path / "one")
    assert r.returncode == 0 and (tmp_path / "out.png").is_file()
    (tmp_path / "one" / "h.pth").write_bytes(tiny_weights.read_bytes())
    r = run(img, "-w", tmp_path / "one")
    assert r.returncode == 1
    assert b"a folder, not a weight file; it holds 2 weight files (g.pth, h.pth)" in r.stderr


# --- training -------------------------------------------------------------------------------------


@pytest.mark.parametrize("group", [False, True], ids=["process", "process-group"])
def test_sigterm_saves_training(tmp_path, inversion_pairs, group):
    """SIGTERM to the trainer, or to its whole process group with its data-loading workers (as
    systemd, a terminal's Ctrl-C or a scheduler send it): either way the step is saved."""
    a, b = inversion_pairs
    args = [sys.executable, "-m", "trainer", "--paired", a, b, "-o", tmp_path / "run",
            "--depth", "5", "--ngf", "8", "--load-size", "36", "--crop-size", "32",
            "--workers", "2" if group else "0", "--epochs", "100000", "--steps-per-epoch", "1"]  # fmt: skip
    proc = subprocess.Popen(list(map(str, args)), stderr=subprocess.PIPE, text=True,
                            start_new_session=group)  # fmt: skip
    log = tmp_path / "run" / "log.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (log.is_file() and '"train"' in log.read_text()):
        time.sleep(0.2)  # until step 10 is logged
    if group:
        os.killpg(proc.pid, signal.SIGTERM)
    else:
        proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "interrupted (SIGTERM): saved step" in err and "Traceback" not in err
    saved = int(err.split("saved step ")[1].split(";")[0])
    assert saved >= 10 and weights_of(tmp_path / "run")["step"] == saved


def _short_run(inversion_pairs, steps: int, **kw):
    return tiny("pix2pix", list(inversion_pairs), epochs=steps, decay_epochs=0,
                steps_per_epoch=1, checkpoint_every=2, preview_every=1000, **kw)  # fmt: skip


def test_damaged_latest_falls_back_to_the_newest_intact_checkpoint(tmp_path, inversion_pairs):
    s = _short_run(inversion_pairs, 10, keep_checkpoints=0)
    train(s, tmp_path / "run", stop_after=7, log=lambda m: None)
    folder = RunFolder(tmp_path / "run")
    assert [step for step, _ in folder.numbered()] == [2, 4, 6]
    assert folder.latest.stat().st_nlink == 1  # its own file, not a link to step_6
    data = bytearray(folder.latest.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)  # damaged inside: torch.load alone reads it fine
    folder.latest.write_bytes(bytes(data))
    torch.load(folder.latest, weights_only=True)
    numbered = folder.latest.with_name("step_00000006.pt")
    before = numbered.read_bytes()
    logged = []
    out = train(None, tmp_path / "run", stop_after=0, log=logged.append)
    assert out.step == 6
    assert any("fail their checksum" in m and "resuming from step_00000006.pt (step 6)" in m
               and "loses up to 1 steps" in m for m in logged), logged  # fmt: skip
    assert numbered.read_bytes() == before
    folder.latest.unlink()  # gone altogether: the newest numbered one still serves
    logged.clear()
    assert train(None, tmp_path / "run", stop_after=0, log=logged.append).step == 6
    assert any("resuming from step_00000006.pt" in m for m in logged), logged
    for _, path in folder.numbered():
        path.write_bytes(b"damaged too")
    folder.latest.write_bytes(b"damaged")
    with pytest.raises(StylizeError, match="no intact numbered checkpoint to fall back on"):
        train(None, tmp_path / "run", log=lambda m: None)


#: How torch.save fails on a full disk: an OSError from the file, or (writing through its zip
#: writer) a RuntimeError with no errno; and a failure that is not the disk's.
WRITE_FAILURES = {
    "errno": (OSError(errno.ENOSPC, "No space left on device"), 10**12, "the disk is full"),
    "zip-writer": (RuntimeError("PytorchStreamWriter failed writing file data/3: file write "
                                "failed\nat inline_container.cc"), 2**20, "the disk is full (1 MiB free)"),
    "other": (RuntimeError("something else\nmore"), 10**12, "something else;"),
}  # fmt: skip


@pytest.mark.parametrize("kind", list(WRITE_FAILURES))
def test_full_disk_while_checkpointing_is_one_line(tmp_path, inversion_pairs, monkeypatch, kind):
    error, free, says = WRITE_FAILURES[kind]
    train(_short_run(inversion_pairs, 4), tmp_path / "run", stop_after=2, log=lambda m: None)
    real_save = torch.save

    def full_disk(obj, f):
        real_save({"partial": torch.zeros(10)}, f)
        raise error

    import trainer.run

    monkeypatch.setattr(torch, "save", full_disk)
    monkeypatch.setattr(trainer.run.shutil, "disk_usage", lambda p: SimpleNamespace(free=free))
    with pytest.raises(StylizeError) as caught:
        train(None, tmp_path / "run", log=lambda m: None)
    monkeypatch.undo()
    message = str(caught.value)
    assert "cannot write the checkpoint of step 4" in message and says in message, message
    assert ("disk is full" in message) == (kind != "other")
    assert "latest.pt (step 2) is intact" in message and "\n" not in message
    assert weights_of(tmp_path / "run")["step"] == 2
    assert not [p for p in (tmp_path / "run" / "checkpoints").iterdir() if ".part" in p.name]


def test_an_ignored_hangup_stays_ignored(monkeypatch):
    """Under nohup, SIGHUP is ignored: stylize and stylize-train must not stop on it."""
    from stylizer.signals import stop_signals_unwind
    from trainer.loop import _StopRequest

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with stop_signals_unwind():
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.05)
        stop = _StopRequest()
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.05)
        stop.restore()
        assert not stop.requested
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


def test_temporary_files_in_a_folder_are_not_inputs(tmp_path):
    from stylizer.media.plan import plan_jobs

    write_png(tmp_path / "in" / "a.png", noise_image(8, 8))
    write_png(tmp_path / "in" / ".a.png.k2j3.part.png", noise_image(8, 8))  # another run's
    plan = plan_jobs([str(tmp_path / "in")], tmp_path / "out", "t")
    assert [job.source.name for job in plan.jobs] == ["a.png"] and not plan.errors


def test_old_numbered_checkpoints_are_pruned_but_renamed_ones_kept(tmp_path, inversion_pairs):
    train(_short_run(inversion_pairs, 8, keep_checkpoints=2), tmp_path / "run", stop_after=4,
          log=lambda m: None)  # fmt: skip
    checkpoints = tmp_path / "run" / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == [
        "latest.pt", "step_00000002.pt", "step_00000004.pt"
    ]  # fmt: skip
    (checkpoints / "step_00000002.pt").rename(checkpoints / "mine.pt")
    train(None, tmp_path / "run", log=lambda m: None)
    assert sorted(p.name for p in checkpoints.iterdir()) == [
        "latest.pt", "mine.pt", "step_00000006.pt", "step_00000008.pt"
    ]  # fmt: skip
