"""CUT and FastCUT (``trainer/tasks/cut.py``) and DiffAugment (``trainer/augment.py``)."""

import json

import pytest
import torch
from conftest import run_main, tiny, weights_of
from test_trainer import assert_same_state

from stylizer.errors import StylizeError
from stylizer.styles.loading import load_generator
from trainer.augment import DiffAugment, cutout, translation
from trainer.cli import main as trainer_main
from trainer.export import export_preset
from trainer.loop import train
from trainer.settings import Settings
from trainer.tasks import TASKS
from trainer.tasks.cut import encoder_layers, patch_nce


def quiet(message: str) -> None:
    pass


def cut(task: str, pairs, **kw) -> Settings:
    return tiny(task, list(pairs), depth=3, **kw)


def train_losses(run) -> list[dict]:
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    return [r for r in records if r["kind"] == "train"]


def test_cut_learns_and_resumes_exactly(tmp_path, inversion_pairs):
    """Colour inversion from unpaired sets: the contrastive loss keeps each place's content
    while the discriminator pulls colours to B's; a split run ends where a whole one does."""
    s = dict(epochs=3, decay_epochs=1, steps_per_epoch=20, checkpoint_every=1000,
             preview_every=1000, diffaugment="color,translation,cutout")  # fmt: skip
    train(cut("cut", inversion_pairs, **s), tmp_path / "whole", log=quiet, device="cpu")
    train(cut("cut", inversion_pairs, **s), tmp_path / "split", stop_after=33, log=quiet,
          device="cpu")  # fmt: skip
    assert weights_of(tmp_path / "split")["step"] == 33
    assert train(None, tmp_path / "split", log=quiet, device="cpu").step == 80
    assert_same_state(weights_of(tmp_path / "whole"), weights_of(tmp_path / "split"))
    losses = train_losses(tmp_path / "whole")
    assert {"G_GAN", "NCE", "NCE_idt", "D_real", "D_fake"} <= set(losses[0])
    for name in ("NCE", "NCE_idt"):  # from chance (ln 65 = 4.2 + the temperature's spread) down
        first = sum(r[name] for r in losses[:2]) / 2
        last = sum(r[name] for r in losses[-3:]) / 3
        assert last < 0.93 * first, (name, first, last)
    assert weights_of(tmp_path / "whole")["task"]["nets"].keys() == {"G", "D", "F"}


def test_fastcut_exports_a_preset_the_stylizer_loads(tmp_path, inversion_pairs):
    s = dict(epochs=1, decay_epochs=0, steps_per_epoch=4, checkpoint_every=1000,
             preview_every=1000, arch="resnet-resize")  # fmt: skip
    settings = cut("fastcut", inversion_pairs, **s)
    assert train(settings, tmp_path / "run", log=quiet, device="cpu").step == 4
    saved = json.loads((tmp_path / "run" / "settings.json").read_text())
    assert (saved["lambda_nce"], saved["nce_identity"], saved["flip_equivariance"]) == (
        10.0,
        False,
        True,
    )
    assert "NCE_idt" not in train_losses(tmp_path / "run")[0]
    folder = export_preset(tmp_path / "run", "fast", out_dir=tmp_path / "presets")
    g = load_generator(str(folder))
    assert g.spec.arch == "resnet-resize" and g.spec.depth == 3
    with pytest.raises(StylizeError, match="A -> B only"):
        export_preset(tmp_path / "run", "back", direction="BtoA", out_dir=tmp_path / "presets")


def test_cut_needs_an_encoder_it_can_read(inversion_pairs):
    with pytest.raises(StylizeError, match="--arch resnet or resnet-resize"):
        cut("cut", inversion_pairs, arch="unet").resolve()
    assert TASKS["cut"].settings_class is not TASKS["fastcut"].settings_class


def test_encoder_layers_follow_the_paper():
    assert encoder_layers(9) == (0, 4, 8, 12, 16)  # the paper's layers for 9 blocks
    assert encoder_layers(6) == (0, 4, 8, 12, 14)
    assert encoder_layers(1) == (0, 4, 8, 10)


def test_patch_nce_rewards_matching_places():
    torch.manual_seed(0)
    keys = torch.nn.functional.normalize(torch.randn(2, 64, 16), dim=-1)
    matched = patch_nce(keys.clone(), keys, 0.07)
    shuffled = patch_nce(keys[:, torch.randperm(64)], keys, 0.07)
    assert matched < 0.1 < shuffled
    query = keys.clone().requires_grad_()
    patch_nce(query, keys.requires_grad_(), 0.07).backward()
    assert keys.grad is None and query.grad is not None  # keys are targets, not trained through


def test_diffaugment_is_differentiable():
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64) * 2 - 1

    def augmented(images):
        torch.manual_seed(1)  # the same draws on every call gradcheck makes
        return DiffAugment("color,translation,cutout")(images)

    assert torch.autograd.gradcheck(augmented, (x.requires_grad_(),))


def test_diffaugment_treats_real_and_generated_alike(tmp_path, inversion_pairs, monkeypatch):
    """Every batch a discriminator judges, real or generated, on its own step and on the
    generator's, goes through the same augmentation; with the same draws, the same transform."""
    a, b = torch.rand(2, 3, 16, 16) + 0.5, torch.rand(2, 3, 16, 16) + 0.5  # no zeros of their own
    for operation in (translation, cutout):
        torch.manual_seed(3)
        moved_a = operation(a)
        torch.manual_seed(3)
        moved_b = operation(b)
        assert torch.equal(moved_a == 0, moved_b == 0)  # the same places left blank
        assert (moved_a == 0).any()
    for task in ("cyclegan", "pix2pix", "cut"):
        depth = {"pix2pix": 5}.get(task, 3)
        settings = tiny(task, list(inversion_pairs), depth=depth, diffaugment="cutout").resolve()
        model = TASKS[task](settings, torch.device("cpu"))
        judged = []
        real_judge = type(model).judge

        def judge(self, net, images, real_judge=real_judge, judged=judged):
            verdict = real_judge(self, net, images)
            judged.append(images)
            return verdict

        monkeypatch.setattr(type(model), "judge", judge)
        seen = []
        for name in [n for n in model.nets if n.startswith("D")]:
            net = model.nets[name]
            net.register_forward_pre_hook(lambda m, args, seen=seen: seen.append(args[0].detach()))
        data, _ = model.datasets(settings, quiet, tmp_path)
        batch = {k: v[None] for k, v in data[(0, 0)].items()}
        model.train_step(batch)
        assert len(seen) == len(judged) >= 3, task  # the generator's step, and D's real and fake
        for images in seen:  # each with a blank square of half its side in every sample
            blank = (images == 0).all(dim=1)
            assert blank.flatten(1).sum(1).min() >= 16 * 16 // 4 - 16, task
        monkeypatch.undo()


def test_unknown_diffaugment_is_one_line(inversion_pairs):
    with pytest.raises(StylizeError, match="--diffaugment colour: unknown colour"):
        cut("cyclegan", inversion_pairs, diffaugment="colour").resolve()


def test_color_changes_an_image_and_its_condition_alike():
    image = torch.rand(3, 3, 8, 8) * 2 - 1
    torch.manual_seed(5)
    alone = DiffAugment("color")(image)
    torch.manual_seed(5)
    pair = DiffAugment("color")(torch.cat([image, image], 1))
    assert torch.allclose(pair[:, :3], alone) and torch.allclose(pair[:, 3:], alone)
    assert not torch.allclose(alone, image)


def test_cut_from_the_command_line(tmp_path, inversion_pairs):
    r = run_main(trainer_main, ["--task", "cut", "--help"], text=True)
    assert r.returncode == 0 and "--diffaugment TEXT" in r.stdout and "--lambda-nce" in r.stdout
    run = tmp_path / "run"
    args = ["--task", "cut", *inversion_pairs, "-o", run, "--diffaugment", "color,cutout",
            "--ngf", "8", "--depth", "2", "--crop-size", "32", "--load-size", "36",
            "--workers", "0", "--stop-after", "2", "-q"]  # fmt: skip
    r = run_main(trainer_main, args, text=True)
    assert r.returncode == 0, r.stderr
    assert json.loads((run / "settings.json").read_text())["diffaugment"] == "color,cutout"
    r = run_main(trainer_main, [*args[:-3], "-o", tmp_path / "bad", "--diffaugment", "zoom"],
                 text=True)  # fmt: skip
    assert r.returncode == 1 and "unknown zoom" in r.stderr and "Traceback" not in r.stderr


def test_a_resnet_style_seeds_a_resize_convolution_run(tmp_path, inversion_pairs):
    """``--init-from`` a ``resnet`` generator into a ``resnet-resize`` run: every weight carries
    over, each transposed up-sampling becomes a resize-convolution (mirrored, transposed kernel
    over four), and the log and the exported manifest say so."""
    from conftest import save_generator

    from stylizer.models import GENERATORS, GeneratorSpec

    donor_file = save_generator(tmp_path / "g.pth", GeneratorSpec("resnet", 3, ngf=8))
    donor = load_generator(donor_file)
    adopted = GENERATORS.get_class("resnet-resize").adopt(donor)
    assert adopted is not None
    up = donor.state_dict()["model.13.weight"]  # the first transposed convolution: in x out
    torch.testing.assert_close(adopted["model.13.2.weight"], up.transpose(0, 1).flip(-1, -2) / 4)
    said = []
    s = dict(epochs=1, decay_epochs=0, steps_per_epoch=2, checkpoint_every=1000,
             preview_every=1000, arch="resnet-resize", init_from=str(donor_file))  # fmt: skip
    train(cut("cut", inversion_pairs, **s), tmp_path / "run", log=said.append, device="cpu")
    assert any("up-samplings made resize-convolutions" in line for line in said)
    folder = export_preset(tmp_path / "run", "rc", out_dir=tmp_path / "presets")
    manifest = json.loads((folder / "preset.json").read_text())
    assert manifest["training"]["initialized_from"]["adopted_from"] == "resnet"
    with pytest.raises(StylizeError, match="set --arch"):  # other sizes are still refused
        s2 = s | {"ngf": 16}
        train(cut("cut", inversion_pairs, **s2), tmp_path / "run2", log=quiet, device="cpu")
