"""Generators as ONNX files, for ONNX Runtime (the ``ort`` backend) and any tool that takes ONNX.

``export_onnx`` writes one of two graphs, both with dynamic batch, height and width, at opset
``OPSET``:

- ``whole_images=True`` (what ``stylize-train export --onnx`` writes, for other tools): input
  ``image``, float32 N x C x H x W in [0, 1], any H and W of at least the generator's
  ``min_size``; output ``stylized``, the same shape in [0, 1]. The normalisation to [-1, 1], the
  padding to the generator's size multiple (repeating the edge pixels) and the crop back are in
  the graph.
- ``whole_images=False`` (what the ``ort`` backend runs): the bare generator, input ``x`` in
  [-1, 1] with H and W multiples of ``size_multiple``, as every backend's ``infer`` gets it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .errors import StylizeError
from .files import atomic_output, write_atomic
from .graph import GraphFacts
from .models import Generator
from .styles.presets import MANIFEST, Preset

#: A preset's graph file (``Preset.graph``).
PRESET_GRAPH = "generator.onnx"

#: The ONNX operator set the files use (ONNX Runtime 1.15 and later, and most tools, run it).
OPSET = 18
#: The largest side the graphs accept.
MAX_SIDE = 16384


class ImageGraph(nn.Module):
    """A generator on whole images in [0, 1]: normalisation, padding and crop inside."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        h, w = image.shape[-2:]
        m = self.generator.size_multiple
        x = F.pad(image * 2 - 1, (0, (m - w % m) % m, 0, (m - h % m) % m), mode="replicate")
        return (self.generator(x)[..., :h, :w] + 1) / 2


def _dimensions(model: Generator, whole_images: bool) -> tuple[dict[int, object]]:
    batch = torch.export.Dim("batch", min=1, max=256)
    m, least = model.size_multiple, model.min_size
    if whole_images:
        return (
            {
                0: batch,
                **{
                    axis: torch.export.Dim(name, min=least, max=MAX_SIDE)
                    for axis, name in ((2, "height"), (3, "width"))
                },
            },
        )
    steps = {
        axis: torch.export.Dim(f"{name}_steps", min=max(1, -(-least // m)), max=MAX_SIDE // m)
        for axis, name in ((2, "height"), (3, "width"))
    }
    return ({0: batch, 2: m * steps[2], 3: m * steps[3]},)


def export_onnx(
    model: Generator, path: str | Path, whole_images: bool = True, optimize: bool = True
) -> Path:
    """Write ``model`` (float32, on the CPU) as an ONNX file at ``path``, atomically.
    ``optimize=False`` skips the exporter's graph optimisation (half the export time; ONNX
    Runtime optimises the graph again when it loads it)."""
    path = Path(path)
    model = model.float().cpu().eval()
    m = model.size_multiple
    side = max(model.min_size, 3 * m)
    example = torch.zeros(2, model.spec.in_channels, side + 1, side + 3)  # no side special
    if not whole_images:
        example = torch.zeros(2, model.spec.in_channels, side, side + m)
    graph = (ImageGraph(model) if whole_images else model).eval()
    names = (["image"], ["stylized"]) if whole_images else (["x"], ["y"])
    try:
        with atomic_output(path) as tmp, torch.no_grad(), contextlib.redirect_stdout(sys.stderr):
            torch.onnx.export(
                graph,
                (example,),
                str(tmp),
                dynamo=True,
                opset_version=OPSET,
                dynamic_shapes=_dimensions(model, whole_images),
                input_names=names[0],
                output_names=names[1],
                verbose=False,
                external_data=False,
                optimize=optimize,
            )
    except ImportError as e:
        raise StylizeError(f"ONNX export needs {e.name}: pip install stylize[onnx]") from None
    return path


def exporter_problem() -> str | None:
    """Why graphs cannot be exported here, or None when they can."""
    for module in ("onnx", "onnxscript"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: pip install stylize[onnx]"
    return None


def write_preset_graph(folder: Path) -> Path:
    """Give the preset in ``folder`` its graph: its generator, loaded from the preset as
    stylize loads it (stored weights, per-image statistics), exported bare with its
    ``GraphFacts`` as metadata to ``generator.onnx``, and named in the manifest. Run again
    whenever the weights change (a test checks the digest). The exporter's own optimisation is
    skipped: ONNX Runtime optimises the graph when it loads it anyway, and exporting takes a
    third of the time (vangogh-fast: 2.7 s against 7.1, frames as fast)."""
    import onnx

    from .styles.weights import load_weights, weights_digest

    preset = Preset.read(folder)
    model = load_weights(preset.weights, preset.spec).float().eval()
    if model.from_noise:
        raise StylizeError(f"{preset.name} draws images from noise: graphs are for image styles")
    facts = GraphFacts(
        size_multiple=model.size_multiple,
        min_size=model.min_size,
        activation_bytes_per_pixel=model.activation_bytes_per_pixel,
        weights_digest=weights_digest(model),
    )
    target = folder / PRESET_GRAPH
    with atomic_output(target) as tmp:  # published whole, metadata and all, or not at all
        export_onnx(model, tmp, whole_images=False, optimize=False)  # ONNX Runtime optimises
        graph = onnx.load(str(tmp))
        _store_half(graph)
        for key, value in facts.metadata().items():
            graph.metadata_props.add(key=key, value=value)
        onnx.save(graph, str(tmp))
    manifest = json.loads((folder / MANIFEST).read_text()) | {"graph": PRESET_GRAPH}
    write_atomic(folder / MANIFEST, (json.dumps(manifest, indent=2) + "\n").encode())
    return target


def _store_half(graph: Any) -> None:
    """Store each float32 initializer that float16 holds exactly (a preset's weights are
    float16) as float16, with a Cast back to float32 that ONNX Runtime folds away when it loads
    the graph: half the file, the same numbers."""
    from onnx import TensorProto, helper, numpy_helper

    casts = []
    for init in graph.graph.initializer:
        if init.data_type != TensorProto.FLOAT:
            continue
        values = numpy_helper.to_array(init)
        half = values.astype(np.float16)
        if values.size < 16 or not np.array_equal(half.astype(np.float32), values):
            continue
        name = init.name
        init.CopyFrom(numpy_helper.from_array(half, f"{name}.half"))
        casts.append(helper.make_node("Cast", [f"{name}.half"], [name], to=TensorProto.FLOAT))
    nodes = [*casts, *graph.graph.node]
    del graph.graph.node[:]
    graph.graph.node.extend(nodes)
