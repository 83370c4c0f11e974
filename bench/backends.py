"""Backend benchmark: the same weights through a reference-style per-frame fp32 eager loop and
through each of our backends and precisions, on real frames, in one run.

    .venv/bin/python bench/backends.py [--model resnet9|vangogh|FILE] [--sizes 256x256 1280x720]
        [--frames 4] [--runs eager:fp32 eager:bf16 compile:bf16] [--folder]

For each size: seconds and frames/s per frame, the speed-up over the reference loop, the
achieved TFLOP/s (FLOPs counted by PyTorch for one forward pass) and the PSNR to the reference
loop's output. With ``--folder``, both sides go through files as users run them: the reference
loop reads, stylizes and writes PNG frames one at a time, and ours is ``stylize_files`` (what
``stylize FOLDER -o OUT`` does) on the same folder. Frames come from the sample clip
``cockatoo.mp4`` scaled to each size. ``resnet9`` is the reference's 9-block ResNet (ngf 64) with
random weights (speed does not depend on them); the PSNR is more telling with trained weights
(``vangogh``).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from stylizer.flicker import video_frames
from stylizer.models import Generator, GeneratorSpec, build_generator, frame_flops
from stylizer.options import InferenceOptions, StyleOptions
from stylizer.pipeline import Stylizer, stylize_files
from stylizer.styles.loading import load_generator

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


#: The model at each frame's own size (a preset would paint large frames at its working size).
FULL_SIZE = StyleOptions(scale=1.0)


def model_source(name: str, folder: Path) -> str:
    """A weight file or preset name for ``--model``."""
    if name != "resnet9":
        return name
    path = folder / "resnet9_ngf64.pth"
    torch.manual_seed(0)
    torch.save(build_generator(GeneratorSpec("resnet", 9, ngf=64)).state_dict(), path)
    return str(path)


def real_frames(count: int, size: tuple[int, int]) -> list[np.ndarray]:
    it = video_frames(DATA / "videos" / "cockatoo.mp4")
    return [cv2.resize(next(it), size, interpolation=cv2.INTER_AREA) for _ in range(count)]


def reference_forward(model: Generator, frame: np.ndarray) -> np.ndarray:
    """One frame the way the reference's test loop does it: fp32, eager, NCHW, no batching."""
    with torch.no_grad():
        x = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 127.5 - 1
        y = model(x)
    return ((y[0].permute(1, 2, 0) + 1) * 127.5).round().clamp(0, 255).byte().numpy()


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    mse = np.mean([((x.astype(np.float64) - y) / 255) ** 2 for x, y in zip(a, b, strict=True)])
    return float("inf") if mse == 0 else float(10 * np.log10(1 / mse))


def timed(run) -> tuple[float, list[np.ndarray]]:
    start = time.perf_counter()
    out = run()
    return time.perf_counter() - start, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet9")
    parser.add_argument("--sizes", nargs="+", default=["256x256", "1280x720"])
    parser.add_argument("--frames", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--runs", nargs="+", default=["eager:fp32", "eager:bf16", "compile:bf16"])
    parser.add_argument("--folder", action="store_true", help="Through PNG files (see above).")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="stylize-bench-"))
    source = model_source(args.model, tmp)
    reference = load_generator(source).eval()
    print(f"model {args.model}, {args.frames} frames, {torch.get_num_threads()} CPU threads, "
          f"device {args.device}{', through files' if args.folder else ''}\n")  # fmt: skip
    print("| size | run | s/frame | frames/s | vs reference | TFLOP/s | PSNR to reference |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for text in args.sizes:
        bench_size(args, text, source, reference, tmp / text)


def bench_size(args, text: str, source: str, reference: Generator, tmp: Path) -> None:
    size = tuple(int(v) for v in text.split("x"))
    frames = real_frames(args.frames, size)
    flops = frame_flops(reference.spec, *size)
    folder = tmp / "in"
    if args.folder:
        folder.mkdir(parents=True, exist_ok=True)
        for i, f in enumerate(frames):
            cv2.imwrite(str(folder / f"{i:04d}.png"), cv2.cvtColor(f, cv2.COLOR_RGB2BGR))

    def reference_loop() -> list[np.ndarray]:
        if not args.folder:
            return [reference_forward(reference, f) for f in frames]
        out = []
        for path in sorted(folder.glob("*.png")):
            img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
            out.append(reference_forward(reference, img))
            cv2.imwrite(str(tmp / f"ref_{path.name}"), cv2.cvtColor(out[-1], cv2.COLOR_RGB2BGR))
        return out

    reference_loop()  # warm-up (one-time allocations)
    base, expected = timed(reference_loop)
    report(text, "reference loop (fp32 eager)", base, base, flops, args.frames, None)
    for run in args.runs:
        backend, precision = run.split(":")
        stylizer = Stylizer(source, InferenceOptions(device=args.device, backend=backend,
                            batch_size=args.batch_size, precision=precision), FULL_SIZE,
                            log=print)  # fmt: skip
        warm = time.perf_counter()
        stylizer.stylize_frames(frames[: args.batch_size])  # compiles, if it compiles
        warm = time.perf_counter() - warm
        out_dir = tmp / run.replace(":", "_")

        def ours(stylizer: Stylizer = stylizer, out_dir: Path = out_dir) -> list[np.ndarray]:
            if not args.folder:
                return stylizer.stylize_frames(frames)
            stylize_files([str(folder)], source, out_dir, stylizer=stylizer)
            files = sorted(out_dir.glob("*.png"))
            return [cv2.cvtColor(cv2.imread(str(p)), cv2.COLOR_BGR2RGB) for p in files]

        seconds, out = timed(ours)
        report(text, f"{run} (warm-up {warm:.1f} s)", seconds, base, flops, args.frames,
               psnr(out, expected))  # fmt: skip


def report(size, name, seconds, base, flops, count, quality) -> None:
    per = seconds / count
    q = "-" if quality is None else f"{quality:.1f} dB"
    print(f"| {size} | {name} | {per:.3f} | {1 / per:.2f} | {base / seconds:.2f}x | "
          f"{flops / per / 1e12:.3f} | {q} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
