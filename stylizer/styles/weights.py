"""One loader for every generator weight file: safe to open, architecture detected from the keys."""

from __future__ import annotations

import hashlib
import pickle
import warnings
import zipfile
from pathlib import Path

import safetensors.torch
import torch

from ..errors import StylizeError, first_line
from ..files import atomic_output
from ..models import GENERATORS, Generator, GeneratorSpec, build_generator, set_bn_per_image
from ..models.patchgan import looks_like_discriminator

_BN_COUNTER = ".num_batches_tracked"
_STALE_NORM_SUFFIXES = (".running_mean", ".running_var", _BN_COUNTER)
#: What weights may be stored as; anything else (int8, complex, ...) loads as a plausible,
#: wrong picture once cast to float.
_WEIGHT_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)
#: Batch norm's step counters are the one integer tensor a generator's state dict holds.
_COUNTER_DTYPES = (torch.int32, torch.int64)
#: Far above any real generator (the reference's unet_256 has 54 million parameters), far below
#: what a crafted file can claim (a 200000-channel ResNet: 2.9 TB).
_MAX_PARAMETERS = 1_000_000_000
_WRAPPER_KEYS = ("state_dict", "generator", "model", "netG", "G")


#: Extensions of the weight files ``--weights FOLDER`` looks for.
WEIGHT_EXTENSIONS = (".pth", ".pt", ".safetensors", ".ckpt", ".bin")


def state_digest(state: object) -> str:
    """SHA-256 of every tensor (dtype, shape, bytes) and value in a nested state (a state dict,
    a training checkpoint), in a fixed order."""
    digest = hashlib.sha256()

    def feed(value: object) -> None:
        if torch.is_tensor(value):
            t = value.detach().cpu().contiguous()
            digest.update(f"{t.dtype}{tuple(t.shape)}".encode())
            digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        elif isinstance(value, dict):
            for key in sorted(value, key=str):
                digest.update(repr(key).encode())
                feed(value[key])
        elif isinstance(value, list | tuple):
            for item in value:
                feed(item)
        else:
            digest.update(repr(value).encode())

    feed(state)
    return digest.hexdigest()


def weights_digest(model: torch.nn.Module) -> str:
    """A hash of everything in the model that changes its output: its state dict and the
    batch-norm mode (per-image statistics or running ones); what cached engines are keyed by."""
    modes = [(name, m.per_image) for name, m in model.named_modules() if hasattr(m, "per_image")]
    return state_digest([model.state_dict(), repr(modes)])


def weight_file_in(folder: Path) -> Path:
    """The one weight file a folder given as weights holds, or a one-line error saying what
    the folder holds instead."""
    found = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_EXTENSIONS)
    if len(found) == 1:
        return found[0]
    names = ", ".join(p.name for p in found[:4]) + (", ..." if len(found) > 4 else "")
    what = f"{len(found)} weight files ({names}): name one" if found else "no weight file"
    raise StylizeError(f"{folder}: a folder, not a weight file; it holds {what}")


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives (``torch.jit.save``) carry their code beside the tensors."""
    try:
        with zipfile.ZipFile(path) as archive:
            return any(
                n.split("/", 1)[-1].startswith(("code/", "constants.pkl"))
                for n in archive.namelist()
            )
    except (zipfile.BadZipFile, OSError):
        return False


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Tensors of a ``.pth`` file, opened with ``weights_only`` so that no pickled code can run,
    or of a ``.safetensors`` file, which holds nothing but tensors."""
    path = Path(path)
    if path.is_dir():
        path = weight_file_in(path)
    if not path.is_file():
        raise StylizeError(f"{path}: no such weight file")
    if path.stat().st_size == 0:
        raise StylizeError(f"{path}: empty file, not a weight file")
    if path.suffix == ".safetensors":
        return _tensors_of(_read_safetensors(path), path)
    if _is_torchscript(path):
        raise StylizeError(
            f"{path}: a TorchScript program, not a state dict; save the generator's "
            "state_dict() (torch.save(model.state_dict(), 'g.pth')) and give that"
        )
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
        raise StylizeError(
            f"{path}: not a readable PyTorch weight file ({first_line(e)})"
        ) from None
    return _tensors_of(obj, path)


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return safetensors.torch.load_file(path)
    except Exception as e:  # SafetensorError, or an OSError from a damaged header
        raise StylizeError(f"{path}: not a readable safetensors file ({first_line(e)})") from None


def save_state_dict(state: dict[str, torch.Tensor], path: Path) -> None:
    """Write a generator state dict as ``.safetensors`` or (any other extension) a ``.pth``
    the reference loads, atomically."""
    with atomic_output(path) as tmp:
        if path.suffix == ".safetensors":
            safetensors.torch.save_file({k: v.contiguous() for k, v in state.items()}, tmp)
        else:
            torch.save(state, tmp)


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


def _check_tensors(state: dict[str, torch.Tensor], source: str) -> None:
    """Refuse the first tensor that would load as a plausible but wrong picture (NaN, int8,
    complex), or that is sparse or claims more values than its storage holds (zero strides let
    a small file claim terabytes), before anything reads its values."""
    for key, t in state.items():
        if t.layout != torch.strided:  # sparse tensors have no storage to measure
            raise StylizeError(
                f"{source}: refused: tensor {key} is {str(t.layout).removeprefix('torch.')}; "
                "generator weights are dense"
            )
        held = t.untyped_storage().nbytes() // t.element_size() - t.storage_offset()
        if t.numel() > held:
            raise StylizeError(
                f"{source}: refused: tensor {key} claims shape {tuple(t.shape)} ({t.numel():,} "
                f"values) but its storage holds {held:,} (a damaged or crafted file)"
            )
        if t.dtype not in _WEIGHT_DTYPES and not (
            key.endswith(_BN_COUNTER) and t.dtype in _COUNTER_DTYPES
        ):
            raise StylizeError(
                f"{source}: refused: tensor {key} is {str(t.dtype).removeprefix('torch.')}; "
                "generator weights are float16, bfloat16, float32 or float64"
            )
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise StylizeError(
                f"{source}: refused: tensor {key} holds NaN or infinite values (damaged weights, "
                "or a training run that diverged)"
            )


def _check_size(spec: GeneratorSpec, source: str) -> None:
    """Refuse a generator too large for any real style before allocating it, counting its
    parameters on the meta device (no memory)."""
    with torch.device("meta"):
        count = sum(t.numel() for t in build_generator(spec).state_dict().values())
    if count > _MAX_PARAMETERS:
        raise StylizeError(
            f"{source}: refused: {count:,} parameters ({spec.describe()}), more than the "
            f"{_MAX_PARAMETERS:,} any generator may have (a damaged or crafted file)"
        )


def generator_from_state(
    state: dict[str, torch.Tensor], spec: GeneratorSpec | None = None, source: str = "state dict"
) -> Generator:
    """Build the generator ``state`` describes and load it with ``strict=True``, after refusing
    tensors and sizes that would give a wrong picture or exhaust memory instead of an error."""
    state = clean_state_dict(state)
    spec = spec or detect_spec(state, source)
    if spec.norm != "batch":
        # Old PyTorch gave InstanceNorm running statistics; they carry no information.
        state = {k: v for k, v in state.items() if not k.endswith(_STALE_NORM_SUFFIXES)}
    _check_tensors(state, source)
    _check_size(spec, source)
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
