"""Instant start: the command line imports nothing heavy until a command needs it, and a preset's
own ONNX graph stylizes images, videos and pipes without importing PyTorch at all, agreeing with
the PyTorch path to rounding."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import noise_image, write_png, write_video

from stylizer.backends import BACKENDS, backend_names
from stylizer.backends.eager import EagerBackend
from stylizer.errors import StylizeError
from stylizer.graph import GraphBackend
from stylizer.inference import Stylizer
from stylizer.options import InferenceOptions
from stylizer.styles.presets import BUILTIN_DIR, Preset, list_presets
from stylizer.styles.weights import load_weights, weights_digest

pytest.importorskip("onnxruntime")

#: What the plain stylize path must never import: each costs from a tenth of a second (the
#: trainer) to seconds (PyTorch 1.2, torchvision 1.2, torchmetrics 4).
HEAVY = ("torch", "torchvision", "torchmetrics", "trainer", "tensorrt", "onnxscript")
#: What a photo does not need either: PyAV (videos), tqdm (a terminal's bar), http (downloads).
NOT_FOR_PHOTOS = ("av", "tqdm", "http.client", "filelock")
SAMPLE = Path(__file__).parents[2] / "shared" / "data" / "samples" / "astronaut.png"

# Runs stylize's main on each |-separated argument list in one fresh process, then prints the
# heavy modules it imported.
RUN = f"""
import sys
from stylizer.cli import main

for args in sys.argv[1:]:
    try:
        main(args.split("|"))
    except SystemExit as e:
        assert not e.code, (args, e.code)
loaded = [m for m, module in sys.modules.items() if type(module).__name__ != "_LazyModule"]
print("IMPORTED", [m for m in {HEAVY + NOT_FOR_PHOTOS!r} if m in loaded], file=sys.stderr)
"""


def run_fresh(*runs: str, stdin: bytes | None = None) -> tuple[list[str], bytes]:
    """The heavy modules a fresh process imported running ``stylize`` with each argument list,
    and its standard output."""
    out = subprocess.run(
        [sys.executable, "-c", RUN, *runs],
        input=stdin,
        capture_output=True,
        timeout=300,
        env={**os.environ, "CUDA_VISIBLE_DEVICES": ""},  # auto means the CPU, on any machine
    )
    err = out.stderr.decode()
    assert out.returncode == 0, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("IMPORTED "), err
    return eval(last.removeprefix("IMPORTED ")), out.stdout


def test_help_version_the_preset_list_and_a_photo_import_nothing_heavy(tmp_path):
    photo = write_png(tmp_path / "a.png", noise_image(60, 84))
    runs = ("--help", "--version", "--list-presets", "presets|list", "generate|--help",
            f"{photo}|-p|vangogh-fast|-o|{tmp_path / 'one.png'}")  # fmt: skip
    imported, _ = run_fresh(*runs)
    assert imported == []


def test_a_preset_with_a_graph_stylizes_without_pytorch(tmp_path):
    """Images, a folder, a video and a raw pipe, through ``auto`` and ``--backend ort``."""
    photo = write_png(tmp_path / "in" / "a.png", noise_image(60, 84))
    write_png(tmp_path / "in" / "b.png", noise_image(50, 40, seed=1))
    clip = write_video(tmp_path / "clip.mp4", [noise_image(48, 64, seed=i) for i in range(4)])
    imported, _ = run_fresh(
        f"{photo}|-p|vangogh-fast|-o|{tmp_path / 'one.png'}",
        f"{tmp_path / 'in'}|-p|monet-fast|-o|{tmp_path / 'out'}|--backend|ort",
        f"{clip}|-p|vangogh-fast|-o|{tmp_path / 'clip_out.mp4'}|--temporal|flow",
    )
    assert not set(imported) & set(HEAVY)
    assert (tmp_path / "one.png").is_file() and (tmp_path / "clip_out.mp4").is_file()
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    frames = np.stack([noise_image(16, 24, seed=i) for i in range(3)])
    imported, out = run_fresh("-|--raw|24x16|-p|vangogh-fast|--backend|ort", stdin=frames.tobytes())
    assert not set(imported) & set(HEAVY) and len(out) == frames.nbytes


def test_pytorch_is_imported_only_where_asked_for(tmp_path):
    photo = write_png(tmp_path / "a.png", noise_image(40, 56))
    for extra in ("--backend|eager", "--precision|bf16", "--tile|32"):
        imported, _ = run_fresh(
            f"{photo}|-p|vangogh-fast|-o|{tmp_path / 'x.png'}|--overwrite|{extra}"
        )
        assert "torch" in imported, extra


def graph_presets() -> list[Preset]:
    return [p for p in list_presets() if p.folder.parent == BUILTIN_DIR and not p.from_noise]


@pytest.mark.parametrize("preset", graph_presets(), ids=lambda p: p.name)
def test_every_shipped_graph_agrees_with_its_weights(preset):
    """The graph was exported from these very weights (a retrained preset whose graph was not
    written again fails here), and gives their output to rounding: odd sizes (padding), a batch,
    a frame larger than the working size."""
    assert preset.graph is not None and preset.graph.is_file(), f"{preset.name} has no graph"
    model = load_weights(preset.weights, preset.spec)
    graph = GraphBackend(preset.graph, fallback=lambda: pytest.fail("no fallback expected"))
    assert graph.facts.weights_digest == weights_digest(model), "stale graph: write it again"
    eager = EagerBackend(model, torch.device("cpu"), precision="fp32")
    photo = np.ascontiguousarray(__import__("cv2").imread(str(SAMPLE))[:, :, ::-1])
    for frames in (photo[None, :97, :131], np.stack([photo[:64, :64], photo[64:128, :64]])):
        got, want = graph.stylize_array(frames), eager.stylize_array(frames)
        error = np.abs(got.astype(int) - want).astype(float)
        psnr = 10 * np.log10(255**2 / max((error**2).mean(), 1e-9))
        assert psnr > 50 and error.max() <= 3, (psnr, error.max())


def test_a_frame_too_large_for_memory_goes_to_pytorch_in_tiles(tmp_path):
    """The graph cannot tile with whole-image statistics: such a frame runs in PyTorch."""
    image = noise_image(128, 160)  # 8 * ngf bytes a pixel: 3.8 MiB, more than 1 MiB
    roomy = Stylizer("vangogh-fast", InferenceOptions(device="cpu", backend="ort"))
    tight = Stylizer("vangogh-fast", InferenceOptions(device="cpu", backend="ort", memory_mb=1))
    assert isinstance(roomy.backend, GraphBackend) and isinstance(tight.backend, GraphBackend)
    assert roomy.backend.fits(128, 160) and not tight.backend.fits(128, 160)
    got, want = (s.stylize_frames([image])[0] for s in (tight, roomy))
    assert tight.backend._fallback_engine is not None
    assert np.abs(got.astype(int) - want).max() <= 3


def test_the_backend_choice(tmp_path):
    def engine(**options) -> str:
        chosen = Stylizer("vangogh-fast", InferenceOptions(device="cpu", **options)).backend
        return f"{chosen.name}:{type(chosen).__name__}:{chosen.precision}"  # as --json says

    assert engine() == "ort:GraphBackend:fp32"  # auto, a short job
    assert engine(backend="ort") == "ort:GraphBackend:fp32"
    assert engine(backend="eager", precision="fp32") == "eager:EagerBackend:fp32"
    assert engine(precision="bf16") == "eager:EagerBackend:bf16"  # the graph is float32
    assert engine(tile=64, precision="fp32") == "eager:EagerBackend:fp32"
    for long_job in ([(2000, 720, 1280)], None):  # a long video; a pipe, of unknown length
        chosen = Stylizer("vangogh-fast", InferenceOptions(device="cpu"), workload=long_job)
        assert not isinstance(chosen.backend, GraphBackend)
    short = Stylizer("vangogh", InferenceOptions(device="cpu"), workload=[(4, 720, 1280)])
    assert isinstance(short.backend, GraphBackend)
    weights = Stylizer(BUILTIN_DIR / "vangogh-fast" / "generator.pth", InferenceOptions("cpu"))
    assert not isinstance(weights.backend, GraphBackend)  # a weight file has no graph


def test_backends_are_named_by_their_files():
    BACKENDS["eager"]  # noqa: B018  (the lookup discovers them all)
    assert sorted(backend_names()) == sorted(BACKENDS)


def test_a_damaged_or_foreign_graph_is_a_one_line_error(tmp_path):
    damaged = tmp_path / "damaged.onnx"
    damaged.write_bytes(b"not a graph")
    with pytest.raises(StylizeError, match="cannot load the graph") as e:
        GraphBackend(damaged, fallback=lambda: pytest.fail("never"))
    assert "\n" not in str(e.value)
    foreign = tmp_path / "foreign.onnx"
    from stylizer.onnx import export_onnx

    export_onnx(load_weights(BUILTIN_DIR / "vangogh-fast" / "generator.pth"), foreign, False)
    with pytest.raises(StylizeError, match="not a stylize graph"):
        GraphBackend(foreign, fallback=lambda: pytest.fail("never"))


def test_a_preset_gets_its_graph_from_a_library_call(tmp_path, tiny_weights):
    from stylizer.onnx import write_preset_graph

    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "g.pth").write_bytes(tiny_weights.read_bytes())
    (folder / "preset.json").write_text(json.dumps({"weights": "g.pth", "name": "mine"}))
    write_preset_graph(folder)
    preset = Preset.read(folder)
    assert preset.graph == folder / "generator.onnx"
    stylizer = Stylizer(folder, InferenceOptions(device="cpu", backend="ort"))
    assert isinstance(stylizer.backend, GraphBackend)
    assert stylizer.stylize_frames([noise_image(30, 30)])[0].shape == (30, 30, 3)
