import importlib.util
import subprocess
import sys

import pytest
import torch
from conftest import save_generator

from stylizer import load_generator
from stylizer.backends.cache import cache_dir, read_cached
from stylizer.backends.choice import BACKENDS
from stylizer.backends.eager import EagerBackend
from stylizer.backends.tensorrt import (
    Profile,
    TensorRTBackend,
    cache_key,
    dynamic_shapes,
    export_program,
    shape_profile,
    weights_digest,
)
from stylizer.files import atomic_output
from stylizer.models import GeneratorSpec, set_bn_per_image

CUDA = torch.device("cuda")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    d = tmp_path_factory.mktemp("trt")
    return save_generator(d / "g.pth", GeneratorSpec("resnet", 2, ngf=8))


# --- without TensorRT ----------------------------------------------------------------------------


def test_imports_and_registers_without_torch_tensorrt():
    code = (
        "import sys, torch\n"
        "sys.modules['torch_tensorrt'] = None\n"  # any import of it now raises ImportError
        "sys.modules['tensorrt'] = None\n"
        "from stylizer.backends import tensorrt\n"
        "from stylizer.backends.choice import BACKENDS\n"
        "assert BACKENDS['tensorrt'] is tensorrt.TensorRTBackend\n"
        "print(tensorrt.TensorRTBackend.unavailable(torch.device('cpu')))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "CUDA" in out.stdout


def test_registered_under_its_name():
    assert BACKENDS["tensorrt"] is TensorRTBackend


def test_unavailable_says_why():
    assert "CUDA" in TensorRTBackend.unavailable(torch.device("cpu"))
    runnable = torch.cuda.is_available() and importlib.util.find_spec("torch_tensorrt") is not None
    assert (TensorRTBackend.unavailable(CUDA) is None) == runnable


def test_unavailable_without_the_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setitem(sys.modules, "torch_tensorrt", None)
    reason = TensorRTBackend.unavailable(CUDA)
    assert "not installed" in reason and "pip install stylize[tensorrt]" in reason


@pytest.mark.parametrize(
    "shape, multiple",
    [
        ((4, 3, 256, 256), 4),
        ((1, 3, 720, 1280), 4),
        ((2, 3, 64, 96), 4),
        ((3, 1, 8, 12), 4),
        ((2, 3, 512, 768), 256),
        ((1, 3, 256, 256), 256),
    ],
)
def test_profile(shape, multiple):
    p = shape_profile(shape, multiple)
    n, c, h, w = shape
    assert p.contains(shape) and p.opt_shape == shape
    assert (p.min_shape[0], p.max_shape[0]) == (1, n)
    assert p.min_shape[1] == p.max_shape[1] == c
    for axis, side in ((2, h), (3, w)):
        low, high = p.min_shape[axis], p.max_shape[axis]
        assert low % multiple == 0 and high % multiple == 0
        assert low <= max(side // 2, 2 * multiple) and low >= min(side, 2 * multiple)
        assert 1.5 * side <= high < 1.5 * side + multiple
    assert not p.contains((n + 1, c, h, w))
    assert not p.contains((n, c, p.max_shape[2] + multiple, w))
    assert not p.contains((n, c + 1, h, w))


def test_profile_of_one_frame_has_a_fixed_batch():
    (dims,) = dynamic_shapes(shape_profile((1, 3, 64, 64), 4), 4)
    assert 0 not in dims and set(dims) == {2, 3}
    (dims,) = dynamic_shapes(shape_profile((3, 3, 64, 64), 4), 4)
    assert set(dims) == {0, 2, 3}


@pytest.mark.parametrize(
    "spec",
    [
        GeneratorSpec("resnet", 2, ngf=8),
        GeneratorSpec("resnet-resize", 2, ngf=8),
        GeneratorSpec("compact", 2, ngf=8),
        GeneratorSpec("unet", 5, ngf=8),
    ],
    ids=str,
)
def test_exported_program_serves_the_whole_profile(tmp_path, spec):
    """What TensorRT compiles: one traced graph for every shape of the profile (a U-Net needs its
    sides as multiples of 32, which plain dynamic dimensions would not express)."""
    model = load_generator(save_generator(tmp_path / "g.pth", spec))
    m = model.size_multiple
    profile = shape_profile((2, 3, 2 * m, 3 * m), m)
    traced = export_program(model, profile, m).module()
    low, high = profile.min_shape, profile.max_shape
    for shape in (low, profile.opt_shape, high, (1, 3, high[2], low[3])):
        x = torch.rand(shape) * 2 - 1
        with torch.inference_mode():
            torch.testing.assert_close(traced(x), model(x))


def test_infer_reuses_an_engine_whose_profile_fits(weights, monkeypatch):
    built: list[Profile] = []

    def fake_build(self, profile):
        built.append(profile)
        return self.model

    monkeypatch.setattr(TensorRTBackend, "_load_or_build", fake_build)
    engine = TensorRTBackend(load_generator(weights), torch.device("cpu"), precision="fp32")
    with torch.inference_mode():
        for shape in [(2, 3, 64, 96), (1, 3, 48, 80), (2, 3, 96, 144), (1, 3, 32, 48)]:
            x = torch.rand(shape) * 2 - 1
            torch.testing.assert_close(engine.infer(x), engine.model(x))
        assert built == [shape_profile((2, 3, 64, 96), 4)]
        engine.infer(torch.zeros(1, 3, 160, 160))  # taller than 1.5x: another engine
        engine.infer(torch.zeros(3, 3, 64, 96))  # a larger batch: another engine
    assert built[1:] == [shape_profile((1, 3, 160, 160), 4), shape_profile((3, 3, 64, 96), 4)]
    assert len(engine.compiled) == 3


def test_cache_key_changes_with_each_component():
    profile = shape_profile((2, 3, 64, 96), 4)
    base = dict(
        weights="ab" * 32,
        profile=profile,
        dtype=torch.float16,
        gpu="NVIDIA H100 80GB HBM3",
        versions=("2.14.1", "10.14.1", "2.14.0"),
    )
    key = cache_key(**base)
    assert (
        key
        == cache_key(**base)
        == cache_key(**{**base, "profile": Profile(*vars(profile).values())})
    )
    changes = {
        "weights": "cd" * 32,
        "profile": shape_profile((2, 3, 64, 100), 4),
        "dtype": torch.float32,
        "gpu": "NVIDIA GeForce RTX 4090",
        "versions": ("2.14.1", "10.14.1", "2.14.1"),
    }
    keys = {name: cache_key(**{**base, name: value}) for name, value in changes.items()}
    assert key not in keys.values() and len(set(keys.values())) == len(changes)
    assert cache_key(**{**base, "versions": ("2.14.0", "10.14.1", "2.14.1")}) != keys["versions"]


def test_weights_digest_follows_the_weights(tmp_path, weights):
    a, b = load_generator(weights), load_generator(weights)
    assert weights_digest(a) == weights_digest(b)
    with torch.no_grad():
        next(b.parameters())[0, 0, 0, 0] += 1e-3
    assert weights_digest(a) != weights_digest(b)
    assert weights_digest(a) != weights_digest(load_generator(weights).half())

    bn = tmp_path / "bn.pth"
    save_generator(bn, GeneratorSpec("resnet", 2, ngf=8, norm="batch"))
    per_image, running = load_generator(bn), load_generator(bn)
    set_bn_per_image(running, False)
    assert weights_digest(per_image) != weights_digest(running)


def test_cache_dir_honours_xdg_cache_home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "stylize" / "tensorrt"
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert cache_dir() == tmp_path / "home" / ".cache" / "stylize" / "tensorrt"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")  # invalid by the XDG rules: ignored
    assert cache_dir() == tmp_path / "home" / ".cache" / "stylize" / "tensorrt"


class Double(torch.nn.Module):
    def forward(self, x):
        return 2 * x


def read_module(path, notice=lambda msg: None):
    """The exported program cached at ``path`` as a module, the way the backend reads engines."""
    return read_cached(path, lambda p: torch.export.load(p).module(), "TensorRT engine", notice)


def test_cache_file_is_written_atomically_and_damage_means_rebuild(tmp_path):
    path, notices = tmp_path / "cache" / "key.pt2", []
    assert read_module(path, notices.append) is None and notices == []  # nothing cached yet
    program = torch.export.export(Double(), (torch.ones(3),))
    with atomic_output(path) as tmp:
        torch.export.save(program, tmp)
    assert [p.name for p in path.parent.iterdir()] == ["key.pt2"]  # no temporary file left
    assert torch.equal(read_module(path)(torch.ones(3)), torch.full((3,), 2.0))

    path.write_bytes(path.read_bytes()[:100])  # truncated
    assert read_module(path, notices.append) is None
    path.write_bytes(b"not an archive")
    assert read_module(path, notices.append) is None
    assert len(notices) == 2 and all(
        n.startswith("cached TensorRT engine key.pt2 is unreadable") for n in notices
    ), notices


def test_notices_go_to_the_log_the_engine_is_given(weights, tmp_path, monkeypatch, capsys):
    path = tmp_path / "engine.pt2"
    path.write_bytes(b"damaged")

    def no_save(self, module, profile, tmp):
        raise OSError("disk full")

    monkeypatch.setattr(TensorRTBackend, "cache_path", lambda self, profile: path)
    monkeypatch.setattr(TensorRTBackend, "_build", lambda self, profile: self.model)
    monkeypatch.setattr(TensorRTBackend, "_save", no_save)
    notices: list[str] = []
    engine = TensorRTBackend(
        load_generator(weights), torch.device("cpu"), precision="fp32", notice=notices.append
    )
    with torch.inference_mode():
        engine.infer(torch.zeros(1, 3, 32, 32))
    assert [n.split(" (")[0] for n in notices] == [
        "cached TensorRT engine engine.pt2 is unreadable",
        "building a TensorRT engine for batch 1-1, 16-48 x 16-48 px",
        "could not cache the TensorRT engine",
    ], notices
    assert capsys.readouterr().err == ""


def test_failed_cache_write_leaves_no_file(tmp_path):
    path = tmp_path / "key.pt2"

    with pytest.raises(OSError), atomic_output(path) as tmp:
        tmp.write_bytes(b"partial")
        raise OSError("disk full")
    assert list(tmp_path.iterdir()) == []


# --- with TensorRT on a GPU ----------------------------------------------------------------------


@pytest.fixture
def trt_cache(tmp_path, monkeypatch):
    pytest.importorskip("torch_tensorrt")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "stylize" / "tensorrt"


def batch(shape=(2, 3, 64, 96), seed=0):
    torch.manual_seed(seed)
    x = torch.rand(shape, device=CUDA) * 2 - 1
    return x.half().contiguous(memory_format=torch.channels_last)


def engine_io_dtypes(module):
    """The input and output types of the TensorRT engines inside a freshly compiled module."""
    import tensorrt as trt

    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    dtypes = []
    for sub in module.modules():
        blob = getattr(sub, "serialized_engine", None)
        if isinstance(blob, (bytes, bytearray)):
            engine = runtime.deserialize_cuda_engine(bytes(blob))
            names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
            dtypes += [engine.get_tensor_dtype(name) for name in names]
    return dtypes


@pytest.mark.gpu
def test_engine_matches_eager_fp32_and_runs_in_fp16(weights, trt_cache):
    import tensorrt as trt

    engine = TensorRTBackend(load_generator(weights), CUDA)
    assert engine.dtype == torch.float16
    reference = load_generator(weights).to(CUDA)
    x = batch()
    with torch.inference_mode():
        y = engine.infer(x)
        expected = reference(x.float())
    assert y.dtype == torch.float16 and y.shape == expected.shape
    assert (y.float() - expected).abs().max() < 0.05

    (module,) = engine.compiled.values()
    dtypes = engine_io_dtypes(module)
    assert dtypes, "no TensorRT engine in the compiled module"
    assert all(d == trt.DataType.HALF for d in dtypes)

    frames = torch.randint(0, 256, (2, 70, 90, 3), dtype=torch.uint8)
    eager = EagerBackend(load_generator(weights), CUDA, precision="fp32")
    diff = (engine(frames).int() - eager(frames).int()).abs()
    assert diff.max() <= 8 and diff.float().mean() < 1
    assert len(engine.compiled) == 1  # 72 x 92 padded fits the first profile


@pytest.mark.gpu
def test_second_engine_loads_from_the_cache_without_building(weights, trt_cache, monkeypatch):
    x = batch()
    first = TensorRTBackend(load_generator(weights), CUDA)
    with torch.inference_mode():
        y = first.infer(x)
    (profile,) = first.compiled
    path = first.cache_path(profile)
    assert path.parent == trt_cache and path.is_file()
    assert [p.name for p in trt_cache.iterdir()] == [path.name]

    def no_build(self, profile):
        raise AssertionError("built an engine that is cached")

    monkeypatch.setattr(TensorRTBackend, "_build", no_build)
    second = TensorRTBackend(load_generator(weights), CUDA)
    assert second.cache_path(profile) == path
    with torch.inference_mode():
        torch.testing.assert_close(second.infer(x), y, atol=2e-3, rtol=0)
        second.infer(batch((1, 3, 48, 80), seed=1))  # the loaded engine's shapes are dynamic too


@pytest.mark.gpu
def test_damaged_cache_file_is_rebuilt(weights, trt_cache, monkeypatch):
    x = batch()
    profile = shape_profile(x.shape, 4)
    path = TensorRTBackend(load_generator(weights), CUDA).cache_path(profile)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"\0" * 1000)

    builds = []
    build = TensorRTBackend._build

    def counted(self, profile):
        builds.append(profile)
        return build(self, profile)

    monkeypatch.setattr(TensorRTBackend, "_build", counted)
    engine = TensorRTBackend(load_generator(weights), CUDA)
    with torch.inference_mode():
        y = engine.infer(x)
    assert builds == [profile] and y.dtype == torch.float16
    assert read_module(path) is not None  # replaced by a good one
