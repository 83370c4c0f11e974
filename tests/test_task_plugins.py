"""A training task is one file: dropped into trainer/tasks/, it is ``stylize-train --task NAME``
with its own settings as flags and in its help, it trains, resumes and exports, with no other
file edited."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import dropped_in, noise_image, write_png

import trainer.tasks
from stylizer.styles.loading import load_generator
from stylizer.styles.presets import MANIFEST
from trainer.tasks import TASKS

TRAIN = Path(sys.executable).with_name("stylize-train")

TOY = '''"""denoise: a generator learns to take noise out of the images of one folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from stylizer.errors import StylizeError

from ..data import Augment, UnpairedData, scan, split_holdout
from ..losses import psnr
from ..settings import Settings, setting
from .base import Task, register_task


@dataclass
class DenoiseSettings(Settings):
    noise: float = setting(0.2, "Standard deviation of the noise added to each image.", float)


class Noisy(Dataset):
    """Each image (B) and a noisy copy of it (A), the same noise for the same item."""

    def __init__(self, images: list[Path], s: DenoiseSettings, train: bool) -> None:
        self.clean = UnpairedData(images, images, Augment(s.crop_size, s.crop_size, s.flip), train)
        self.noise = s.noise

    def __len__(self) -> int:
        return len(self.clean)

    def __getitem__(self, key):
        b = self.clean[key]["A"]
        seed = key[1] if isinstance(key, tuple) else key
        noise = torch.randn(b.shape, generator=torch.Generator().manual_seed(seed))
        return {"A": (b + self.noise * noise).clamp(-1, 1), "B": b}


@register_task("denoise")
class Denoise(Task):
    """denoise: learn to take noise out of one folder's images.

    \\b
      stylize-train --task denoise photos/ -o runs/denoise --noise 0.1
    """

    settings_class = DenoiseSettings
    s: DenoiseSettings
    best_by = ("val_L1", "lower")

    @classmethod
    def datasets(cls, s, warn, run_root):
        if len(s.data) != 1:
            raise StylizeError("denoise takes one folder of images")
        train, val = split_holdout(list(scan(Path(s.data[0]), warn, s.crop_size)), s.val_count)
        return Noisy(train, s, True), Noisy(val, s, False)

    @classmethod
    def evaluation_data(cls, s, roots, size, warn):
        return Noisy(list(scan(roots[0], warn, size)), s, False)

    def __init__(self, s, device) -> None:
        super().__init__(s, device)
        self.G = self.add_net("G", self.generator())
        self.optims = {"G": self.adam(self.nets["G"])}

    def train_step(self, batch):
        a, b = self.to_device(batch["A"]), self.to_device(batch["B"])
        self.optims["G"].zero_grad(set_to_none=True)
        with self.autocast:
            loss = F.l1_loss(self.G(a).float(), b)
        loss.backward()
        self.optims["G"].step()
        return {"L1": loss.detach()}

    @torch.no_grad()
    def evaluate(self, batch):
        a, b = batch["A"].to(self.device), batch["B"].to(self.device)
        g = self.plain(self.G).eval()
        clean = g(a).float()
        g.train()
        metrics = {"val_L1": F.l1_loss(clean, b).item(), "val_PSNR": psnr(clean, b)}
        return metrics, torch.stack([a, clean, b], 1).flatten(0, 1)

    def generator_for(self, direction):
        return self.plain(self.G)
'''


@pytest.fixture
def toy_task():
    with dropped_in(trainer.tasks, TOY) as path:
        yield path


def train(*args) -> subprocess.CompletedProcess:
    return subprocess.run([TRAIN, *map(str, args)], capture_output=True, text=True, timeout=600)


def test_a_task_file_trains_resumes_and_exports(toy_task, tmp_path):
    assert "denoise" not in TASKS  # this process never imports the toy
    r = train("--task", "denoise", "--help")
    assert r.returncode == 0, r.stderr
    assert "learn to take noise out of one folder's images" in r.stdout
    assert "--noise FLOAT" in r.stdout and "Standard deviation of the noise" in r.stdout
    assert "denoise" in train("--help").stdout  # a --task choice
    photos = tmp_path / "photos"
    for i in range(6):
        write_png(photos / f"{i}.png", noise_image(40, 40, seed=i))
    run = tmp_path / "run"
    small = ["--ngf", "8", "--depth", "2", "--crop-size", "32", "--workers", "0", "-q"]
    r = train("--task", "denoise", photos, "-o", run, "--noise", "0.3", *small, "--stop-after", "2")
    assert r.returncode == 0, r.stderr
    settings = json.loads((run / "settings.json").read_text())
    assert settings["task"] == "denoise" and settings["noise"] == 0.3
    r = train("-o", run, "--stop-after", "2", "-q")  # resumes: the task comes from the run
    assert r.returncode == 0, r.stderr
    assert "resuming" in r.stderr and "at step 2" in r.stderr, r.stderr
    r = train("--task", "denoise", photos, "-o", run, "--noise", "0.1", "-q")
    assert r.returncode == 1 and "noise 0.3" in r.stderr  # its own setting is checked on resume
    presets = tmp_path / "presets"
    r = train("export", run, "--name", "toy", "-o", presets)
    assert r.returncode == 0, r.stderr
    g = load_generator(str(presets / "toy"))
    assert g.spec.ngf == 8 and g.spec.depth == 2
    manifest = json.loads((presets / "toy" / MANIFEST).read_text())
    assert manifest["training"]["steps"] == 4 and np.isfinite(manifest["working_size"])
