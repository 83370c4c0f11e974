import pickle
from pathlib import Path

import pytest
import torch
from conftest import save_generator
from reference_forward import resnet_forward, unet_forward

from stylizer import StylizeError, load_generator
from stylizer.models import (
    GENERATORS,
    GeneratorSpec,
    PatchDiscriminator,
    build_generator,
    frame_flops,
)
from stylizer.models.norms import make_norm
from stylizer.styles.weights import detect_spec, read_state_dict


def resnet9_instance_keys() -> list[str]:
    """The 48 keys the reference's resnet_9blocks generator (instance norm) saves."""
    convs = ["model.1", "model.4", "model.7"]
    convs += [f"model.{i}.conv_block.{j}" for i in range(10, 19) for j in (1, 5)]
    convs += ["model.19", "model.22", "model.26"]
    return [f"{c}.{p}" for c in convs for p in ("weight", "bias")]


def test_resnet9_instance_has_the_reference_keys():
    sd = build_generator(GeneratorSpec("resnet", 9)).state_dict()
    assert len(sd) == 48
    assert sorted(sd) == sorted(resnet9_instance_keys())
    assert sd["model.19.weight"].shape == (256, 128, 3, 3)  # ConvTranspose2d(256 -> 128)
    assert sd["model.26.weight"].shape == (3, 64, 7, 7)


def test_dropout_moves_the_second_block_conv():
    sd = build_generator(GeneratorSpec("resnet", 6, dropout=True)).state_dict()
    assert "model.10.conv_block.6.weight" in sd and "model.10.conv_block.5.weight" not in sd


def test_batch_norm_keys_and_no_conv_bias():
    sd = build_generator(GeneratorSpec("resnet", 6, norm="batch")).state_dict()
    assert "model.1.bias" not in sd
    for stat in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
        assert f"model.2.{stat}" in sd
    assert "model.23.bias" in sd  # the head conv always has a bias (6 blocks: head at 17+6)


def test_unet_nesting_matches_reference_layout():
    sd = build_generator(GeneratorSpec("unet", 8)).state_dict()
    assert sd["model.model.0.weight"].shape == (64, 3, 4, 4)
    assert sd["model.model.3.weight"].shape == (128, 3, 4, 4)  # outermost up: 2*ngf -> out
    widths = []
    prefix = "model.model.1.model."
    while f"{prefix}1.weight" in sd:
        widths.append(sd[f"{prefix}1.weight"].shape[0])
        prefix += "3.model."
    assert widths == [128, 256, 512, 512, 512, 512, 512]


SPECS = [
    GeneratorSpec("resnet", 9),
    GeneratorSpec("resnet", 6),
    GeneratorSpec("resnet", 6, norm="batch"),
    GeneratorSpec("resnet", 9, norm="batch", dropout=True),
    GeneratorSpec("resnet", 6, ngf=32, norm="none"),
    GeneratorSpec("unet", 7),
    GeneratorSpec("unet", 8),
    GeneratorSpec("unet", 7, norm="batch"),
    GeneratorSpec("unet", 8, norm="batch"),
    GeneratorSpec("resnet", 6, ngf=16, in_channels=1, out_channels=3),
    GeneratorSpec("resnet-resize", 6, ngf=32),
    GeneratorSpec("resnet-resize", 4, ngf=16, norm="batch", dropout=True),
    GeneratorSpec("compact", 4, ngf=24),
    GeneratorSpec("compact", 3, ngf=16, norm="batch", dropout=True),
    GeneratorSpec("compact", 2, ngf=8, norm="none", in_channels=1),
]


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_detects_architecture_from_state_dict_alone(spec, tmp_path):
    path = save_generator(tmp_path / "net_G.pth", spec)
    state = read_state_dict(path)
    assert detect_spec(state) == spec
    assert [c.name for c in GENERATORS.values() if c.detect(state)] == [spec.arch]  # only one
    model = load_generator(path)
    assert model.spec == spec and not model.training


@pytest.mark.parametrize(
    "spec",
    [s for s in SPECS if s.arch in ("resnet", "unet") and (s.ngf <= 32 or s.arch == "resnet")][:5]
    + [GeneratorSpec("unet", 7, ngf=16), GeneratorSpec("unet", 8, ngf=16, norm="batch")],
    ids=str,
)
def test_forward_equals_the_reference_computation(spec, tmp_path):
    path = save_generator(tmp_path / "net_G.pth", spec)
    sd = torch.load(path, weights_only=True)
    size = 2**spec.depth if spec.arch == "unet" else 36
    x = torch.rand(1, spec.in_channels, size, size + (0 if spec.arch == "unet" else 8)) * 2 - 1
    forward = resnet_forward if spec.arch == "resnet" else unet_forward
    expected = forward(sd, x, spec.depth, spec.norm)
    with torch.no_grad():
        got = load_generator(path)(x)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, atol=2e-5, rtol=1e-4)


@pytest.mark.parametrize("seed", range(3))
def test_resize_convolutions_leave_no_checkerboard(seed):
    """On a flat input the reference's transposed convolutions stamp a period-2 lattice on the
    output; the resize-convolution variant keeps every output pixel of the interior alike."""
    torch.manual_seed(seed)
    flat = torch.full((1, 3, 128, 128), 0.3)

    def lattice(arch: str) -> float:
        model = build_generator(GeneratorSpec(arch, 2, ngf=8, norm="none")).eval()
        with torch.no_grad():
            inner = model(flat)[..., 48:80, 48:80]  # beyond the reach of the zero-padded borders
        return (inner - inner.mean(dim=(-2, -1), keepdim=True)).abs().max().item()

    assert lattice("resnet") > 1e-5  # measured 6e-5 to 7e-3 over seeds 0-7
    assert lattice("resnet-resize") < 1e-7  # float rounding


def test_batch_norm_output_does_not_depend_on_batching(tmp_path):
    path = save_generator(tmp_path / "g.pth", GeneratorSpec("unet", 7, ngf=8, norm="batch"))
    model = load_generator(path)
    x = torch.rand(3, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        together = model(x)
        alone = torch.cat([model(x[i : i + 1]) for i in range(3)])
        again = model(x)
    torch.testing.assert_close(together, alone, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(together, again)  # deterministic: dropout off


def test_running_stats_option_uses_stored_averages(tmp_path):
    path = save_generator(tmp_path / "g.pth", GeneratorSpec("unet", 7, ngf=8, norm="batch"))
    x = torch.rand(1, 3, 128, 128) * 2 - 1
    with torch.no_grad():
        per_image = load_generator(path)(x)
        running = load_generator(path, bn_stats="running")(x)
        plain = build_generator(GeneratorSpec("unet", 7, ngf=8, norm="batch"))
        plain.load_state_dict(torch.load(path, weights_only=True))
        plain.eval()
        for m in plain.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.per_image = False
        torch.testing.assert_close(running, plain(x))
    assert (per_image - running).abs().max() > 1e-3


def test_old_checkpoint_quirks_are_accepted(tmp_path):
    spec = GeneratorSpec("resnet", 6, ngf=8)
    sd = build_generator(spec).state_dict()
    sd = {f"module.{k}": v for k, v in sd.items()}
    # PyTorch 0.3 InstanceNorm layers carried running statistics.
    sd["module.model.2.running_mean"] = torch.zeros(8)
    sd["module.model.2.running_var"] = torch.ones(8)
    sd["module.model.10.conv_block.2.num_batches_tracked"] = torch.tensor(0)
    torch.save(sd, tmp_path / "old.pth")
    assert load_generator(tmp_path / "old.pth").spec == spec


class Payload:
    def __reduce__(self):
        import os

        return (os.system, (f"touch {MARKER}",))


MARKER = Path("/tmp/stylize-pickle-marker")


def test_refuses_a_checkpoint_holding_a_pickled_object(tmp_path):
    MARKER.unlink(missing_ok=True)
    sd = build_generator(GeneratorSpec("resnet", 6, ngf=8)).state_dict()
    sd["evil"] = Payload()
    torch.save(sd, tmp_path / "evil.pth")
    with pytest.raises(StylizeError, match="refused"):
        load_generator(tmp_path / "evil.pth")
    assert not MARKER.exists()
    # A plain pickle (not a torch zip file) is refused too.
    (tmp_path / "evil.pkl").write_bytes(pickle.dumps(Payload()))
    with pytest.raises(StylizeError):
        load_generator(tmp_path / "evil.pkl")
    assert not MARKER.exists()


def test_discriminator_and_junk_are_explained(tmp_path):
    torch.save(PatchDiscriminator().state_dict(), tmp_path / "latest_net_D_A.pth")
    with pytest.raises(StylizeError, match="discriminator"):
        load_generator(tmp_path / "latest_net_D_A.pth")
    torch.save({"fc.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    with pytest.raises(StylizeError, match="not a known generator"):
        load_generator(tmp_path / "other.pth")
    good = tmp_path / "good.pth"
    save_generator(good, GeneratorSpec("resnet", 6, ngf=8))
    (tmp_path / "cut.pth").write_bytes(good.read_bytes()[:1000])
    with pytest.raises(StylizeError, match="not a readable"):
        load_generator(tmp_path / "cut.pth")
    (tmp_path / "text.pth").write_text("junk\n")  # the unpickler fails with a KeyError here
    with pytest.raises(StylizeError, match="not a"):
        load_generator(tmp_path / "text.pth")
    (tmp_path / "empty.pth").write_bytes(b"")
    with pytest.raises(StylizeError, match="empty"):
        load_generator(tmp_path / "empty.pth")
    with pytest.raises(StylizeError, match="no preset named"):
        load_generator("nosuchstyle")


def test_wrong_shapes_name_the_problem(tmp_path):
    sd = build_generator(GeneratorSpec("resnet", 6, ngf=8)).state_dict()
    sd["model.4.weight"] = torch.zeros(16, 8, 5, 5)
    torch.save(sd, tmp_path / "bad.pth")
    with pytest.raises(StylizeError, match=r"model\.4\.weight"):
        load_generator(tmp_path / "bad.pth")


def test_compact_generator_works_at_a_fraction_of_the_cost():
    """Nothing at full size: a seventh of the ResNet's arithmetic at ngf 32, any image size."""
    from torch.utils.flop_counter import FlopCounterMode

    for spec in (GeneratorSpec("resnet", 6, ngf=32), GeneratorSpec("compact", 4, ngf=24)):
        model = build_generator(spec).eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            out = model(torch.zeros(1, 3, 180, 320))
        assert out.shape == (1, 3, 180, 320) and out.abs().max() <= 1
        assert frame_flops(spec, 320, 180) == counter.get_total_flops()  # counted on meta
    ratio = frame_flops(GeneratorSpec("resnet", 6, ngf=32)) / frame_flops(
        GeneratorSpec("compact", 4, ngf=24)
    )
    assert ratio > 7, ratio
    tiny = build_generator(GeneratorSpec("compact", 2, ngf=8)).eval()
    with torch.no_grad():
        assert tiny(torch.zeros(1, 3, 8, 12)).shape == (1, 3, 8, 12)  # its min_size


@pytest.mark.parametrize("kind", ["instance", "batch"])
def test_per_image_norms_agree_across_layouts(kind):
    """A channels-last tensor is normalised in place (group norm, one group per channel), with
    the statistics of each image and channel that NCHW instance norm uses."""
    torch.manual_seed(0)
    layer = make_norm(kind, 16).eval()
    if kind == "batch":
        layer.weight.data.uniform_(0.5, 1.5)
        layer.bias.data.uniform_(-0.5, 0.5)
    x = torch.randn(5, 16, 48, 64) * torch.arange(1, 6).view(5, 1, 1, 1) + 2
    with torch.no_grad():
        want = layer(x)
        got = layer(x.contiguous(memory_format=torch.channels_last))
    assert got.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(got, want, atol=1e-4)
    # Each image as if alone in its batch, in bf16 too (a frame must not depend on its batch).
    half = x.to(torch.bfloat16).contiguous(memory_format=torch.channels_last)
    layer.to(torch.bfloat16)
    with torch.no_grad():
        batch, single = layer(half), torch.cat([layer(one) for one in half.split(1)])
    assert torch.equal(batch, single)
