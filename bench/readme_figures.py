"""The README's pictures of the controls, made by the tool itself from the demo landscape:

    .venv/bin/python bench/readme_figures.py [--preset vangogh] [-o docs/controls.jpg]

The landscape, the preset's result (at the preset's working size), then --strength 0.5,
--keep-colors, --scale 1 (full resolution: finer texture) and --scale 0.5, each tile labelled.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from torchvision.utils import make_grid

from stylizer.controls import scaled
from stylizer.demo import landscape
from stylizer.images import Picture, write_image
from stylizer.inference import Stylizer
from stylizer.options import InferenceOptions, StyleOptions
from stylizer.sheet import labelled

CONTROLS = {
    "": StyleOptions(),
    "--strength 0.5": StyleOptions(strength=0.5),
    "--keep-colors": StyleOptions(keep_colors=True),
    "--scale 1": StyleOptions(scale=1.0),
    "--scale 0.5": StyleOptions(scale=0.5),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="vangogh")
    parser.add_argument("-o", "--output", type=Path, default=Path("docs/controls.jpg"))
    args = parser.parse_args()
    photo = landscape(0)[:, 96:608]  # 512 x 512
    tiles = [labelled(scaled(photo, 256, 256), "the photo")]  # half size keeps the README light
    for flag, style in CONTROLS.items():
        result = Stylizer(args.preset, InferenceOptions(device="cpu"), style).stylize(
            Picture(photo)
        )
        tiles.append(labelled(scaled(result.color, 256, 256), f"{args.preset} {flag}".strip()))
    batch = torch.from_numpy(np.stack(tiles)).permute(0, 3, 1, 2)
    grid = make_grid(batch, nrow=3, padding=4, pad_value=255).permute(1, 2, 0).numpy()
    write_image(args.output, Picture(np.ascontiguousarray(grid)))
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
