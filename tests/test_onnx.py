"""ONNX export and the ``ort`` backend (ONNX Runtime on the CPU)."""

import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import noise_image, tiny

from stylizer.backends import backend_class
from stylizer.images import Picture
from stylizer.models import GeneratorSpec, build_generator
from stylizer.onnx import export_onnx
from stylizer.options import InferenceOptions
from stylizer.pipeline import Stylizer
from stylizer.styles.loading import load_generator

ort = pytest.importorskip("onnxruntime")

SPECS = [
    GeneratorSpec("resnet", 2, ngf=8),
    GeneratorSpec("resnet-resize", 2, ngf=8),
    GeneratorSpec("unet", 5, ngf=8, norm="batch"),
    GeneratorSpec("compact", 2, ngf=8),
]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.arch)
def test_exported_whole_image_graph_matches_pytorch(tmp_path, spec):
    torch.manual_seed(0)
    model = build_generator(spec).eval()
    path = export_onnx(model, tmp_path / "g.onnx", optimize=False)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"]
    m = model.size_multiple
    for shape in [(1, 3, 37, 51), (2, 3, 64, 40)]:  # odd sizes, and a batch
        image = torch.rand(shape)
        got = session.run(None, {"image": image.numpy()})[0]
        h, w = shape[2:]
        padded = F.pad(image * 2 - 1, (0, -w % m, 0, -h % m), mode="replicate")
        with torch.no_grad():
            want = (model(padded)[..., :h, :w] + 1) / 2
        assert got.shape == shape and np.abs(got - want.numpy()).max() < 1e-4


@pytest.fixture
def ort_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache" / "stylize" / "onnx"


def test_ort_backend_matches_eager_batched_tiled_and_odd(tmp_path, tiny_weights, ort_cache):
    eager = Stylizer(
        tiny_weights,
        InferenceOptions(device="cpu", backend="eager", precision="fp32", batch_size=3),
    )
    logged: list[str] = []
    onnx = Stylizer(
        tiny_weights, InferenceOptions(device="cpu", backend="ort", batch_size=3), log=logged.append
    )
    assert onnx.backend.name == "ort" and onnx.backend.dtype == torch.float32
    frames = [noise_image(30, 50, seed=i) for i in range(3)]  # 50x30: padded to multiples of 4
    for a, b in zip(eager.stylize_frames(frames), onnx.stylize_frames(frames), strict=True):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= 1
    assert any("exporting the model to ONNX" in m for m in logged), logged
    assert len(list(ort_cache.glob("*.onnx"))) == 1
    big = Picture(noise_image(100, 90, seed=9))
    onnx.backend.tile = eager.backend.tile = 32  # tiles with whole-image statistics
    assert np.abs(eager.stylize(big).color.astype(int) - onnx.stylize(big).color).max() <= 1
    deep = Picture(noise_image(12, 20, dtype=np.uint16))
    assert onnx.stylize(deep).color.dtype == np.uint16
    # A second run reads the cached graph; a damaged one is built again.
    logged.clear()
    again = Stylizer(tiny_weights, InferenceOptions(device="cpu", backend="ort"), log=logged.append)
    again.stylize_frames(frames[:1])
    assert not any("exporting" in m for m in logged), logged
    next(ort_cache.glob("*.onnx")).write_bytes(b"damaged")
    Stylizer(
        tiny_weights, InferenceOptions(device="cpu", backend="ort"), log=logged.append
    ).stylize_frames(frames[:1])
    assert any("unreadable" in m for m in logged), logged


def test_without_onnxruntime_ort_falls_back(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    notices = []
    assert backend_class("ort", torch.device("cpu"), notices.append).name == "eager"
    assert notices == [
        "backend ort is unavailable (onnxruntime is not installed: pip install onnxruntime); "
        "using eager"
    ]


def test_train_export_writes_onnx(tmp_path, inversion_pairs):
    from trainer.export import export_preset
    from trainer.loop import train

    s = tiny("cyclegan", list(inversion_pairs), epochs=1, decay_epochs=0, steps_per_epoch=2)
    train(s, tmp_path / "run", log=lambda m: None, device="cpu")
    export_preset(tmp_path / "run", "inv", out_dir=tmp_path / "presets", onnx=True)
    path = tmp_path / "run" / "export" / "inv.onnx"
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {"image": np.random.rand(1, 3, 24, 36).astype(np.float32)})[0]
    assert out.shape == (1, 3, 24, 36) and out.min() >= 0 and out.max() <= 1


def test_ort_backend_keeps_the_weights_float32(tiny_weights, ort_cache):
    """Asked for another precision (auto is bf16 on CPUs that have it), the ort backend still
    runs the weights exactly as stored, never rounded through bf16 on the way."""
    stored = load_generator(tiny_weights).state_dict()
    engine = Stylizer(
        tiny_weights, InferenceOptions(device="cpu", backend="ort", precision="bf16")
    ).backend
    assert engine.dtype == torch.float32
    assert all(torch.equal(v, engine.model.state_dict()[k]) for k, v in stored.items())
