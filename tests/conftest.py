import importlib.util
import io
import os
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
import torch

from stylizer.models import GeneratorSpec, build_generator

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(1, str(Path(__file__).parents[1] / "bench"))  # benchmark helpers


@contextmanager
def dropped_in(package, source: str, stem: str = "toy") -> Iterator[Path]:
    """``source`` as a new module file of ``package`` (a plugin dropped in, as a user would) for
    as long as the block runs, then removed with its bytecode. It is written whole under another
    name first, so discovery in a process started meanwhile never reads half of it. Only
    processes started inside the block see it: this one has discovered its plugins already."""
    path = Path(package.__file__).with_name(f"{stem}_{uuid.uuid4().hex[:8]}.py")
    partial = path.with_suffix(".py.partial")
    partial.write_text(source)
    os.replace(partial, path)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
        Path(importlib.util.cache_from_source(str(path))).unlink(missing_ok=True)


class _Pipe(io.RawIOBase):
    """One end of a pipe over a byte buffer: not seekable, as a real pipe is (a seekable
    stdin would let an MP4 with its index at the end be read, which a pipe cannot)."""

    def __init__(self, data: bytes = b"") -> None:
        self.data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        return self.data.readinto(b)

    def write(self, b) -> int:
        return self.data.write(b)


def run_main(
    main: Callable[[], None],
    args: list,
    stdin: bytes = b"",
    text: bool = False,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """A console script's ``main`` run in this process, as ``subprocess.run(...,
    capture_output=True)`` would run it, without the seconds that starting Python and importing
    PyTorch take: ``args`` as the command line, ``stdin`` as standard input (binary pipes
    included), ``env`` added to the environment; the exit status, stdout and stderr come back
    (bytes, or str with ``text``)."""
    out, err = _Pipe(), _Pipe()
    streams = (sys.argv, sys.stdin, sys.stdout, sys.stderr)
    saved_env = dict(os.environ)
    sys.argv = ["stylize", *map(str, args)]
    wrappers = (  # kept referenced: a collected wrapper closes its buffer
        io.TextIOWrapper(io.BufferedReader(_Pipe(stdin)), encoding="utf-8"),
        io.TextIOWrapper(io.BufferedWriter(out), encoding="utf-8", write_through=True),
        io.TextIOWrapper(io.BufferedWriter(err), encoding="utf-8", write_through=True),
    )
    sys.stdin, sys.stdout, sys.stderr = wrappers
    os.environ.update(env or {})
    try:
        main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else int(e.code is not None)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.argv, sys.stdin, sys.stdout, sys.stderr = streams
        os.environ.clear()
        os.environ.update(saved_env)
    stdout, stderr = out.data.getvalue(), err.data.getvalue()
    del wrappers
    if text:
        stdout, stderr = stdout.decode(), stderr.decode()
    return subprocess.CompletedProcess(args, code, stdout, stderr)


def save_generator(path: Path, spec: GeneratorSpec, seed: int = 0) -> Path:
    """A randomly initialised generator saved the way the reference saves one."""
    torch.manual_seed(seed)
    model = build_generator(spec)
    with torch.no_grad():  # give batch-norm layers non-trivial affine parameters and statistics
        for name, t in model.state_dict().items():
            if name.endswith(("running_mean", "bias")) and t.dim() == 1:
                t.uniform_(-0.2, 0.2)
            elif name.endswith(("running_var",)) or (name.endswith("weight") and t.dim() == 1):
                t.uniform_(0.5, 1.5)
    torch.save(model.state_dict(), path)
    return path


@pytest.fixture(scope="session", autouse=True)
def stylize_home(tmp_path_factory) -> Path:
    """Every test (and every process it starts) installs and downloads into a data directory of
    the session's own, never the user's."""
    home = tmp_path_factory.mktemp("stylize-home")
    os.environ["STYLIZE_HOME"] = str(home)
    return home


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory) -> Path:
    """A small ResNet generator (instance norm) for fast end-to-end tests."""
    d = tmp_path_factory.mktemp("weights")
    return save_generator(d / "tiny_net_G_A.pth", GeneratorSpec("resnet", 2, ngf=8))


def write_png(path: Path, array: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), array)
    return path


def noise_image(h: int, w: int, c: int = 3, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    top = np.iinfo(dtype).max
    shape = (h, w) if c == 1 else (h, w, c)
    return rng.integers(0, top, size=shape, endpoint=True, dtype=dtype)


def write_video(
    path: Path,
    frames: list[np.ndarray],
    *,
    fps: int = 25,
    pts: list[int] | None = None,
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    audio: np.ndarray | None = None,
    audio_codec: str = "aac",
    audio_rate: int = 48000,
) -> Path:
    """An H.264 video of RGB ``frames`` written with PyAV; ``pts`` in milliseconds makes it
    variable-rate. ``audio`` is mono samples: float32 (planar float) or int16."""
    out = av.open(str(path), "w")
    vs = out.add_stream("libx264", rate=fps)
    vs.height, vs.width = frames[0].shape[:2]
    vs.pix_fmt, vs.options = pix_fmt, options or {}
    a = None if audio is None else out.add_stream(audio_codec, rate=audio_rate, layout="mono")
    if pts is not None:
        vs.time_base = vs.codec_context.time_base = Fraction(1, 1000)
    for i, f in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(f, "rgb24")
        if pts is None:
            frame.pts = i
        else:
            frame.pts, frame.time_base = pts[i], Fraction(1, 1000)
        out.mux(vs.encode(frame))
    out.mux(vs.encode(None))
    if a is not None:
        fmt = "s16" if audio.dtype == np.int16 else "fltp"
        for k in range(0, len(audio), 1024):
            af = av.AudioFrame.from_ndarray(audio[None, k : k + 1024], format=fmt, layout="mono")
            af.sample_rate, af.pts = audio_rate, k
            out.mux(a.encode(af))
        out.mux(a.encode(None))
    out.close()
    return path


def blobs(seed: int, size: int = 36) -> np.ndarray:
    """A smooth random colour image (BGR for cv2), easier to learn from than noise."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


def make_inversion_pairs(folder: Path) -> tuple[Path, Path]:
    """A paired task a generator can learn: B is the colour negative of A."""
    for i in range(24):
        a = blobs(i)
        write_png(folder / "A" / f"{i:03d}.png", a)
        write_png(folder / "B" / f"{i:03d}.png", 255 - a)
    return folder / "A", folder / "B"


@pytest.fixture
def inversion_pairs(tmp_path) -> tuple[Path, Path]:
    return make_inversion_pairs(tmp_path)


def tiny(task: str, data: list[Path], **kw):
    """Training settings small enough for a test: 32 px crops, 8 filters."""
    from trainer.settings import Settings

    base = dict(task=task, data=[str(d) for d in data], ngf=8, ndf=8, load_size=36, crop_size=32,
                workers=0, preview_every=50, checkpoint_every=50, val_count=4)  # fmt: skip
    if task == "pix2pix":
        base |= dict(depth=5)
    else:
        base |= dict(depth=2, pool_size=4)
    return Settings(**(base | kw))


def weights_of(run: Path) -> dict:
    """A run's latest checkpoint."""
    return torch.load(run / "checkpoints" / "latest.pt", weights_only=True)


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` skip cleanly where there is no CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
