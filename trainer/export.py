"""Export a run's generator as a preset folder that ``stylize --preset`` loads."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from safetensors import SafetensorError

from stylizer.errors import StylizeError
from stylizer.files import atomic_folder, writing
from stylizer.images import is_image_path
from stylizer.models import GENERATORS, frame_flops
from stylizer.onnx import export_onnx, exporter_problem, write_preset_graph
from stylizer.styles.presets import MANIFEST, Preset, check_name, user_presets_dir
from stylizer.styles.weights import save_state_dict

from .tasks.base import Opened, open_task

#: File formats ``export_preset`` writes weights in.
WEIGHT_FORMATS = ("pth", "safetensors")
#: How writing a file fails: the OS's errors, and how torch.save and safetensors report them
#: (torch.save says a full disk as ``RuntimeError: ... unexpected pos``).
_WRITE_ERRORS = (OSError, RuntimeError, SafetensorError)


def export_preset(
    run_dir: str | Path,
    name: str,
    *,
    direction: str = "AtoB",
    description: str = "",
    out_dir: str | Path | None = None,
    extra: dict | None = None,
    half: bool = True,
    weights_format: str = "pth",
    onnx: bool = False,
    graph: bool = True,
    checkpoint: str = "latest",
    overwrite: bool = False,
) -> Path:
    """Write ``OUT/NAME/`` (manifest + fp16 weights) and a reference-compatible fp32 ``.pth``.

    The fp32 file (``NAME_net_G.pth``, in the run folder's ``export/``) is a plain state dict laid
    out as the reference's ``latest_net_G_A.pth``. ``weights_format="safetensors"`` writes the
    preset's weights as ``generator.safetensors`` and the fp32 weights as
    ``NAME_net_G.safetensors`` too (the format chaiNNer, ComfyUI and spandrel prefer). With
    ``onnx``, ``export/NAME.onnx`` too: whole images in [0, 1] in and out (``stylizer.onnx``).
    With ``graph`` (and the exporter installed), an image preset carries its generator as an
    ONNX graph too, which stylize runs without importing PyTorch (``stylizer.graph``).
    ``checkpoint``: latest, best (by the task's validation figure) or a step number. A preset
    already at ``OUT/NAME`` is replaced only with ``overwrite`` (and nothing else ever is).
    """
    folder = _target(name, out_dir, weights_format, overwrite)
    opened = open_task(Path(run_dir), torch.device("cpu"), checkpoint)
    weights, spec = opened.task.export(direction)
    noise = GENERATORS.get_class(spec.arch).from_noise
    if noise and onnx:
        raise StylizeError("--onnx exports image-to-image generators only, not one from noise")
    replaces = MANIFEST if overwrite else None
    with writing(folder, _WRITE_ERRORS), atomic_folder(folder, replaces=replaces) as tmp:
        stored = {
            k: (v.half() if half and v.is_floating_point() else v) for k, v in weights.items()
        }
        save_state_dict(stored, tmp / f"generator.{weights_format}")
        manifest = {
            "name": name,
            "description": description
            or f"{opened.task.name} generator trained with stylize-train",
            "weights": f"generator.{weights_format}",
            "architecture": spec.to_dict(),
            "architecture_description": spec.describe(),
            "gflop_per_720p_frame" if not noise else "gflop_per_image": round(
                frame_flops(spec) / 1e9, 3 if noise else 1
            ),
            "training": _training_record(opened) | {"direction": direction},
        }
        manifest |= opened.task.record(direction) | (extra or {})
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        Preset.read(tmp)  # a bad field from --about is refused here, before it is published
        if graph and not noise and exporter_problem() is None:
            write_preset_graph(tmp)
    _write_plain(opened, direction, weights, name, weights_format, onnx)
    return folder


def _target(name: str, out_dir: str | Path | None, weights_format: str, overwrite: bool) -> Path:
    """The preset's folder, once the name, the format and what is there allow writing it."""
    check_name(name)  # joined onto a folder whose contents are replaced: never a path
    if weights_format not in WEIGHT_FORMATS:
        raise StylizeError(f"weights format {weights_format!r}: use {' or '.join(WEIGHT_FORMATS)}")
    folder = Path(out_dir or user_presets_dir()) / name
    if not overwrite and (folder / MANIFEST).is_file():
        raise StylizeError(
            f"a preset named {name!r} is already in {folder} (--overwrite replaces it)"
        )
    return folder


def _write_plain(
    opened: Opened,
    direction: str,
    weights: dict[str, torch.Tensor],
    name: str,
    weights_format: str,
    onnx: bool,
) -> None:
    """The fp32 weights (the reference's layout, and ``weights_format``'s) and the ONNX graph
    in the run's ``export/``: files for other tools, beside the preset."""
    full = {k: v.float() if v.is_floating_point() else v for k, v in weights.items()}
    for ext in dict.fromkeys(("pth", weights_format)):
        target = opened.run.root / "export" / f"{name}_net_G.{ext}"
        with writing(target, _WRITE_ERRORS):
            save_state_dict(full, target)
    if onnx:
        target = opened.run.root / "export" / f"{name}.onnx"
        with writing(target):  # OSError only: torch.onnx's own errors are no file's fault
            export_onnx(opened.task.generator_for(direction), target)


def _training_record(opened: Opened) -> dict:
    """What the manifest says about how the generator was trained, from the run's log."""
    s, step, records = opened.task.s, opened.step, opened.run.records()
    val = [r for r in records if r.get("kind") == "val" and r["step"] <= step]
    init = next((r for r in records if r.get("kind") == "init"), None)
    train_rates = [r["steps_per_s"] for r in records if "steps_per_s" in r]
    return {
        "task": s.task,
        "data": s.data,
        "data_counts": {d: _count_images(Path(d)) for d in s.data},
        "steps": step,
        "checkpoint": opened.checkpoint,
        "initialized_from": init
        and {
            "checkpoint": init["from"],
            "step": init["from_step"],
            "generator_only": init.get("generator_only", False),
        }
        | ({"adopted_from": init["adopted_from"]} if "adopted_from" in init else {}),
        "schedule": f"{s.epochs} epochs + {s.decay_epochs} decaying, "
        f"{s.steps_per_epoch or 'one pass'} steps each",
        "batch_size": s.batch_size,
        "crop_size": s.crop_size,
        "last_validation": {
            k: v for k, v in (val[-1] if val else {}).items() if k.startswith("val_")
        },
        "steps_per_s": train_rates[-1] if train_rates else None,
        "hardware": sorted({r["hardware"] for r in records if r.get("kind") == "session"}),
        "wall_time_s": round(_training_seconds(records), 1),
        "precision": s.precision,
        "exported": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }


def _count_images(folder: Path) -> int:
    return sum(1 for p in folder.rglob("*") if p.is_file() and is_image_path(p))


def _training_seconds(records: list[dict]) -> float:
    """Time spent training, from the logged step rates (pauses between sessions excluded)."""
    seconds, last = 0.0, None
    for r in records:
        if r.get("kind") == "session":
            last = r["step"]
        elif r.get("kind") == "train" and r.get("steps_per_s"):
            seconds += (r["step"] - (last if last is not None else r["step"] - 10)) / r[
                "steps_per_s"
            ]
            last = r["step"]
    return seconds
