import os
import subprocess
import sys

import cv2
import numpy as np
import pytest
from conftest import SHARED, noise_image, run_main, write_png
from PIL import Image

from stylizer.cli import main
from stylizer.images import read_image
from stylizer.media.processors import PictureProcessor
from stylizer.options import InferenceOptions
from stylizer.pipeline import Stylizer, stylize_files


def run(*args: str) -> subprocess.CompletedProcess:
    """``stylize ARGS``, run in this process; stdout and stderr as text."""
    return run_main(main, list(args), text=True)


def test_folder_of_awkward_images_end_to_end(tmp_path, tiny_weights):
    src = tmp_path / "in"
    write_png(src / "odd.png", noise_image(37, 51))  # not a multiple of 4
    write_png(src / "sub" / "gray.png", noise_image(30, 22, c=1))
    write_png(src / "sub" / "rgba.png", noise_image(40, 33, c=4))
    write_png(src / "deep.png", noise_image(25, 29, dtype=np.uint16))
    cv2.imwrite(str(src / "photo.jpg"), noise_image(48, 64))
    (src / "notes.txt").write_text("not an image, ignored in folders")
    r = run(str(src), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights))
    assert r.returncode == 0, r.stderr
    assert "5 stylized" in r.stderr and r.stdout == ""
    out = tmp_path / "out"
    for rel in ["odd.png", "sub/gray.png", "sub/rgba.png", "deep.png", "photo.jpg"]:
        a = cv2.imread(str(src / rel), cv2.IMREAD_UNCHANGED)
        b = cv2.imread(str(out / rel), cv2.IMREAD_UNCHANGED)
        assert b is not None, rel
        assert a.shape[:2] == b.shape[:2] and a.dtype == b.dtype, rel
    rgba_in = cv2.imread(str(src / "sub/rgba.png"), cv2.IMREAD_UNCHANGED)
    rgba_out = cv2.imread(str(out / "sub/rgba.png"), cv2.IMREAD_UNCHANGED)
    assert (rgba_out[:, :, 3] == rgba_in[:, :, 3]).all()  # alpha passed through
    assert not (rgba_out[:, :, :3] == rgba_in[:, :, :3]).all()
    deep = cv2.imread(str(out / "deep.png"), cv2.IMREAD_UNCHANGED)
    assert deep.dtype == np.uint16 and len(np.unique(deep)) > 256  # kept 16-bit precision
    assert cv2.imread(str(out / "sub/gray.png"), cv2.IMREAD_UNCHANGED).shape[2] == 3
    assert not list(out.rglob("*.part")) and not (out / "notes.txt").exists()


def test_skip_then_overwrite_and_default_names(tmp_path, tiny_weights):
    img = write_png(tmp_path / "a.png", noise_image(20, 24))
    r = run(str(img), "-w", str(tiny_weights))
    target = tmp_path / "a_tiny_net_G_A.png"
    assert r.returncode == 0 and target.is_file(), r.stderr
    stamp = target.stat().st_mtime_ns
    r = run(str(img), "-w", str(tiny_weights))
    assert r.returncode == 0 and "1 skipped" in r.stderr
    assert target.stat().st_mtime_ns == stamp
    r = run(str(img), "-w", str(tiny_weights), "--overwrite")
    assert r.returncode == 0 and "1 stylized" in r.stderr
    assert target.stat().st_mtime_ns != stamp


def test_single_output_file_glob_and_resizing(tmp_path, tiny_weights):
    write_png(tmp_path / "x1.png", noise_image(60, 90))
    write_png(tmp_path / "x2.png", noise_image(60, 90, seed=1))
    r = run(str(tmp_path / "x1.png"), "-o", str(tmp_path / "one.webp"), "-w", str(tiny_weights))
    assert r.returncode == 0 and cv2.imread(str(tmp_path / "one.webp")).shape == (60, 90, 3)
    r = run(str(tmp_path / "x*.png"), "-o", str(tmp_path / "g"), "-w", str(tiny_weights),
            "--max-size", "45", "--ext", "jpg")  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in (tmp_path / "g").iterdir()) == ["x1.jpg", "x2.jpg"]
    assert cv2.imread(str(tmp_path / "g" / "x1.jpg")).shape == (30, 45, 3)  # aspect kept


def test_bad_inputs_are_named_and_the_rest_go_on(tmp_path, tiny_weights):
    good = write_png(tmp_path / "good.png", noise_image(16, 16))
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 this is not really a jpeg")
    (tmp_path / "text.png").write_text("hello")
    (tmp_path / "doc.txt").write_text("hello")
    args = [str(tmp_path / n) for n in ("empty.png", "corrupt.jpg", "text.png", "doc.txt")]
    r = run(str(good), *args, str(tmp_path / "missing.png"), "-o", str(tmp_path / "o"),
            "-w", str(tiny_weights))  # fmt: skip
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if "error:" in line]
    assert len(errors) == 5
    for name in ("empty.png", "corrupt.jpg", "text.png", "doc.txt", "missing.png"):
        assert any(name in line for line in errors), name
    assert "1 stylized" in r.stderr and "5 failed" in r.stderr
    assert [p.name for p in (tmp_path / "o").iterdir()] == ["good.png"]


def test_user_mistakes_give_one_line_errors(tmp_path, tiny_weights):
    img = write_png(tmp_path / "a.png", noise_image(16, 16))
    for args in (
        [str(img)],  # no style
        [str(img), "--preset", "nosuch"],
        [str(img), "-w", str(tmp_path / "nothere.pth")],
        [str(img), "-w", str(img)],  # an image is not a weight file
        [str(img), "-w", str(tiny_weights), "--device", "cuda:7"],
        [str(img), "-w", str(tiny_weights), "--device", "tpu"],
    ):
        r = run(*args)
        assert r.returncode != 0, args
        assert "Traceback" not in r.stderr and r.stderr.strip(), args
    r = run(str(img), "-o", str(img), "-w", str(tiny_weights))
    assert r.returncode == 1 and "overwrite an input" in r.stderr
    r = run(str(img), "-o", str(tmp_path / "a.mp4"), "-w", str(tiny_weights))
    assert r.returncode == 1 and "cannot be written as a.mp4" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "a.mp4").exists()


def test_exif_orientation_is_applied(tmp_path, tiny_weights):
    pixels = noise_image(20, 40)
    im = Image.fromarray(pixels)
    exif = im.getexif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees clockwise to view
    im.save(tmp_path / "turned.jpg", exif=exif)
    assert read_image(tmp_path / "turned.jpg").size == (20, 40)
    summary = stylize_files([str(tmp_path / "turned.jpg")], tiny_weights)
    assert cv2.imread(str(summary.done[0])).shape[:2] == (40, 20)


def test_no_partial_file_when_writing_fails(tmp_path, tiny_weights, monkeypatch):
    write_png(tmp_path / "a.png", noise_image(16, 16))
    import stylizer.images as images

    def broken_encode(picture, ext):
        raise OSError("disk full")

    monkeypatch.setattr(images, "encode_image", broken_encode)
    summary = stylize_files([str(tmp_path / "a.png")], tiny_weights, tmp_path / "o")
    assert len(summary.failed) == 1 and "disk full" in summary.failed[0]
    assert not (tmp_path / "o").exists() or not list((tmp_path / "o").iterdir())


def test_batching_does_not_change_results(tmp_path, tiny_weights):
    pics = [read_image(write_png(tmp_path / f"{i}.png", noise_image(24, 32, seed=i)))
            for i in range(3)]  # fmt: skip
    one = Stylizer(tiny_weights, InferenceOptions(device="cpu", batch_size=1))
    many = Stylizer(tiny_weights, InferenceOptions(device="cpu", batch_size=3))
    assert PictureProcessor(many).batch_size(24, 32) == 3
    together = many.stylize_batch(pics)
    for pic, res in zip(pics, together):
        assert np.abs(one.stylize(pic).color.astype(int) - res.color.astype(int)).max() <= 1


@pytest.mark.skipif(not (SHARED / "samples").is_dir(), reason="no shared sample photos")
def test_real_photos(tmp_path, tiny_weights):
    r = run(str(SHARED / "samples"), "-o", str(tmp_path), "-w", str(tiny_weights), "-q")
    assert r.returncode == 0 and r.stderr == ""
    assert len(list(tmp_path.glob("*.png"))) == 4


def test_list_presets_and_inspect(tiny_weights):
    r = run("--list-presets")
    assert r.returncode == 0 and r.stdout.strip()
    r = run("--inspect", "-w", str(tiny_weights))
    assert r.returncode == 0 and "ResNet generator, 2 blocks, ngf 8" in r.stdout


@pytest.mark.parametrize("pix_fmt, channels", [("rgb24", 3), ("bgr24", 3), ("gray", 1)])
def test_raw_frames_through_pipes(tiny_weights, pix_fmt, channels):
    w, h, n = 50, 30, 5  # 50x30: not a multiple of 4
    frames = [noise_image(h, w, c=channels, seed=i).reshape(h, w, channels) for i in range(n)]
    r = run_main(main, ["-", "--raw", f"{w}x{h}", "--pix-fmt", pix_fmt, "-w", tiny_weights,
                        "--batch-size", "2"], b"".join(f.tobytes() for f in frames))  # fmt: skip
    assert r.returncode == 0, r.stderr.decode()
    assert len(r.stdout) == n * w * h * channels  # data only on stdout
    assert b"5 frames stylized" in r.stderr
    out = np.frombuffer(r.stdout, np.uint8).reshape(n, h, w, channels)
    rgb = [f[:, :, ::-1] if pix_fmt == "bgr24" else f for f in frames]
    expected = Stylizer(tiny_weights).stylize_frames(rgb[:1])[0]
    if pix_fmt == "bgr24":
        expected = expected[:, :, ::-1]
    elif pix_fmt == "gray":
        expected = cv2.cvtColor(expected, cv2.COLOR_RGB2GRAY)[:, :, None]
    assert np.abs(out[0].astype(int) - expected.astype(int)).max() <= 1


def test_raw_pipe_mistakes(tiny_weights):
    r = run_main(main, ["-", "--raw", "8x8", "-w", tiny_weights], b"\0" * (8 * 8 * 3 * 2 + 10))
    assert r.returncode == 1 and len(r.stdout) == 8 * 8 * 3 * 2
    assert b"ended inside frame 3" in r.stderr and b"Traceback" not in r.stderr
    r = run("-", "--raw", "axb", "-w", str(tiny_weights))
    assert r.returncode == 1 and "WIDTHxHEIGHT" in r.stderr
    r = run_main(main, ["-", "-w", tiny_weights], b"no container")  # no --raw: not a video
    assert r.returncode == 1 and b"standard input: not a readable video" in r.stderr
    r = run("-", "other.png", "-w", str(tiny_weights))
    assert r.returncode == 2 and "a pipe takes one INPUT" in r.stderr


def test_torchrun_deals_the_files_out_and_reports_once(tmp_path, tiny_weights):
    """Two CPU processes under torchrun share a folder: images are dealt out, a video stays
    whole on one rank, what is done already is skipped, and one merged summary is printed."""
    from conftest import write_video

    for i in range(5):
        write_png(tmp_path / "in" / f"{i}.png", noise_image(16, 16, seed=i))
    write_video(tmp_path / "in" / "v.mkv", [noise_image(16, 16, seed=i) for i in range(3)])
    write_png(tmp_path / "out" / "0.png", noise_image(16, 16, seed=9))  # done before
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "stylizer", str(tmp_path / "in"), "-o", str(tmp_path / "out"),
         "--weights", str(tiny_weights), "--device", "cpu"],
        capture_output=True, text=True, timeout=300, env=env,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-4000:]
    written = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert written == ["0.png", "1.png", "2.png", "3.png", "4.png", "v.mkv"]
    summaries = [line for line in r.stderr.splitlines() if "stylized" in line]
    assert summaries == ["stylize: 5 stylized, 1 skipped (already done; --overwrite redoes them)"]


def test_version_is_the_installed_packages():
    from importlib.metadata import version

    from trainer.cli import main as trainer_main

    for entry in (main, trainer_main):
        r = run_main(entry, ["--version"], text=True)
        assert r.returncode == 0 and r.stdout.strip().endswith(version("stylize"))


def test_demo_makes_its_own_inputs_and_stylizes_them(tmp_path, tiny_weights):
    import av

    r = run_main(main, ["--demo", "-o", tmp_path / "d", "--weights", tiny_weights, "-q"])
    assert r.returncode == 0, r.stderr
    made = sorted(p.name for p in (tmp_path / "d" / "inputs").iterdir())
    assert made == ["landscape-day.png", "landscape-evening.png", "pan.mp4"]
    for name in made:
        assert (tmp_path / "d" / name).is_file()  # the stylized version beside inputs/
    with av.open(str(tmp_path / "d" / "pan.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 48  # two seconds at 24 fps
    day = cv2.imread(str(tmp_path / "d" / "inputs" / "landscape-day.png"))
    assert day.shape == (512, 768, 3) and day.std() > 20  # a picture, not a blank
    assert run_main(main, ["--demo", "x.png", "-p", "vangogh"]).returncode == 2
    (tmp_path / "file").write_text("")
    r = run_main(main, ["--demo", "-o", tmp_path / "file" / "d", "--weights", tiny_weights])
    assert (
        r.returncode == 1
        and b"is a file, not a folder" in r.stderr
        and b"Traceback" not in r.stderr
    )
