"""The reference's published models on demand, and ``stylize presets add/remove``: the whole path
against a local HTTP server (a good file, a corrupt one, a wrong checksum, a 404, a connection
dropped mid-file, a stalled one), never the real server."""

from __future__ import annotations

import hashlib
import json
import shutil
import threading
import time
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import noise_image, run_main, save_generator, write_png

from stylizer.cli import main
from stylizer.errors import StylizeError
from stylizer.models import GeneratorSpec
from stylizer.styles import download
from stylizer.styles.catalogue import CATALOGUE, REFERENCE_WORKING_SIZE, catalogue_entry
from stylizer.styles.installing import find_preset, install_from_catalogue

HORSE = "/cyclegan/pretrained_models/horse2zebra.pth"
VANGOGH = "/cyclegan/pretrained_models/style_vangogh.pth"


class ModelServer:
    """Serves ``routes`` (path -> (behaviour, bytes)) on 127.0.0.1 and records each request's
    Range header. Behaviours: ok (honours ranges; 416 past the end), whole (ignores ranges),
    drop (the first answer stops half-way), stall (sends half, then nothing for longer than the
    client waits), 404."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[str, bytes]] = {}
        self.requests: list[tuple[str, str | None]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append((self.path, self.headers.get("Range")))
                behaviour, data = server.routes.get(self.path, ("404", b""))
                if behaviour == "404":
                    self.send_error(404, "Not Found")
                    return
                ranged = self.headers["Range"] and behaviour != "whole"
                start = int(self.headers["Range"][6:].rstrip("-")) if ranged else 0
                if start >= len(data) > 0:
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(data)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if start:
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                body = data[start:]
                if behaviour in ("drop", "stall") and not start:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    if behaviour == "drop":
                        server.routes[self.path] = ("ok", data)  # the next try gets the rest
                    else:
                        time.sleep(1.5)
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def server(monkeypatch, tmp_path):
    """A model server, with stylize pointed at it and a data directory of the test's own."""
    s = ModelServer()
    monkeypatch.setenv("STYLIZE_MODELS_URL", s.url)
    monkeypatch.setenv("STYLIZE_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(download, "TIMEOUT_SECONDS", 0.5)
    yield s
    s.close()


def generator_bytes(tmp_path: Path, seed: int) -> bytes:
    spec = GeneratorSpec("resnet", 1, ngf=4)
    return save_generator(tmp_path / f"g{seed}.pth", spec, seed=seed).read_bytes()


def git_blob(data: bytes) -> str:
    return hashlib.sha1(f"blob {len(data)}\0".encode() + data).hexdigest()


def leftovers(home: Path) -> list[str]:
    """What the data directory holds besides installed presets, the checksum record and the
    lock: downloads, partial files, temporary install or removal folders."""
    found = [p for p in home.rglob("*") if p.name not in ("checksums.json", ".lock")]
    return sorted(
        str(p.relative_to(home))
        for p in found
        if (p.is_file() and "presets" not in p.relative_to(home).parts)
        or (p.parent == home / "presets" and p.name.startswith("."))
    )


def test_catalogue_names_every_published_model_once():
    names = [e.name for e in CATALOGUE]
    assert len(names) == len(set(names)) == 23
    assert catalogue_entry("style_vangogh").name == "cyclegan:style_vangogh"
    assert catalogue_entry("pix2pix:sat2map").kind == "pix2pix"
    with pytest.raises(StylizeError, match="cyclegan:sat2map or pix2pix:sat2map"):
        catalogue_entry("sat2map")
    assert catalogue_entry("no_such_model") is None
    assert sum(bool(e.git_blob) for e in CATALOGUE) == 4


def test_first_use_downloads_installs_and_stylizes(server, tmp_path):
    data = generator_bytes(tmp_path, 1)
    server.routes[HORSE] = ("ok", data)
    photo = write_png(tmp_path / "in" / "p.png", noise_image(40, 56))
    r = run_main(main, [photo, "-o", tmp_path / "out", "--preset", "horse2zebra"], text=True)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out" / "p.png").is_file()
    preset = find_preset("cyclegan:horse2zebra")
    assert preset.manifest["source"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert "not checksummed" in preset.manifest["source"]["checksum"]
    assert preset.weights.read_bytes() == data
    assert preset.working_size == REFERENCE_WORKING_SIZE  # it paints at the reference's scale
    assert leftovers(tmp_path / "home") == []
    # Installed now: a second use asks the server nothing.
    asked = len(server.requests)
    assert (
        run_main(main, [photo, "-o", tmp_path / "out2", "--preset", "horse2zebra"]).returncode == 0
    )
    assert len(server.requests) == asked
    listing = run_main(main, ["--list-presets"], text=True).stdout
    installed, _, fetchable = listing.partition("Downloadable")
    assert "cyclegan:horse2zebra" in installed and "downloaded; not checksummed" in installed
    assert "cyclegan:horse2zebra" not in fetchable and "cyclegan:zebra2horse" in fetchable


def test_known_checksum_is_enforced(server, tmp_path):
    data = generator_bytes(tmp_path, 2)
    server.routes[VANGOGH] = ("ok", data)
    assert run_main(main, ["--list-presets"]).returncode == 0
    assert not server.requests  # listing fetches nothing
    photo = write_png(tmp_path / "p.png", noise_image(32, 32))
    r = run_main(main, [photo, "--preset", "style_vangogh"], text=True)
    assert r.returncode == 1
    assert "git blob id" in r.stderr and "c6fc74049615b1c71b8be287bfdb12ec4f6170d4" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "p_style_vangogh.png").exists()
    assert leftovers(tmp_path / "home") == []
    # The same bytes pass when they are what was published.
    entry = replace(catalogue_entry("style_vangogh"), git_blob=git_blob(data))
    preset = install_from_catalogue(entry, show_progress=False)
    assert preset.manifest["source"]["checksum"].startswith("matches the published git blob id")


def test_a_later_file_that_differs_is_refused(server, tmp_path):
    server.routes[HORSE] = ("ok", generator_bytes(tmp_path, 3))
    find_preset("horse2zebra")
    assert run_main(main, ["presets", "remove", "horse2zebra"]).returncode == 0
    server.routes[HORSE] = ("ok", generator_bytes(tmp_path, 4))
    with pytest.raises(StylizeError, match="first one installed under this name"):
        find_preset("horse2zebra")
    assert leftovers(tmp_path / "home") == []


@pytest.mark.parametrize(
    ("behaviour", "data", "message"),
    [
        ("404", b"", "answered 404 Not Found"),
        ("ok", b"<html>not a model</html>", "not a PyTorch weight file"),
        ("ok", b"", "empty"),
    ],
)
def test_bad_answers_install_nothing(server, tmp_path, behaviour, data, message):
    server.routes[HORSE] = (behaviour, data)
    r = run_main(main, [write_png(tmp_path / "p.png", noise_image(32, 32)), "--preset",
                        "horse2zebra"], text=True)  # fmt: skip
    assert r.returncode == 1
    assert message in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "home" / "presets").exists() or not any(
        (tmp_path / "home" / "presets").iterdir()
    )
    assert leftovers(tmp_path / "home") == []


def test_offline_says_how_to_install_by_hand(monkeypatch, tmp_path):
    monkeypatch.setenv("STYLIZE_MODELS_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("STYLIZE_HOME", str(tmp_path / "home"))
    r = run_main(main, [write_png(tmp_path / "p.png", noise_image(32, 32)), "--preset",
                        "style_monet"], text=True)  # fmt: skip
    assert r.returncode == 1
    assert "cannot reach" in r.stderr
    assert "stylize presets add FILE --name cyclegan:style_monet" in r.stderr


def test_dropped_connection_resumes(server, tmp_path):
    data = generator_bytes(tmp_path, 5)
    server.routes[HORSE] = ("drop", data)
    preset = find_preset("horse2zebra")
    assert preset.weights.read_bytes() == data
    ranges = [r for path, r in server.requests if path == HORSE]
    assert ranges == [None, f"bytes={len(data) // 2}-"]


def test_stalled_download_keeps_its_part_and_resumes_next_time(server, tmp_path):
    data = generator_bytes(tmp_path, 6)
    server.routes[HORSE] = ("stall", data)
    with pytest.raises(StylizeError, match="sent nothing for"):
        find_preset("horse2zebra")
    part = tmp_path / "home" / "downloads" / "cyclegan-horse2zebra.pth.part"
    assert part.stat().st_size == len(data) // 2
    assert "cyclegan:horse2zebra" not in installed_names()
    server.routes[HORSE] = ("ok", data)
    assert find_preset("horse2zebra").weights.read_bytes() == data
    assert server.requests[-1] == (HORSE, f"bytes={len(data) // 2}-")
    assert not part.exists()


def installed_names() -> list[str]:
    r = run_main(main, ["presets", "list"], text=True)
    return [line.split()[0] for line in r.stdout.partition("Downloadable")[0].splitlines()
            if line and not line.startswith(" ")]  # fmt: skip


def test_presets_add_and_remove(tmp_path, monkeypatch, tiny_weights):
    monkeypatch.setenv("STYLIZE_HOME", str(tmp_path / "home"))
    r = run_main(main, ["presets", "add", tiny_weights, "--name", "mystyle", "--description",
                        "My style"], text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "mystyle" in installed_names() and "vangogh" in installed_names()
    manifest = json.loads((tmp_path / "home" / "presets" / "mystyle" / "preset.json").read_text())
    assert manifest["description"] == "My style" and manifest["source"]["kind"] == "added"
    assert "working_size" not in manifest  # a file of unknown origin paints at full size
    photo = write_png(tmp_path / "p.png", noise_image(24, 40))
    assert run_main(main, [photo, "--preset", "mystyle"]).returncode == 0
    assert (tmp_path / "p_mystyle.png").is_file()
    again = run_main(main, ["presets", "add", tiny_weights, "--name", "mystyle"], text=True)
    assert again.returncode == 1 and "already installed" in again.stderr
    assert run_main(main, ["presets", "remove", "mystyle"]).returncode == 0
    assert "mystyle" not in installed_names()
    r = run_main(main, ["presets", "add", tiny_weights, "--name", "sized", "--working-size", "20"])
    assert r.returncode == 0 and find_preset("sized").working_size == 20
    for args, message in (
        (["remove", "vangogh"], "ships with stylize"),
        (["remove", "mystyle"], "no preset named 'mystyle' is installed"),
        (["add", tiny_weights, "--name", "../escape"], "not a usable preset name"),
        (["add", tmp_path / "missing.pth", "--name", "x"], "no such file"),
        (["add", photo, "--name", "x"], "p.png"),
    ):
        r = run_main(main, ["presets", *args], text=True)
        assert r.returncode == 1 and message in r.stderr, (args, r.stderr)
        assert "Traceback" not in r.stderr
    assert not (tmp_path / "home" / "presets" / "x").exists()


def test_presets_add_a_published_model_checks_it(tmp_path, monkeypatch, tiny_weights):
    monkeypatch.setenv("STYLIZE_HOME", str(tmp_path / "home"))
    r = run_main(main, ["presets", "add", tiny_weights, "--name", "style_ukiyoe"], text=True)
    assert r.returncode == 1 and "04d13a1a7724d6aa7d22f8d49efd1762fb324a87" in r.stderr
    r = run_main(main, ["presets", "add", tiny_weights, "--name", "apple2orange"], text=True)
    assert r.returncode == 0, r.stderr
    assert "cyclegan:apple2orange" in installed_names()
    assert find_preset("apple2orange").manifest["source"]["kind"] == "added"
    assert find_preset("apple2orange").working_size == REFERENCE_WORKING_SIZE


def test_resume_edge_cases(server, tmp_path):
    """A .part that is already whole (a 416 says so) is kept; a server that ignores the range
    sends the whole file again, which replaces the part instead of being appended to it."""
    data = generator_bytes(tmp_path, 7)
    part = tmp_path / "home" / "downloads" / "cyclegan-horse2zebra.pth.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(data)
    server.routes[HORSE] = ("ok", data)
    assert find_preset("horse2zebra").weights.read_bytes() == data
    assert server.requests == [(HORSE, f"bytes={len(data)}-")]
    assert run_main(main, ["presets", "remove", "cyclegan:horse2zebra"]).returncode == 0
    part.write_bytes(b"garbage!" * 100)
    server.routes[HORSE] = ("whole", data)
    assert find_preset("horse2zebra").weights.read_bytes() == data
    assert leftovers(tmp_path / "home") == []


def test_two_runs_at_once_download_once(server, tmp_path):
    data = generator_bytes(tmp_path, 8)
    server.routes[HORSE] = ("ok", data)
    results: list = []

    def use() -> None:
        try:
            results.append(find_preset("horse2zebra").folder)
        except Exception as e:  # surfaces in the assertion below
            results.append(e)

    threads = [threading.Thread(target=use) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0] == results[1] == tmp_path / "home" / "presets" / "cyclegan-horse2zebra"
    assert [path for path, _ in server.requests] == [HORSE]


def test_an_interrupted_install_or_removal_leaves_nothing_visible(tmp_path, monkeypatch,
                                                                  tiny_weights):  # fmt: skip
    monkeypatch.setenv("STYLIZE_HOME", str(tmp_path / "home"))
    assert run_main(main, ["presets", "add", tiny_weights, "--name", "kept"]).returncode == 0
    # What a kill mid-install (or mid-removal) leaves: a hidden folder with a whole manifest.
    shutil.copytree(tmp_path / "home" / "presets" / "kept",
                    tmp_path / "home" / "presets" / ".ghost.x1.part")  # fmt: skip
    assert installed_names().count("kept") == 1
    r = run_main(main, ["presets", "add", tiny_weights, "--name", "ghost"], text=True)
    assert r.returncode == 0, r.stderr
    assert "ghost" in installed_names()
