"""Fast-preset benchmark: the distilled presets against their teachers and the reference's 9-block
ResNet, measured side by side in one run on this machine.

    .venv/bin/python bench/fast.py [--sizes 1280x720 1920x1080] [--frames 2]
        [--models vangogh vangogh-fast monet-fast resnet9] [--backends eager compile ort]
        [--precisions fp32 auto] [--cli-frames 6 30]
        [--photos 100] [--clip-frames 24] [--skip speed cli quality flicker]

Prints, as markdown tables:

- the conv peak per precision: the best GFLOP/s a 3x3 convolution (NCHW and channels-last, two
  shapes) reaches here, the ceiling the generators' own GFLOP/s are read against;
- per model, size, backend and precision (fp32, and bf16 where the CPU has it natively, as
  ``stylize`` then uses it): GFLOP per frame (PyTorch's count), s/frame and GFLOP/s through
  the ``Stylizer`` (one frame at a time, after a timed warm-up: compile and ort build then);
- whole-process ``stylize FOLDER --preset P`` (its default backend and precision) on 6 and on 30
  cockatoo frames at 720p, teacher against fast preset (start-up, loading and writing included),
  the ratios, and from the difference the cost of one frame once the process is running;
- the PSNR (and SSIM) of each fast preset's output to its teacher's over the first ``--photos``
  held-out photos of ``vangogh2photo/testB`` at 512 px on the longer side, beside the photo's
  own PSNR to the teacher (what an identity "student" would score);
- ``stylize-flicker``'s warping error of each fast preset and its teacher (no smoothing) on the
  sample clips and the panned and zoomed photo of ``bench/temporal.py`` at 480 px, and the ratio.
"""

from __future__ import annotations

import argparse
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from backends import DATA, model_source, real_frames
from temporal import clips
from torchmetrics.functional.image import structural_similarity_index_measure

from stylizer.device import PRECISIONS, resolve_precision, torch_dtype
from stylizer.flicker import measure_flicker
from stylizer.inference import Stylizer
from stylizer.models import frame_flops
from stylizer.options import InferenceOptions, StyleOptions
from stylizer.styles.installing import find_preset
from stylizer.styles.loading import load_generator

PRECISION_NAMES = {torch_dtype(name): name for name in PRECISIONS}

#: The plain engine, one frame at a time: the reference point of comparisons.
EAGER_CPU = InferenceOptions(device="cpu", backend="eager", batch_size=1)
#: The models at each frame's own size (presets paint large frames at their working size).
FULL_SIZE = StyleOptions(scale=1.0)


def precisions(names: list[str]) -> list[str]:
    """``--precisions`` with ``auto`` resolved for this CPU (bf16 where it is native), no repeats."""
    resolved = [PRECISION_NAMES[resolve_precision(n, torch.device("cpu"))] for n in names]
    return list(dict.fromkeys(resolved))


def conv_peak(precision: str) -> float:
    """Best GFLOP/s of a 3x3 convolution here (no bias), over layouts and two shapes."""
    dtype = resolve_precision(precision, torch.device("cpu"))
    best = 0.0
    for channels, h, w in ((128, 180, 320), (64, 360, 640)):
        conv = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False).eval().to(dtype)
        flops = 2 * channels * channels * 9 * h * w
        for layout in (torch.contiguous_format, torch.channels_last):
            x = torch.randn(1, channels, h, w, dtype=dtype).contiguous(memory_format=layout)
            net = conv.to(memory_format=layout)
            with torch.no_grad():
                net(x)
                start = time.perf_counter()
                for _ in range(5):
                    net(x)
            best = max(best, flops * 5 / (time.perf_counter() - start) / 1e9)
    return best


def speed(args, tmp: Path) -> None:
    peaks = {p: conv_peak(p) for p in precisions(args.precisions)}
    print(
        ", ".join(f"conv peak {p} {g:.0f} GFLOP/s" for p, g in peaks.items())
        + " (3x3, best layout)\n"
    )
    print(
        "| model | size | backend | precision | GFLOP/frame | warm-up s | s/frame | GFLOP/s | of peak |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name in args.models:
        source = model_source(name, tmp)
        spec = load_generator(source).spec
        for text in args.sizes:
            size = tuple(int(v) for v in text.split("x"))
            frames = real_frames(args.frames + 1, size)
            gflop = frame_flops(spec, *size) / 1e9
            for backend, precision in itertools.product(args.backends, peaks):
                if backend == "ort" and precision != "fp32":
                    continue  # the ort backend runs float32 only
                stylizer = Stylizer(
                    source,
                    InferenceOptions(
                        device="cpu", backend=backend, batch_size=1, precision=precision
                    ),
                    FULL_SIZE,
                )
                start = time.perf_counter()
                stylizer.stylize_frames(frames[:1])
                warm = time.perf_counter() - start
                start = time.perf_counter()
                for frame in frames[1:]:
                    stylizer.stylize_frames([frame])
                per = (time.perf_counter() - start) / args.frames
                rate = gflop / per
                print(f"| {name} | {text} | {backend} | {precision} | {gflop:.1f} | {warm:.1f} | "
                      f"{per:.3f} | {rate:.0f} | {rate / peaks[precision]:.0%} |", flush=True)  # fmt: skip


def fast_presets(args) -> list[tuple[str, str]]:
    """(fast preset, its teacher) for the fast presets among ``--models``."""
    pairs = []
    for name in args.models:
        if name == "resnet9":
            continue
        origin = find_preset(name).manifest.get("distilled_from")
        if origin:
            pairs.append((name, origin["teacher"]))
    return pairs


def stylize_seconds(folder: Path, out: Path, preset: str) -> float:
    """Wall time of ``stylize FOLDER -o OUT --preset PRESET`` as a user runs it (its defaults)."""
    command = [sys.executable, "-m", "stylizer", str(folder), "-o", str(out), "--preset", preset,
               "-q", "--overwrite"]  # fmt: skip
    start = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - start


def whole_cli(args, tmp: Path) -> None:
    few, many = args.cli_frames
    frames = real_frames(many, (1280, 720))
    folders = {}
    for count in (few, many):
        folders[count] = tmp / f"cli_in_{count}"
        folders[count].mkdir(exist_ok=True)
        for i, frame in enumerate(frames[:count]):
            path = folders[count] / f"{i:03d}.png"
            cv2.imwrite(str(path), cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    print(f"| preset | stylize, {few} frames at 1280x720 (whole process) | vs teacher | "
          f"{many} frames | s/frame after start-up | vs teacher |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- |")
    for fast, teacher in fast_presets(args):
        seconds = {
            (name, count): stylize_seconds(folders[count], tmp / f"cli_{name}_{count}", name)
            for name in (teacher, fast)
            for count in (few, many)
        }
        marginal = {n: (seconds[n, many] - seconds[n, few]) / (many - few) for n in (teacher, fast)}
        for name in (teacher, fast):
            print(f"| {name} | {seconds[name, few]:.1f} s | "
                  f"{seconds[teacher, few] / seconds[name, few]:.2f}x | {seconds[name, many]:.1f} s | "
                  f"{marginal[name]:.3f} | {marginal[teacher] / marginal[name]:.2f}x |", flush=True)  # fmt: skip


def held_out_photos(count: int) -> list[np.ndarray]:
    photos = []
    for path in sorted((DATA / "vangogh2photo" / "testB").iterdir())[:count]:
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        scale = 512 / max(image.shape[:2])
        size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
        photos.append(cv2.resize(image, size, interpolation=cv2.INTER_CUBIC))
    return photos


def psnr_ssim(outputs: list[np.ndarray], targets: list[np.ndarray]) -> tuple[float, float]:
    """Mean per-image PSNR (dB) and SSIM over pairs of HxWx3 uint8 images."""
    psnrs, ssims = [], []
    for out, target in zip(outputs, targets, strict=True):
        mse = np.mean(((out.astype(np.float64) - target) / 255) ** 2)
        psnrs.append(10 * np.log10(1 / max(mse, 1e-12)))
        a, b = (torch.from_numpy(x).permute(2, 0, 1)[None].float() / 255 for x in (out, target))
        ssims.append(float(structural_similarity_index_measure(a, b, data_range=1.0)))
    return float(np.mean(psnrs)), float(np.mean(ssims))


def quality(args) -> None:
    photos = held_out_photos(args.photos)
    print(f"| fast preset | teacher | PSNR to teacher ({len(photos)} photos, 512 px) | SSIM "
          "| the photo's own PSNR to the teacher |")  # fmt: skip
    print("| --- | --- | --- | --- | --- |")
    for fast, teacher in fast_presets(args):
        teacher_model, student_model = (Stylizer(n, EAGER_CPU, FULL_SIZE) for n in (teacher, fast))
        target = [teacher_model.stylize_frames([p])[0] for p in photos]
        student = [student_model.stylize_frames([p])[0] for p in photos]
        p, s = psnr_ssim(student, target)
        identity, _ = psnr_ssim(photos, target)
        print(f"| {fast} | {teacher} | {p:.2f} dB | {s:.3f} | {identity:.2f} dB |", flush=True)


def flicker(args) -> None:
    found = clips(args.clip_frames, 480)
    print("| clip | fast preset | warping error | teacher's | vs teacher |")
    print("| --- | --- | --- | --- | --- |")
    for fast, teacher in fast_presets(args):
        models = {name: Stylizer(name, EAGER_CPU, FULL_SIZE) for name in (fast, teacher)}
        for clip, frames in found.items():
            error = {
                name: measure_flicker(frames, m.stylize_frames(frames)).warping_error
                for name, m in models.items()
            }
            print(f"| {clip} | {fast} | {error[fast]:.5f} | {error[teacher]:.5f} | "
                  f"{error[fast] / error[teacher] - 1:+.1%} |", flush=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["1280x720", "1920x1080"])
    parser.add_argument("--frames", type=int, default=2)
    parser.add_argument("--models", nargs="+",
                        default=["vangogh", "vangogh-fast", "monet-fast", "resnet9"])  # fmt: skip
    parser.add_argument("--backends", nargs="+", default=["eager", "compile", "ort"])
    parser.add_argument("--precisions", nargs="+", default=["fp32", "auto"],
                        help="auto: what stylize uses here (bf16 on CPUs that have it natively)")  # fmt: skip
    parser.add_argument("--cli-frames", nargs=2, type=int, default=[6, 30], metavar=("FEW", "MANY"),
                        help="whole-process runs on FEW and on MANY frames; their difference "
                        "gives the cost of a frame after start-up")  # fmt: skip
    parser.add_argument("--photos", type=int, default=100)
    parser.add_argument("--clip-frames", type=int, default=24)
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["speed", "cli", "quality", "flicker"])  # fmt: skip
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stylize-fast-"))
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines()
                  if line.startswith("Model name")), "?")  # fmt: skip
    print(f"{model}, {torch.get_num_threads()} threads\n")
    sections = {"speed": lambda: speed(args, tmp), "cli": lambda: whole_cli(args, tmp),
                "quality": lambda: quality(args), "flicker": lambda: flicker(args)}  # fmt: skip
    for name, section in sections.items():
        if name not in args.skip:
            section()
            print()


if __name__ == "__main__":
    main()
