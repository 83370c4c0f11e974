"""One loader for every generator weight file: safe to open, architecture detected from the keys."""

from __future__ import annotations

import pickle
import warnings
from pathlib import Path

import torch

from .errors import StylizeError
from .models import GENERATORS, Generator, GeneratorSpec, build_generator, set_bn_per_image
from .models.patchgan import looks_like_discriminator

_STALE_NORM_SUFFIXES = (".running_mean", ".running_var", ".num_batches_tracked")
_WRAPPER_KEYS = ("state_dict", "generator", "model", "netG", "G")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.pth`` file, opened with ``weights_only`` so that no pickled code can run."""
    path = Path(path)
    if not path.is_file():
        raise StylizeError(f"{path}: no such weight file")
    if path.stat().st_size == 0:
        raise StylizeError(f"{path}: empty file, not a weight file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch warns about pickle protocols it then refuses
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [line.strip() for line in str(e).splitlines() if line.strip()]
        blocked = [line for line in lines if "GLOBAL" in line]
        if not blocked:
            raise StylizeError(f"{path}: not a PyTorch weight file") from None
        raise StylizeError(
            f"{path}: refused: the file holds pickled Python objects, not only tensors, and could "
            f"run code when opened ({blocked[-1]})"
        ) from None
    except Exception as e:  # arbitrary bytes can fail anywhere in the unpickler (KeyError, ...)
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise StylizeError(f"{path}: not a readable PyTorch weight file ({first})") from None
    return _tensors_of(obj, path)


def _tensors_of(obj: object, path: Path) -> dict[str, torch.Tensor]:
    if isinstance(obj, dict):
        tensors = {k: v for k, v in obj.items() if isinstance(k, str) and torch.is_tensor(v)}
        if tensors and len(tensors) == len(obj):
            return tensors
        for key in _WRAPPER_KEYS:
            if isinstance(obj.get(key), dict):
                return _tensors_of(obj[key], path)
    raise StylizeError(f"{path}: holds no generator state dict (a dict of named tensors)")


def clean_state_dict(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip the ``module.`` prefix DataParallel adds."""
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module.") :]: v for k, v in state.items()}
    return state


def detect_spec(state: dict[str, torch.Tensor], source: str = "state dict") -> GeneratorSpec:
    """Which registered architecture ``state`` belongs to, or a clear error saying what it is not."""
    for cls in GENERATORS.values():
        spec = cls.detect(state)
        if spec is not None:
            return spec
    if looks_like_discriminator(state):
        raise StylizeError(
            f"{source}: this is a PatchGAN discriminator (net_D), not a generator: "
            "use the matching net_G file"
        )
    sample = ", ".join(list(state)[:3])
    raise StylizeError(
        f"{source}: not a known generator (keys start {sample}...); supported: "
        f"{', '.join(GENERATORS)}"
    )


def generator_from_state(
    state: dict[str, torch.Tensor], spec: GeneratorSpec | None = None, source: str = "state dict"
) -> Generator:
    """Build the generator ``state`` describes and load it with ``strict=True``."""
    state = clean_state_dict(state)
    spec = spec or detect_spec(state, source)
    if spec.norm != "batch":
        # Old PyTorch gave InstanceNorm running statistics; they carry no information.
        state = {k: v for k, v in state.items() if not k.endswith(_STALE_NORM_SUFFIXES)}
    model = build_generator(spec)
    expected = model.state_dict()
    state = {k: v.to(expected[k].dtype) if k in expected else v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        missing = sorted(set(expected) - set(state))[:3]
        extra = sorted(set(state) - set(expected))[:3]
        shapes = [k for k in expected if k in state and expected[k].shape != state[k].shape][:3]
        raise StylizeError(
            f"{source}: looks like a {spec.describe()} but does not fit it "
            f"(missing {missing}, unexpected {extra}, wrong shapes {shapes})"
        ) from e
    return model


def load_weights(
    path: str | Path, spec: GeneratorSpec | None = None, bn_stats: str = "image"
) -> Generator:
    """A generator from a weight file, in eval mode, with batch-norm statistics per image or running."""
    if bn_stats not in ("image", "running"):
        raise StylizeError(f"bn_stats must be 'image' or 'running', not {bn_stats!r}")
    model = generator_from_state(read_state_dict(path), spec, source=str(path))
    set_bn_per_image(model, bn_stats == "image")
    return model.eval().requires_grad_(False)
