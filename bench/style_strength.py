"""Style strength: how much a preset's output looks like the painter's work, by a classifier.

    .venv/bin/python bench/style_strength.py [--presets vangogh monet vangogh-fast monet-fast]
        [--steps 1500] [--grid grid.png] [--grid-count 8]

A small CNN is trained from scratch (fixed seed) to tell three kinds of 128 px crops apart: the
training photos (``vangogh2photo/trainB``), van Gogh's training paintings (``trainA``) and
Monet's (``monet2photo/trainA``), so it tells the two painters apart as well as paintings from
photos. It then scores whole held-out images: van Gogh's and Monet's test paintings (what a
perfect style would score), the 150 test photos (what no style scores), and each preset's
output for those 150 photos. Printed per row: the mean probability of each class and the share
classified as each painter. Cycle error says how well a CycleGAN reconstructs; this says how
strongly it paints.

``--grid FILE`` writes the first ``--grid-count`` test photos, one per row: the photo, then each
preset's output, for looking at; ``--grid-photos A.jpg B.png ...`` takes those photos for the
rows instead (a portrait, a grey sky, a night scene: where styles differ most).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch
import torchvision.utils
from backends import DATA
from torch import nn

from stylizer.controls import scaled
from stylizer.inference import Stylizer
from stylizer.options import InferenceOptions, StyleOptions

CLASSES = ("photo", "van Gogh", "Monet")
TRAIN = (
    DATA / "vangogh2photo" / "trainB",
    DATA / "vangogh2photo" / "trainA",
    DATA / "monet2photo" / "trainA",
)
CROP = 128


def read_rgb(folder: Path) -> list[np.ndarray]:
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in paths]


def classifier() -> nn.Module:
    """Five stride-2 convolutions and a linear layer over globally pooled features."""
    layers, width = [], 3
    for out in (32, 64, 128, 192, 256):
        layers += [nn.Conv2d(width, out, 3, 2, 1), nn.BatchNorm2d(out), nn.ReLU(True)]
        width = out
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 3))


def to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1


def random_crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A crop of 128 to 256 px (clipped to the image), scaled to 128, flipped half the time."""
    h, w = image.shape[:2]
    side = int(rng.integers(min(CROP, h, w), min(256, h, w) + 1))
    y, x = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
    crop = cv2.resize(image[y : y + side, x : x + side], (CROP, CROP), interpolation=cv2.INTER_AREA)
    return crop[:, ::-1] if rng.random() < 0.5 else crop


def train_classifier(steps: int, batch: int = 24) -> nn.Module:
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    sets = [read_rgb(folder) for folder in TRAIN]
    net = classifier()
    optim = torch.optim.Adam(net.parameters(), 1e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, 2e-3, total_steps=steps)
    loss_fn = nn.CrossEntropyLoss()
    start = time.perf_counter()
    for step in range(steps):
        labels = rng.integers(0, 3, batch)  # classes balanced, whatever their sizes
        crops = [random_crop(sets[c][rng.integers(len(sets[c]))], rng) for c in labels]
        loss = loss_fn(net(to_tensor(crops)), torch.from_numpy(labels))
        optim.zero_grad()
        loss.backward()
        optim.step()
        sched.step()
        if (step + 1) % 250 == 0:
            print(f"classifier step {step + 1}/{steps}: loss {loss.item():.3f} "
                  f"({time.perf_counter() - start:.0f} s)", flush=True)  # fmt: skip
    return net.eval()


@torch.no_grad()
def scores(net: nn.Module, images: list[np.ndarray]) -> np.ndarray:
    """Class probabilities per image: the mean over its 128 px tiles at 256 px."""
    out = []
    for image in images:
        image = cv2.resize(image, (256, 256), interpolation=cv2.INTER_AREA)
        tiles = [image[y : y + CROP, x : x + CROP] for y in (0, CROP) for x in (0, CROP)]
        out.append(net(to_tensor(tiles)).softmax(1).mean(0).numpy())
    return np.stack(out)


def read_one(path: Path) -> np.ndarray:
    """An RGB image, its shorter side 256 px (as the test photos are)."""
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    h, w = image.shape[:2]
    k = 256 / min(h, w)
    return cv2.resize(image, (round(w * k), round(h * k)), interpolation=cv2.INTER_AREA)


def square(image: np.ndarray) -> np.ndarray:
    """The centre square of ``image``, so that rows of any shape make one grid."""
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]


def stylized(stylizer: Stylizer, photo: np.ndarray, upscale: float) -> np.ndarray:
    """``photo`` stylized, enlarged ``upscale`` times first and shrunk back after."""
    h, w = photo.shape[:2]
    big = scaled(photo, round(w * upscale), round(h * upscale))
    return scaled(stylizer.stylize_frames([big])[0], w, h)


def row(name: str, probs: np.ndarray) -> str:
    means = " | ".join(f"{probs[:, i].mean():.3f}" for i in range(3))
    picked = probs.argmax(1)
    return f"| {name} | {len(probs)} | {means} | {np.mean(picked == 1):.0%} | {np.mean(picked == 2):.0%} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--presets", nargs="+", default=["vangogh", "monet", "vangogh-fast", "monet-fast"]
    )
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--grid", type=Path, help="Write photo | preset... rows here.")
    parser.add_argument("--grid-count", type=int, default=8)
    parser.add_argument("--grid-photos", type=Path, nargs="+", help="The grid's rows' photos.")
    parser.add_argument(
        "--upscale",
        type=float,
        default=1.0,
        help="Stylize the test photos enlarged this much (as large photos are), then score the "
        "results shrunk back.",
    )
    parser.add_argument(
        "--scale",
        type=lambda text: None if text == "auto" else float(text),
        nargs="+",
        default=[None],
        help="stylize --scale for each preset, or auto (the preset's working size, stylize's "
        "default); several give a row (and a grid column) each.",
    )
    parser.add_argument("--count", type=int, help="Score only the first COUNT test photos.")
    args = parser.parse_args()
    net = train_classifier(args.steps)
    photos = read_rgb(DATA / "vangogh2photo" / "testB")[: args.count]
    options = InferenceOptions(device="cpu", backend="eager", batch_size=1)
    grid_photos = [read_one(p) for p in args.grid_photos or []]
    outputs, grid_outputs = {}, {}
    for name in args.presets:
        for scale in args.scale:
            stylizer = Stylizer(name, options, StyleOptions(scale=scale))
            label = (
                name
                if len(args.scale) == 1
                else f"{name} {'working size' if scale is None else f'x{scale:g}'}"
            )
            outputs[label] = [stylized(stylizer, photo, args.upscale) for photo in photos]
            grid_outputs[label] = [stylized(stylizer, photo, 1.0) for photo in grid_photos]
    print(
        "\n| images | count | P(photo) | P(van Gogh) | P(Monet) | classified van Gogh | classified Monet |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    print(row("van Gogh test paintings", scores(net, read_rgb(DATA / "vangogh2photo" / "testA"))))
    print(row("Monet test paintings", scores(net, read_rgb(DATA / "monet2photo" / "testA"))))
    print(row("test photos", scores(net, photos)))
    for name, images in outputs.items():
        print(row(f"{name} on the test photos", scores(net, images)), flush=True)
    if args.grid:
        if grid_photos:
            shown = [square(p) for p in grid_photos]
            shown_outputs = {k: [square(o) for o in v] for k, v in grid_outputs.items()}
        else:
            shown, shown_outputs = photos[: args.grid_count], outputs
        tiles = [
            img
            for i in range(len(shown))
            for img in (shown[i], *(o[i] for o in shown_outputs.values()))
        ]
        grid = torchvision.utils.make_grid(to_tensor(tiles), nrow=1 + len(outputs), padding=4,
                                           normalize=True, value_range=(-1, 1))  # fmt: skip
        image = (grid.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        cv2.imwrite(str(args.grid), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        print(f"\nwrote {args.grid}: photo | {' | '.join(outputs)}")


if __name__ == "__main__":
    main()
