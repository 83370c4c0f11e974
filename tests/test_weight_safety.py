"""Weights that would give a plausible but wrong picture, or claim more memory than exists, are
one line on stderr and exit 1, before any model is built (issue 28)."""

import json
import subprocess
from pathlib import Path

import pytest
import safetensors.torch
import torch
from conftest import noise_image, run_main, save_generator, write_png

from stylizer.cli import main
from stylizer.models import GeneratorSpec

DTYPES = "generator weights are float16, bfloat16, float32 or float64"


def stylize(tmp_path: Path, weights: Path) -> subprocess.CompletedProcess:
    """``stylize a.png -o out.png -w WEIGHTS`` in this process, text out."""
    image = write_png(tmp_path / "a.png", noise_image(8, 8))
    return run_main(main, [image, "-o", tmp_path / "out.png", "-w", weights], text=True)


def assert_refused(tmp_path: Path, weights: Path, message: str) -> None:
    r = stylize(tmp_path, weights)
    assert r.returncode == 1
    assert r.stderr.splitlines() == [f"stylize: error: {weights}: refused: {message}"]
    assert not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("value", [float("nan"), float("inf")], ids=["nan", "inf"])
def test_non_finite_weights_are_refused(tmp_path, tiny_weights, value):
    state = torch.load(tiny_weights, weights_only=True)
    state["model.1.bias"][2] = value
    torch.save(state, tmp_path / "g.pth")
    assert_refused(
        tmp_path,
        tmp_path / "g.pth",
        "tensor model.1.bias holds NaN or infinite values (damaged weights, or a training run "
        "that diverged)",
    )


def test_int8_safetensors_are_refused(tmp_path, tiny_weights):
    state = torch.load(tiny_weights, weights_only=True)
    weights = tmp_path / "g.safetensors"
    safetensors.torch.save_file({k: (v * 100).to(torch.int8) for k, v in state.items()}, weights)
    assert_refused(tmp_path, weights, f"tensor model.1.bias is int8; {DTYPES}")


def test_complex_weights_are_refused(tmp_path, tiny_weights):
    state = torch.load(tiny_weights, weights_only=True)
    state["model.4.weight"] = state["model.4.weight"].to(torch.complex64)
    torch.save(state, tmp_path / "g.pth")
    assert_refused(tmp_path, tmp_path / "g.pth", f"tensor model.4.weight is complex64; {DTYPES}")


def test_shapes_beyond_their_storage_are_refused(tmp_path, tiny_weights):
    """Zero strides let one stored value claim a 200000-channel stem: 2.9 TB to build."""
    state = torch.load(tiny_weights, weights_only=True)
    state["model.1.weight"] = torch.zeros(1).as_strided((200000, 3, 7, 7), (0, 0, 0, 0))
    torch.save(state, tmp_path / "g.pth")
    assert (tmp_path / "g.pth").stat().st_size < 4_000_000
    assert_refused(
        tmp_path,
        tmp_path / "g.pth",
        "tensor model.1.weight claims shape (200000, 3, 7, 7) (29,400,000 values) but its "
        "storage holds 1 (a damaged or crafted file)",
    )


def test_a_small_file_claiming_a_huge_generator_is_refused(tmp_path):
    """Every tensor is real, but a 200000-channel stem makes a 75 TB generator."""
    one = torch.zeros(1, 1, 1, 1)
    state = {
        "model.1.weight": torch.zeros(200000, 1, 1, 7, dtype=torch.float16),
        "model.10.conv_block.1.weight": one,
        "model.10.conv_block.5.weight": one,
        "model.11.weight": one,
        "model.18.weight": torch.zeros(3, 1, 1, 1),
    }
    torch.save(state, tmp_path / "g.pth")
    assert (tmp_path / "g.pth").stat().st_size < 4_000_000
    assert_refused(
        tmp_path,
        tmp_path / "g.pth",
        "18,720,039,200,003 parameters (ResNet generator, 1 blocks, ngf 200000, none norm, "
        "1->3 channels), more than the 1,000,000,000 any generator may have (a damaged or "
        "crafted file)",
    )


def test_a_preset_claiming_a_huge_generator_is_refused(tmp_path, tiny_weights):
    """A preset's manifest, not its weights, names the architecture: it is bounded the same."""
    folder = tmp_path / "huge"
    folder.mkdir()
    (folder / "g.pth").write_bytes(tiny_weights.read_bytes())
    architecture = {"arch": "resnet", "depth": 2, "ngf": 200000}
    manifest = {"name": "huge", "description": "", "weights": "g.pth", "architecture": architecture}
    (folder / "preset.json").write_text(json.dumps(manifest))
    image = write_png(tmp_path / "a.png", noise_image(8, 8))
    r = run_main(main, [image, "-o", tmp_path / "out.png", "-p", folder], text=True)
    assert r.returncode == 1 and len(r.stderr.splitlines()) == 1
    assert r.stderr.startswith(f"stylize: error: {folder / 'g.pth'}: refused: 30,240,064,000,003 ")
    assert "more than the 1,000,000,000 any generator may have" in r.stderr


def test_normal_generators_still_load(tmp_path, tiny_weights):
    """Batch norm's int64 step counters and half-precision weights are what real files hold."""
    unet = save_generator(tmp_path / "unet.pth", GeneratorSpec("unet", 5, ngf=4, norm="batch"))
    counter = torch.load(unet, weights_only=True)["model.model.1.model.2.num_batches_tracked"]
    assert counter.dtype == torch.int64
    half = tmp_path / "half.safetensors"
    state = torch.load(tiny_weights, weights_only=True)
    safetensors.torch.save_file({k: v.to(torch.bfloat16) for k, v in state.items()}, half)
    for weights in (unet, half, tiny_weights):
        r = stylize(tmp_path, weights)
        assert r.returncode == 0, r.stderr
        assert (tmp_path / "out.png").is_file()
        (tmp_path / "out.png").unlink()
