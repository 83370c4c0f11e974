"""Never lose a user's file (issue 28): preset names are names, never paths; a preset folder
replaces only a preset folder, and only when asked; a held data directory says so and gives up;
one broken preset neither hides nor blocks the others; temporary names fit the file system;
write errors and redirect loops are one line."""

from __future__ import annotations

import errno
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import torch
from conftest import make_inversion_pairs, noise_image, run_main, tiny, write_png
from filelock import FileLock

from stylizer.cli import main as stylize_main
from stylizer.errors import StylizeError
from stylizer.files import atomic_folder, atomic_output, write_atomic
from stylizer.styles.download import download
from stylizer.styles.presets import MANIFEST, Preset
from trainer.cli import main as trainer_main
from trainer.loop import train


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A CycleGAN run of one step: enough to export."""
    root = tmp_path_factory.mktemp("safety")
    s = tiny("cyclegan", list(make_inversion_pairs(root)), epochs=1, decay_epochs=0,
             steps_per_epoch=1)  # fmt: skip
    train(s, root / "run", log=lambda m: None)
    return root / "run"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A data directory of the test's own."""
    monkeypatch.setenv("STYLIZE_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def export(*args) -> tuple[int, str]:
    r = run_main(trainer_main, ["export", *args], text=True)
    return r.returncode, r.stderr


def stylize(*args, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    r = run_main(stylize_main, list(args), text=True, env=env)
    return r.returncode, r.stdout, r.stderr


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def write_manifest(folder: Path, manifest: object) -> Path:
    folder.mkdir(parents=True)
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (folder / MANIFEST).write_text(text)
    return folder


def test_preset_names_are_names_never_paths(run, home, tmp_path, tiny_weights):
    assert stylize("presets", "add", tiny_weights, "--name", "kept")[0] == 0
    before = snapshot(home)
    assert ".lock" in before and "presets/kept/preset.json" in before
    victim = tmp_path / "victim"
    (victim / "notes.txt").parent.mkdir()
    (victim / "notes.txt").write_text("mine")
    for name in ("..", str(victim), "a/b", ".hidden", "v1.2"):
        code, err = export(run, "--name", name)
        assert code == 1, (name, err)
        assert err == f"stylize-train: error: {name!r} is not a usable preset name: letters, "\
            "digits and _ + - only, starting with a letter or digit\n"  # fmt: skip
    for command in (["add", tiny_weights, "--name"], ["remove"]):
        code, _, err = stylize("presets", *command, "..")
        assert code == 1 and "'..' is not a usable preset name" in err, err
    assert snapshot(home) == before
    assert snapshot(victim) == {"notes.txt": b"mine"}
    assert not Path(f"{victim}_net_G.pth").exists()


def test_atomic_folder_replaces_only_a_preset_folder_it_may(tmp_path):
    file = tmp_path / "file"
    file.write_text("mine")
    others = tmp_path / "others"
    (others / "a.txt").parent.mkdir()
    (others / "a.txt").write_text("mine")
    preset = write_manifest(tmp_path / "preset", {"weights": "g.pth"})
    link = tmp_path / "link"
    link.symlink_to(preset)
    for path, replaces in ((file, MANIFEST), (others, MANIFEST), (link, MANIFEST),
                           (preset, None), (file, None)):  # fmt: skip
        with (
            pytest.raises(StylizeError, match="left it as it is"),
            atomic_folder(path, replaces=replaces) as tmp,
        ):
            (tmp / MANIFEST).write_text("{}")
    assert file.read_text() == "mine" and (others / "a.txt").read_text() == "mine"
    assert json.loads((preset / MANIFEST).read_text()) == {"weights": "g.pth"}
    assert link.is_symlink()
    with atomic_folder(preset, replaces=MANIFEST) as tmp:
        (tmp / MANIFEST).write_text('{"weights": "new.pth"}')
    assert json.loads((preset / MANIFEST).read_text()) == {"weights": "new.pth"}
    # Something put there while the block worked is kept too.
    with (
        pytest.raises(StylizeError, match="left it as it is"),
        atomic_folder(tmp_path / "late") as tmp,
    ):
        (tmp_path / "late").write_text("mine")
    assert (tmp_path / "late").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "file", "late", "link", "others", "preset"]  # fmt: skip


def test_export_replaces_a_preset_only_with_overwrite(run, home, tmp_path):
    code, err = export(run, "--name", "mine", "--description", "first")
    assert code == 0 and err.startswith("stylize-train: wrote "), err
    manifest = home / "presets" / "mine" / MANIFEST
    code, err = export(run, "--name", "mine", "--description", "second")
    assert code == 1
    assert err == f"stylize-train: error: a preset named 'mine' is already in " \
        f"{home / 'presets' / 'mine'} (--overwrite replaces it)\n"  # fmt: skip
    assert json.loads(manifest.read_text())["description"] == "first"
    code, err = export(run, "--name", "mine", "--description", "third", "--overwrite")
    assert code == 0, err
    assert json.loads(manifest.read_text())["description"] == "third"
    assert [p.name for p in (home / "presets").iterdir()] == ["mine"]  # nothing hidden left
    # Not even --overwrite replaces a folder of other things.
    other = tmp_path / "out" / "mine"
    (other / "thesis.tex").parent.mkdir(parents=True)
    (other / "thesis.tex").write_text("mine")
    code, err = export(run, "--name", "mine", "-o", tmp_path / "out", "--overwrite")
    assert code == 1
    assert err == f"stylize-train: error: {other} is not a folder holding a preset.json; " \
        "left it as it is\n"  # fmt: skip
    assert snapshot(tmp_path / "out") == {"mine/thesis.tex": b"mine"}


def hold_lock(home: Path, seconds: float) -> FileLock:
    """The data directory held as another run holds it, let go after ``seconds``."""
    home.mkdir(parents=True, exist_ok=True)
    lock = FileLock(home / ".lock", thread_local=False)  # let go by the timer's thread
    lock.acquire()
    timer = threading.Timer(seconds, lock.release)
    timer.start()
    return lock


def test_a_held_data_directory_is_waited_for_aloud_then_given_up(home, tiny_weights):
    waiting = "stylize: mine: waiting for another stylize run to finish installing, " \
        f"downloading or removing a preset in {home} (for up to "  # fmt: skip
    hold_lock(home, 1.5)
    code, _, err = stylize("presets", "add", tiny_weights, "--name", "mine",
                           env={"STYLIZE_LOCK_TIMEOUT": "30"})  # fmt: skip
    assert code == 0, err
    assert err.count(waiting + "30 s)") == 1 and len(err.splitlines()) == 1, err
    lock = hold_lock(home, 4)
    started = time.monotonic()
    code, _, err = stylize("presets", "remove", "mine", env={"STYLIZE_LOCK_TIMEOUT": "0.5"})
    assert time.monotonic() - started < 3
    assert code == 1
    assert err.splitlines() == [
        waiting + "0.5 s)",
        f"stylize: error: mine: another stylize run held {home / '.lock'} for 0.5 s; gave up "
        "waiting (run again once it has finished; $STYLIZE_LOCK_TIMEOUT sets how long to wait)",
    ]
    while lock.is_locked:
        time.sleep(0.1)
    code, _, err = stylize("presets", "remove", "mine", env={"STYLIZE_LOCK_TIMEOUT": "soon"})
    assert code == 1 and "STYLIZE_LOCK_TIMEOUT=soon: give a number of seconds" in err
    assert stylize("presets", "remove", "mine")[0] == 0


GOOD_ARCH = {"arch": "resnet", "depth": 2, "ngf": 8}


@pytest.mark.parametrize(
    ("manifest", "message"),
    [
        ("{", "unreadable preset manifest"),
        ([], "needs a 'weights' entry"),
        ({"weights": 5}, "'weights' must be a string"),
        ({"weights": "g.pth", "name": ["x"]}, "'name' must be a string"),
        ({"weights": "g.pth", "training": "lots"}, "'training' must be a JSON object"),
        ({"weights": "g.pth", "architecture": {"arch": 5}}, "needs at least 'arch' and 'depth'"),
        ({"weights": "g.pth", "architecture": "resnet"}, "needs at least 'arch' and 'depth'"),
        ({"weights": "g.pth", "architecture": GOOD_ARCH | {"arch": 5}},
         "architecture 'arch' must be a string, not 5"),
        ({"weights": "g.pth", "architecture": GOOD_ARCH | {"depth": "2"}},
         "architecture 'depth' must be a whole number, not '2'"),
        ({"weights": "g.pth", "architecture": GOOD_ARCH | {"norm": "layer"}},
         "unknown architecture norm 'layer'"),
    ],
)  # fmt: skip
def test_a_damaged_manifest_is_a_one_line_error_where_it_is_read(tmp_path, manifest, message):
    folder = write_manifest(tmp_path / "p", manifest)
    with pytest.raises(StylizeError, match=message) as e:
        Preset.read(folder)
    assert str(e.value).startswith(str(folder / MANIFEST)) and "\n" not in str(e.value)


def test_an_architecture_this_version_lacks_is_listed_broken_and_refused_in_one_line(
    home, tmp_path, tiny_weights
):
    """Reading a manifest imports no PyTorch, so the architecture's name is checked where the
    generator is described or built."""
    folder = write_manifest(home / "presets" / "future", {
        "weights": "g.pth", "architecture": GOOD_ARCH | {"arch": "resnet99"}})  # fmt: skip
    code, out, _ = stylize("--list-presets")
    assert code == 0 and "\nfuture         BROKEN: cannot be used\n" in out
    assert "unknown architecture 'resnet99'" in "".join(out.split("\n"))
    (folder / "g.pth").write_bytes(tiny_weights.read_bytes())
    photo = write_png(tmp_path / "p.png", noise_image(24, 24))
    code, _, err = stylize(photo, "--preset", "future")
    assert code == 1 and "unknown architecture 'resnet99'" in err, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err


def test_a_broken_preset_is_listed_and_removable_and_blocks_nothing(home, tmp_path, tiny_weights):
    assert stylize("presets", "add", tiny_weights, "--name", "good")[0] == 0
    assert stylize("presets", "add", tiny_weights, "--name", "spare")[0] == 0
    presets = home / "presets"
    write_manifest(presets / "bad", "{")
    write_manifest(presets / "arch5", {"weights": "g.pth", "architecture": {"arch": 5}})
    elsewhere = write_manifest(tmp_path / "shared" / "theirs", "{")
    env = {"STYLIZE_PRESETS": str(elsewhere.parent)}
    for args in (["--list-presets"], ["presets", "list"]):
        code, out, err = stylize(*args, env=env)
        assert code == 0, err
        flat = "".join(out.split())  # whatever the wrapping (paths break at hyphens)
        assert "good" in out and "vangogh" in out and "Downloadable" in out
        assert f"\nbad{' ' * 12}BROKEN: cannot be used\n" in out
        for line in (f"{presets / 'bad' / MANIFEST}: unreadable preset manifest",
                     "to remove: stylize presets remove bad\n",
                     "to remove: stylize presets remove arch5\n",
                     f"to remove: fix or delete {elsewhere}\n"):  # fmt: skip
            assert "".join(line.split()) in flat, line
    photo = write_png(tmp_path / "p.png", noise_image(24, 24))
    code, _, err = stylize(photo, "--preset", "arch5")
    assert code == 1 and len(err.splitlines()) == 1 and "KeyError" not in err, err
    assert "'architecture' needs at least 'arch' and 'depth'" in err
    assert stylize("presets", "remove", "spare") == (
        0, f"removed preset spare ({presets / 'spare'})\n", "")  # fmt: skip
    for name in ("bad", "arch5"):
        code, out, err = stylize("presets", "remove", name)
        assert (code, out) == (0, f"removed preset {name} ({presets / name})\n"), err
    assert sorted(p.name for p in presets.iterdir()) == ["good"]


@pytest.mark.parametrize("name", ["a" * 235 + ".png", "é" * 117 + ".png"])
def test_temporary_names_fit_the_file_systems_limit(tmp_path, name):
    assert len(os.fsencode(name)) <= 255  # a legal name
    with atomic_output(tmp_path / name) as tmp:
        assert tmp.name.startswith(".") and tmp.name.endswith(".part.png")
        assert len(os.fsencode(tmp.name)) <= 255
        tmp.write_bytes(b"x")
    write_atomic(tmp_path / name, b"y")
    folder = tmp_path / name.replace(".png", "")
    with atomic_folder(folder) as tmp:
        assert tmp.name.startswith(".") and len(os.fsencode(tmp.name)) <= 255
        (tmp / "f").write_bytes(b"z")
    assert (tmp_path / name).read_bytes() == b"y" and (folder / "f").read_bytes() == b"z"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([name, folder.name])


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, "No space left on device"),
     RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576 vs 534")],
)  # fmt: skip
def test_export_write_errors_are_one_line_naming_the_target(run, tmp_path, monkeypatch, error):
    """A full disk (as the OS and as torch.save report it), or a file where a folder goes."""
    (tmp_path / "file").write_text("mine")
    code, err = export(run, "--name", "mine", "-o", tmp_path / "file" / "presets")
    assert code == 1
    assert err == f"stylize-train: error: cannot write {tmp_path / 'file' / 'presets' / 'mine'} " \
        "(Not a directory)\n"  # fmt: skip

    def full(*args, **kwargs):
        raise error

    monkeypatch.setattr(torch, "save", full)
    code, err = export(run, "--name", "mine", "-o", tmp_path / "out")
    reason = "No space left on device" if isinstance(error, OSError) else str(error)
    assert code == 1
    assert err == f"stylize-train: error: cannot write {tmp_path / 'out' / 'mine'} ({reason})\n"
    assert list((tmp_path / "out").iterdir()) == []  # no half a preset, hidden or not


def test_a_redirect_loop_is_one_line(tmp_path):
    class Loop(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(302)
            self.send_header("Location", self.path)
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Loop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/model.pth"
    try:
        with pytest.raises(StylizeError) as e:
            download(url, tmp_path / "model.pth", "loop", show_progress=False)
    finally:
        server.shutdown()
        server.server_close()
    assert str(e.value) == (
        f"loop: {url} answered 302 The HTTP server returned a redirect error that would lead to "
        "an infinite loop. The last 30x error message was: Found"
    )
