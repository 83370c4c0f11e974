"""The reference's GAN objectives and its pool of past fakes; the figures validation reports."""

from __future__ import annotations

import torch
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
