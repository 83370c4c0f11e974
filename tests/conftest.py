import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from stylizer.models import GeneratorSpec, build_generator

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
sys.path.insert(0, str(Path(__file__).parent))


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


def pytest_collection_modifyitems(config, items):
    """Tests marked ``gpu`` skip cleanly where there is no CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
