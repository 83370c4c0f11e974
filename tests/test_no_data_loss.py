"""Issue 28: commands never write over what they did not create, re-runs find the same work,
and every way of failing (closed pipes, low memory, long names, odd inputs) is one line."""

import errno
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import noise_image, run_main, write_png, write_video

import stylizer.commands.stylize
from stylizer.cli import main

STYLIZE = Path(sys.executable).with_name("stylize")


def run(*args, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return run_main(main, list(args), stdin=stdin, text=True)


def sheet(*args) -> subprocess.CompletedProcess:
    return run_main(main, ["sheet", *args], text=True)


def test_json_report_never_replaces_an_input_or_a_result(tmp_path, tiny_weights):
    photo = write_png(tmp_path / "a.png", noise_image(24, 32))
    before = photo.read_bytes()
    r = run(photo, "-w", tiny_weights, "--json", photo)
    assert r.returncode == 1 and "would overwrite an input" in r.stderr, r.stderr
    assert photo.read_bytes() == before and not (tmp_path / "a_tiny_net_G_A.png").exists()

    result = tmp_path / "a_tiny_net_G_A.png"
    r = run(photo, "-w", tiny_weights, "--json", result)
    assert r.returncode == 1 and f"is already the output of --json {result}" in r.stderr
    assert result.read_text().startswith("{")  # the report, not a photo it then replaced


def test_stream_outputs_are_checked_against_each_other(tmp_path, tiny_weights):
    target = tmp_path / "out.mkv"
    r = run("-", "-w", tiny_weights, "-o", target, "--json", target, stdin=b"x")
    assert r.returncode == 1 and "is already the output of -o" in r.stderr
    assert not target.exists()


def test_sheet_never_replaces_its_photo(tmp_path, tiny_weights):
    photo = write_png(tmp_path / "a.png", noise_image(24, 32))
    before = photo.read_bytes()
    r = sheet(photo, "-o", photo, "--presets", tiny_weights)
    assert r.returncode == 1 and "would overwrite an input" in r.stderr
    assert photo.read_bytes() == before


def test_rerun_into_an_output_folder_inside_the_input(tmp_path, tiny_weights):
    src = tmp_path / "in"
    for name in ("a.png", "b.png"):
        write_png(src / name, noise_image(24, 32))
    first = run(src, "-w", tiny_weights, "-o", src / "out")
    assert first.returncode == 0 and "2 stylized" in first.stderr, first.stderr
    second = run(src, "-w", tiny_weights, "-o", src / "out")
    assert second.returncode == 0, second.stderr
    assert "2 skipped" in second.stderr and "left out 2 file(s)" in second.stderr
    assert not (src / "out" / "out").exists()


def test_rerun_of_a_glob_does_not_stylize_its_results(tmp_path, tiny_weights):
    for name in ("x.png", "y.jpg"):
        write_png(tmp_path / "g" / name, noise_image(24, 32))
    pattern = str(tmp_path / "g" / "*")
    assert run(pattern, "-w", tiny_weights).returncode == 0
    again = run(pattern, "-w", tiny_weights)
    assert again.returncode == 0 and "2 skipped" in again.stderr, again.stderr
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == [
        "x.png", "x_tiny_net_G_A.png", "y.jpg", "y_tiny_net_G_A.jpg"]  # fmt: skip


def test_a_file_named_itself_is_an_input_even_if_it_looks_like_a_result(tmp_path, tiny_weights):
    write_png(tmp_path / "x.png", noise_image(24, 32))
    styled = write_png(tmp_path / "x_tiny_net_G_A.png", noise_image(24, 32))
    r = run(styled, "-w", tiny_weights)
    assert r.returncode == 0 and (tmp_path / "x_tiny_net_G_A_tiny_net_G_A.png").is_file()


@pytest.mark.parametrize("extra", [["--json", "-"], ["-o", "-", "--format", "nut"]])
def test_closed_standard_output_is_said(tmp_path, tiny_weights, extra):
    """``stylize ... | true``: the reader is gone; say so, keep what was written to files."""
    if "-o" in extra:
        source = write_video(tmp_path / "v.mp4", [noise_image(32, 48)[:, :, ::-1]] * 30)
    else:
        source = write_png(tmp_path / "a.png", noise_image(24, 32))
    p = subprocess.Popen([STYLIZE, source, "-w", tiny_weights, "-q", *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    p.stdout.close()
    _, err = p.communicate(timeout=120)
    lines = err.decode().splitlines()
    assert p.returncode == 1 and len(lines) == 1, err
    assert "standard output was closed" in lines[0]
    if "--json" in extra:
        assert (tmp_path / "a_tiny_net_G_A.png").is_file()


def test_video_frames_over_max_pixels_are_refused_from_the_header(tmp_path, tiny_weights):
    video = write_video(tmp_path / "big.mp4", [noise_image(64, 96)] * 3)
    r = run(video, "-w", tiny_weights, "--max-pixels", "1000")
    assert r.returncode == 1 and "96x64 is 6,144 pixels, over the limit of 1,000" in r.stderr
    assert not (tmp_path / "big_tiny_net_G_A.mp4").exists()
    piped = run("-", "-w", tiny_weights, "-o", "-", "--max-pixels", "1000",
                stdin=video.read_bytes())  # fmt: skip
    assert piped.returncode == 1 and "over the limit of 1,000" in piped.stderr


def test_too_little_address_space_is_one_line(tmp_path, tiny_weights):
    photo = write_png(tmp_path / "a.png", noise_image(24, 32))

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, resource.RLIM_INFINITY))

    r = subprocess.run([STYLIZE, photo, "-w", tiny_weights], capture_output=True, text=True,
                       preexec_fn=limit, timeout=60)  # fmt: skip
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1, r.stderr
    assert "ulimit -v" in r.stderr and "raise the limit" in r.stderr


def test_memory_running_out_mid_run_is_one_line(tmp_path, tiny_weights, monkeypatch):
    def out_of_memory(*_args, **_kwargs):
        raise MemoryError()

    monkeypatch.setattr("stylizer.pipeline.Stylizer", out_of_memory)
    r = run(write_png(tmp_path / "a.png", noise_image(24, 32)), "-w", tiny_weights)
    assert r.returncode == 1 and r.stderr.startswith("stylize: error: out of memory")


def test_an_output_name_too_long_fails_that_file_only(tmp_path, tiny_weights):
    long = write_png(tmp_path / "in" / f"{'n' * 245}.png", noise_image(24, 32))  # legal
    write_png(tmp_path / "in" / "b.png", noise_image(24, 32))
    r = run(long, tmp_path / "in" / "b.png", "-w", tiny_weights)
    assert r.returncode == 1 and "1 stylized, 1 failed" in r.stderr, r.stderr
    assert "File name too long" in r.stderr and "internal error" not in r.stderr
    assert (tmp_path / "in" / "b_tiny_net_G_A.png").is_file()


def test_sheet_goes_on_without_an_unreadable_photo(tmp_path, tiny_weights):
    good = write_png(tmp_path / "p" / "good.png", noise_image(24, 32))
    (tmp_path / "p" / "bad.png").write_bytes(b"not a png")
    out = tmp_path / "sheet.png"
    r = sheet(tmp_path / "p", "-o", out, "--presets", tiny_weights, "--size", "32")
    assert r.returncode == 1 and "bad.png: " in r.stderr and "1 of 2 photos" in r.stderr
    assert out.is_file() and good.is_file()


def test_sheet_checks_its_output_before_any_inference(tmp_path, tiny_weights):
    photo = write_png(tmp_path / "a.png", noise_image(24, 32))
    missing = tmp_path / "missing.pth"  # would fail, and say so, if any style ran
    r = sheet(photo, "-o", tmp_path / "sheet.xyz", "--presets", missing)
    assert r.returncode == 2 and "image extension" in r.stderr and "missing.pth" not in r.stderr
    (tmp_path / "ro").mkdir()
    (tmp_path / "ro" / "file").write_text("")
    r = sheet(photo, "-o", tmp_path / "ro" / "file" / "s.png", "--presets", missing)
    assert r.returncode == 1 and "is a file, not a folder" in r.stderr
    assert "missing.pth" not in r.stderr


def test_a_named_pipe_is_named_as_one(tmp_path, tiny_weights):
    fifo = tmp_path / "frames"
    os.mkfifo(fifo)
    r = run(fifo, "-w", tiny_weights)
    assert r.returncode == 1 and "a named pipe, not a file" in r.stderr
    r = sheet(fifo, "--presets", tiny_weights)
    assert r.returncode == 1 and "a named pipe, not a file" in r.stderr


def test_json_to_a_full_disk_is_one_line(tmp_path, tiny_weights, monkeypatch):
    def full(*_args, **_kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(stylizer.commands.stylize, "write_atomic", full)
    photo = write_png(tmp_path / "a.png", noise_image(24, 32))
    r = run(photo, "-w", tiny_weights, "--json", tmp_path / "report.json")
    assert r.returncode == 1
    assert r.stderr.strip().endswith(f"cannot write --json {tmp_path / 'report.json'} "
                                     "(No space left on device)")  # fmt: skip
