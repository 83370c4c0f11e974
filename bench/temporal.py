"""Flicker benchmark: warping error, PSNR to the per-frame output and smoothing cost, for each
temporal smoothing method, on real clips and on clips panned and zoomed across real photos.

    .venv/bin/python bench/temporal.py [--preset vangogh] [--frames 24] [--side 480] [--out DIR]

Frames are stylized once, per frame, at ``--side`` pixels on the longer side (inference is the
slow part on a CPU); each smoother then runs over the same per-frame outputs, exactly as in the
pipeline. The smoothing cost is timed separately on the same frames scaled to 1280x720. Writes a
side-by-side clip (input | per frame | flow) of the first clip to ``--out``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from clips import camera_move

from stylizer.flicker import measure_flicker, video_frames
from stylizer.inference import Stylizer
from stylizer.options import InferenceOptions
from stylizer.temporal import SMOOTHERS, make_smoother

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def fit(frame: np.ndarray, side: int) -> np.ndarray:
    h, w = frame.shape[:2]
    scale = min(1.0, side / max(h, w))
    size = (round(w * scale) // 4 * 4, round(h * scale) // 4 * 4)
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


def clips(frames: int, side: int) -> dict[str, list[np.ndarray]]:
    found = {}
    for path in sorted((DATA / "videos").glob("*.mp4")):
        it = video_frames(path)
        found[path.stem] = [fit(next(it), side) for _ in range(frames)]
    photo = cv2.cvtColor(cv2.imread(str(DATA / "samples" / "kodim03.png")), cv2.COLOR_BGR2RGB)
    photo = cv2.resize(photo, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
    size = (side, side * 9 // 16 // 4 * 4)
    found["pan (kodim03)"] = camera_move(photo, frames, size, shift=(4, 1))
    found["zoom (kodim03)"] = camera_move(photo, frames, size, shift=(0, 0), zoom=1.015)
    return found


def time_smoother(
    name: str, strength: float | None, inputs: list[np.ndarray], outputs: list[np.ndarray]
) -> float:
    """Milliseconds per 1280x720 frame."""
    big_in = [cv2.resize(f, (1280, 720)) for f in inputs]
    big_out = [cv2.resize(f, (1280, 720)) for f in outputs]
    smoother = make_smoother(name, strength)
    smoother(big_in[:2], big_out[:2])  # warm up
    smoother.reset()
    start = time.perf_counter()
    smoother(big_in, big_out)
    return (time.perf_counter() - start) * 1000 / len(big_in)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="vangogh")
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--side", type=int, default=480)
    parser.add_argument("--out", type=Path, default=Path("runs/temporal"))
    parser.add_argument("--strength", type=float, help="For every method (default: each's own).")
    parser.add_argument("--clips", nargs="*", help="Only clips whose names start so.")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    stylizer = Stylizer(args.preset, InferenceOptions(batch_size=1))
    print(f"preset {args.preset}, {args.frames} frames per clip at {args.side} px; "
          f"cost timed at 1280x720 on {torch.get_num_threads()} threads\n")  # fmt: skip
    print("The input's own warping error is the floor: flow errors, occlusions and lighting")
    print("changes the metric counts even for a perfectly steady stylization.\n")
    print("| clip | method | warping error | vs per-frame | above floor | PSNR to per-frame "
          "| ms/frame 720p |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- |")
    first = True
    for clip_name, inputs in clips(args.frames, args.side).items():
        if args.clips and not clip_name.startswith(tuple(args.clips)):
            continue
        per_frame = stylizer.stylize_frames(inputs)
        floor = measure_flicker(inputs, inputs).warping_error
        base = None
        for method in SMOOTHERS:
            out = make_smoother(method, args.strength)(inputs, per_frame)
            report = measure_flicker(inputs, out, reference=per_frame)
            base = base or report.warping_error
            ms = time_smoother(method, args.strength, inputs, per_frame)
            psnr = "-" if method == "none" else f"{report.psnr:.1f} dB"
            above = (report.warping_error - floor) / (base - floor) - 1 if base > floor else 0
            print(f"| {clip_name} | {method} | {report.warping_error:.5f} | "
                  f"{report.warping_error / base - 1:+.0%} | {above:+.0%} (floor {floor:.5f}) "
                  f"| {psnr} | {ms:.1f} |", flush=True)  # fmt: skip
            if method == "flow" and first:
                write_side_by_side(args.out / "side_by_side.mp4", inputs, per_frame, out)
                first = False


def write_side_by_side(path: Path, inputs, per_frame, smoothed) -> None:
    """input | per frame | flow, for looking at the difference."""
    h, w = inputs[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 12, (3 * w, h))
    for row in zip(inputs, per_frame, smoothed):
        writer.write(cv2.cvtColor(np.hstack(row), cv2.COLOR_RGB2BGR))
    writer.release()
    strip = np.vstack([np.hstack(r) for r in list(zip(inputs, per_frame, smoothed))[:4]])
    cv2.imwrite(str(path.with_suffix(".png")), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))


if __name__ == "__main__":
    main()
