"""Checkerboard benchmark: how much of a generator's fine texture sits on the lattice that its
two stride-2 up-samplings can stamp (periods of 2 and 4 pixels), on held-out photos.

    .venv/bin/python bench/checkerboard.py monet vangogh my_net_G.pth [--photos DIR] [--count 40]

Each model (a preset name or folder, or a generator file) stylizes the same photos, scaled to
256x256. For every output, the share of its high-frequency energy (above 1/8 of the
sampling rate) that falls within one bin of the lattice frequencies (multiples of 1/4 on each
axis, DC excluded) is averaged. The input photos' own share is printed first: a model without a
checkerboard stays close to it; transposed convolutions push it several times higher.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import cv2
import numpy as np
from backends import DATA, reference_forward

from stylizer.images import is_image_path, read_image
from stylizer.styles.loading import load_generator


def lattice_share(grey: np.ndarray) -> float:
    """Share of the energy above 1/8 of the sampling rate that lies on the period-2/4 lattice."""
    h, w = grey.shape
    power = np.abs(np.fft.fft2(grey - grey.mean())) ** 2
    fy = np.abs(np.fft.fftfreq(h))[:, None]
    fx = np.abs(np.fft.fftfreq(w))[None, :]
    high = np.maximum(fy, fx) > 1 / 8

    def near_lattice(f: np.ndarray, n: int) -> np.ndarray:
        return np.abs(f * 4 - np.round(f * 4)) <= 4 / n + 1e-9  # within one bin of k/4

    lattice = near_lattice(fy, h) & near_lattice(fx, w) & high
    return float(power[lattice].sum() / power[high].sum())


def photos(folder: Path, count: int) -> list[np.ndarray]:
    """The first ``count`` images of ``folder`` as 256x256 RGB uint8 (every generator takes it)."""
    out = []
    for path in sorted(p for p in folder.iterdir() if is_image_path(p))[:count]:
        color = read_image(path).color
        if color.dtype == np.uint16:
            color = (color // 257).astype(np.uint8)
        color = cv2.resize(color, (256, 256), interpolation=cv2.INTER_AREA)
        out.append(cv2.cvtColor(color, cv2.COLOR_GRAY2RGB) if color.ndim == 2 else color)
    return out


def grey(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float64).mean(axis=2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("models", nargs="+", help="preset names or folders, or generator files")
    ap.add_argument("--photos", type=Path, default=DATA / "vangogh2photo" / "testB")
    ap.add_argument("--count", type=int, default=40)
    args = ap.parse_args()
    images = photos(args.photos, args.count)
    print(f"{len(images)} photos from {args.photos}")
    print(
        f"{'input photos':40s} lattice share {np.mean([lattice_share(grey(i)) for i in images]):.4f}"
    )
    for source in args.models:
        model = load_generator(source)
        shares = [lattice_share(grey(reference_forward(model, i))) for i in images]
        print(f"{source:40s} lattice share {np.mean(shares):.4f}")


if __name__ == "__main__":
    main()
