"""The reference's GAN objectives and its pool of past fakes; the figures validation reports."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.functional.image import (
    peak_signal_noise_ratio,
    structural_similarity_index_measure,
)


class GANLoss(nn.Module):
    """``lsgan``: least squares against 1/0; ``vanilla``: binary cross-entropy on logits."""

    def __init__(self, mode: str) -> None:
        super().__init__()
        if mode not in ("lsgan", "vanilla"):
            raise ValueError(f"unknown GAN loss {mode!r}: lsgan or vanilla")
        self.loss = nn.MSELoss() if mode == "lsgan" else nn.BCEWithLogitsLoss()

    def forward(self, prediction: torch.Tensor, real: bool) -> torch.Tensor:
        target = torch.ones_like(prediction) if real else torch.zeros_like(prediction)
        return self.loss(prediction, target)

    @property
    def chance(self) -> float:
        """The loss of a prediction that cannot tell (0.5 for least squares, logit 0)."""
        return 0.25 if isinstance(self.loss, nn.MSELoss) else 0.6931

    def accuracy(self, prediction: torch.Tensor, real: bool) -> torch.Tensor:
        """The share of ``prediction`` (patches) on the right side of the decision line (0.5
        for least squares, 0 for logits), for the training doctor."""
        line = 0.5 if isinstance(self.loss, nn.MSELoss) else 0.0
        said_real = prediction.detach().float() > line
        return (said_real if real else ~said_real).float().mean()


class ImagePool:
    """Past generated images, so the discriminator does not only see the latest generator.

    Until full, every fake is stored and returned; then, with probability 1/2, a fake is swapped
    for a random stored one (the reference's rule).
    """

    def __init__(self, size: int = 50) -> None:
        self.size = size
        self.images: list[torch.Tensor] = []

    def query(self, images: torch.Tensor) -> torch.Tensor:
        if self.size == 0:
            return images
        out = []
        for image in images.detach():
            image = image[None]
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
            elif torch.rand(1).item() > 0.5:
                i = int(torch.randint(len(self.images), (1,)))
                out.append(self.images[i].clone())
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.cat(out)

    def state_dict(self) -> dict:
        return {"images": torch.cat(self.images).cpu() if self.images else torch.empty(0)}

    def load_state_dict(self, state: dict, device: torch.device) -> None:
        self.images = [im[None].to(device) for im in state["images"]]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of a batch of images in [-1, 1] against another, measured on [0, 1]."""
    return float(peak_signal_noise_ratio((a.float() + 1) / 2, (b.float() + 1) / 2, data_range=1.0))


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM (11-pixel Gaussian window) of images in [-1, 1], measured on [0, 1]."""
    value = structural_similarity_index_measure(
        (a.float() + 1) / 2, (b.float() + 1) / 2, data_range=1.0
    )
    return float(value if isinstance(value, torch.Tensor) else value[0])


def sliced_wasserstein(
    real: torch.Tensor, made: torch.Tensor, levels: int = 3, patches: int = 128, seed: int = 0
) -> float:
    """How far apart two sets of images in [-1, 1] are, with no pretrained network: the sliced
    Wasserstein distance between their 7x7 patches at each level of a Laplacian pyramid, as
    ProGAN measures it (Karras et al., 2018), averaged over the levels and x 1000. 0 for the same
    distribution; it grows as colours, shapes (coarse levels) or textures (fine levels) differ.
    ``patches`` random patches per image and level, 256 random directions; the same ``seed``
    draws the same ones, so figures of one run compare."""
    generator = torch.Generator().manual_seed(seed)
    levels = max(1, min(levels, (min(real.shape[-2:]) // 8).bit_length()))  # sides of 8 px and up
    distances = []
    a, b = real.float().cpu(), made.float().cpu()
    for level in range(levels):
        if level < levels - 1:  # the band-pass detail of this scale; the last keeps the rest
            a_small, b_small = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
            a_band = a - F.interpolate(a_small, scale_factor=2.0, mode="bilinear")
            b_band = b - F.interpolate(b_small, scale_factor=2.0, mode="bilinear")
        else:
            a_band, b_band = a, b
        pa, pb = _patches(a_band, patches, generator), _patches(b_band, patches, generator)
        mean, std = pa.mean(0), pa.std(0) + 1e-8
        pa, pb = (pa - mean) / std, (pb - mean) / std
        directions = F.normalize(torch.randn(pa.shape[1], 256, generator=generator), dim=0)
        projected_a, _ = (pa @ directions).sort(0)
        projected_b, _ = (pb @ directions).sort(0)
        count = min(len(projected_a), len(projected_b))
        picked = [
            p[torch.linspace(0, len(p) - 1, count).long()] for p in (projected_a, projected_b)
        ]
        distances.append((picked[0] - picked[1]).abs().mean())
        if level < levels - 1:
            a, b = a_small, b_small
    return float(torch.stack(distances).mean()) * 1000 / 10


def _patches(images: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` random 7x7 patches of each image, flattened (N*count x C*49)."""
    n, c, h, w = images.shape
    ys = torch.randint(0, h - 6, (n, count), generator=generator)
    xs = torch.randint(0, w - 6, (n, count), generator=generator)
    offsets = torch.arange(7)
    rows = (ys[..., None] + offsets)[..., :, None]  # n x count x 7 x 1
    cols = (xs[..., None] + offsets)[..., None, :]  # n x count x 1 x 7
    index = torch.arange(n)[:, None, None, None]
    picked = images.permute(0, 2, 3, 1)[index, rows, cols]  # n x count x 7 x 7 x c
    return picked.reshape(n * count, -1)


#: Side the diversity figure compares images at: coarse enough to ignore noise.
DIVERSITY_SIDE = 16


def diversity(images: torch.Tensor) -> torch.Tensor:
    """Mean distance between every two images of a batch (RMS over pixels, images in [-1, 1],
    compared at 16 px): near 0 when a generator gives the same image whatever the input."""
    small = F.adaptive_avg_pool2d(images.detach().float(), DIVERSITY_SIDE).flatten(1)
    if len(small) < 2:
        return small.new_zeros(())
    distances = torch.cdist(small, small) / small.shape[1] ** 0.5
    n = len(small)
    return distances.sum() / (n * (n - 1))


def diversity_figures(made: torch.Tensor, real: torch.Tensor) -> dict[str, float]:
    """``val_diversity`` of generated images beside ``val_real_diversity`` of real ones, for the
    doctor; nothing for a batch of one, where no two images compare."""
    if len(made) < 2 or len(real) < 2:
        return {}
    return {"val_diversity": float(diversity(made)), "val_real_diversity": float(diversity(real))}
