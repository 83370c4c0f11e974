"""Issue 28, "never lose a user's file", for the trainer: a resume never trains what the command
did not ask for, killed writes leave nothing behind for long, and sketchify neither feeds on its
own outputs nor lets one bad file stop the rest."""

import json
import os
import shutil

import pytest
from conftest import blobs, run_main, tiny, weights_of, write_png

from stylizer import StylizeError
from trainer.cli import main as trainer_main
from trainer.loop import train
from trainer.run import RunFolder

TINY = ["--depth", "2", "--ngf", "8", "--load-size", "36", "--crop-size", "32", "--workers", "0",
        "--epochs", "1", "--decay-epochs", "0", "--steps-per-epoch", "2", "-q"]  # fmt: skip


def run_cli(*args):
    return run_main(trainer_main, list(args), text=True)


def error_line(r) -> str:
    lines = [x for x in r.stderr.splitlines() if x.strip()]
    assert r.returncode == 1 and len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


def test_resume_with_other_data_or_settings_is_refused(tmp_path, inversion_pairs):
    a, b = inversion_pairs
    c = shutil.copytree(b, tmp_path / "C")
    run = tmp_path / "r1"
    assert run_cli("--unpaired", a, b, "-o", run, *TINY).returncode == 0
    before = (run / "settings.json").read_text()
    # Other data and a wider generator: a new run, refused, the folder left as it was.
    line = error_line(run_cli("--unpaired", a, c, "-o", run, *TINY, "--ngf", "16"))
    assert line == (
        f"stylize-train: error: {run} was made with data {a} {b} and ngf 8; this command gives "
        f"data {a} {c} and ngf 16: other data or networks make a new run, so choose another -o "
        f"(stylize-train -o {run} continues this one as it was)"
    )
    line = error_line(run_cli("-o", run, "--ngf", "16"))  # a flag without data counts too
    assert "was made with ngf 8; this command gives ngf 16" in line
    # A longer schedule only when asked for.
    line = error_line(run_cli("--unpaired", a, b, "-o", run, *TINY, "--epochs", "2"))
    assert line.endswith(
        "was made with epochs 1; this command gives epochs 2: add --resume-with-changes to "
        "continue this run with them, or choose another -o for a new run"
    )
    assert (run / "settings.json").read_text() == before
    # The same command, spelt otherwise, continues; so does -o alone.
    r = run_cli("--unpaired", f"{a}/", os.path.relpath(b), "-o", run, *TINY)
    assert r.returncode == 0 and "step 2 of 2" in r.stderr, r.stderr
    r = run_cli("-o", run, "--epochs", "2", "--resume-with-changes", "-q")
    assert r.returncode == 0, r.stderr
    assert (
        f"continuing {run} with epochs 2 (was epochs 1)" in r.stderr and "step 4 of 4" in r.stderr
    )
    assert json.loads((run / "settings.json").read_text())["epochs"] == 2  # for later sessions
    assert run_cli("-o", run).returncode == 0 and weights_of(run)["step"] == 4


def test_a_resume_sweeps_killed_writes_and_a_second_trainer_is_refused(tmp_path, inversion_pairs):
    s = tiny("pix2pix", list(inversion_pairs), epochs=4, decay_epochs=0, steps_per_epoch=1,
             checkpoint_every=2)  # fmt: skip
    train(s, tmp_path / "run", stop_after=2, log=lambda m: None)
    folder = RunFolder(tmp_path / "run")
    checkpoints = folder.latest.parent
    stale = [
        checkpoints / ".latest.pt.k2j3ab_9.part.pt",
        folder.root / ".settings.json.a1b2c3d4.part.json",
    ]
    kept = [
        checkpoints / "best.pt",
        checkpoints / ".notes.part.txt",
        folder.root / "my.part.pt",
        checkpoints / ".step_00000004.pt.x.part.pt",
    ]  # not atomic_output's names: not ours
    with folder.held():  # another session, writing them
        for path in stale + kept:
            path.write_bytes(b"x" * 25)
        with pytest.raises(StylizeError, match="another stylize-train is training in this"):
            train(None, folder.root, log=lambda m: None)
        assert all(p.is_file() for p in stale)  # never swept from under a live writer
    assert train(None, folder.root, log=lambda m: None).step == 4
    assert not any(p.exists() for p in stale)
    assert all(p.read_bytes() == b"x" * 25 for p in kept)


def test_fallback_notice_counts_from_what_latest_held(tmp_path, inversion_pairs):
    """The log can run past latest.pt (a session killed between checkpoints); the steps lost
    are those between latest.pt and the checkpoint used."""
    s = tiny("pix2pix", list(inversion_pairs), epochs=20, decay_epochs=0, steps_per_epoch=1,
             checkpoint_every=4, keep_checkpoints=0)  # fmt: skip
    train(s, tmp_path / "run", stop_after=10, log=lambda m: None)
    folder = RunFolder(tmp_path / "run")
    folder.log({"step": 17, "kind": "train", "loss_G": 1.0})
    folder.latest.write_bytes(folder.latest.read_bytes()[:500])
    logged: list[str] = []
    assert train(None, folder.root, stop_after=0, log=logged.append).step == 8
    assert any(
        "resuming from step_00000008.pt (step 8) instead, which loses up to 2 steps "
        "(latest.pt held step 10)" in m
        for m in logged
    ), logged


def test_sketchify_never_sketches_its_own_outputs(tmp_path):
    sk = tmp_path / "sk"
    write_png(sk / "a.png", blobs(1, 32))
    for written in (1, 0):
        r = run_cli("sketchify", sk, sk / "out")
        assert r.returncode == 0 and f"wrote {written} sketch(es)" in r.stderr, r.stderr
    assert sorted(p.relative_to(sk).as_posix() for p in sk.rglob("*.png")) == ["a.png", "out/a.png"]


def test_sketchify_fails_a_bad_file_alone(tmp_path):
    photos, sk = tmp_path / "photos", tmp_path / "sk"
    write_png(photos / "a.png", blobs(1, 32))
    write_png(photos / "b" / "c.png", blobs(2, 32))
    (photos / "broken.png").write_bytes(b"not an image")
    sk.mkdir()
    (sk / "b").write_text("a file of the user's where c.png's folder would go")
    r = run_cli("sketchify", photos, sk)
    lines = r.stderr.splitlines()
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith(f"stylize-train: {photos / 'b' / 'c.png'}: cannot write {sk}")
    assert "File exists" in lines[0]
    assert lines[1].startswith(f"stylize-train: {photos / 'broken.png'}: ")
    assert lines[2:] == [
        f"stylize-train: wrote 1 sketch(es) to {sk}",
        "stylize-train: error: 2 of 3 photo(s) not sketched (said above)",
    ]
    assert sorted(p.name for p in sk.iterdir()) == ["a.png", "b"]
