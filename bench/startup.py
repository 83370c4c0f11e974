"""Start-up and small-frame speed: what a CPU user waits for, measured side by side in one run.

    .venv/bin/python bench/startup.py [--runs 5] [--skip startup photo video small]

Prints markdown tables (min and median of ``--runs`` interleaved runs, whole processes):

- the machine: CPU, whether bf16 is native (AVX512-BF16 or AMX; elsewhere fp32 is the path),
  and the conv peak of each precision: PyTorch's (oneDNN) and ONNX Runtime's float32 one, the
  best GFLOP/s a 3x3 convolution reaches here;
- start-up: ``stylize --help``, ``--version``, ``--list-presets``;
- one 1280x720 photo, ``stylize one.png -p P -o out.png`` at defaults (which backend ran is
  printed), against a bare script that loads ONNX Runtime and the same graph, reads, resizes,
  runs and writes (the floor of any ONNX Runtime app with this model) and against the 0.63 s
  issue 32 measured for a small ONNX Runtime style app on this kind of machine;
- 24 frames at 720p and 1080p (cockatoo.mp4), ``stylize clip.mp4 -p P -o out.mp4`` at defaults;
- ``vangogh-fast`` at its working size (683x384) in the model alone: ms a frame, GFLOP/s and the
  share of the peak of the precision it ran in, for the graph (float32) and PyTorch (fp32, and
  bf16 where native); and the same frames as a video through ``stylize --benchmark``: how much
  of a frame's wall time decoding and encoding take.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from backends import DATA, real_frames
from fast import conv_peak

from stylizer.backends.eager import EagerBackend
from stylizer.device import cpu_has_fast_bf16
from stylizer.graph import GraphBackend, open_session
from stylizer.media.encode import write_frames
from stylizer.models import frame_flops
from stylizer.options import VideoOptions
from stylizer.styles.presets import installed_preset
from stylizer.styles.weights import load_weights

STYLIZE = str(Path(sys.executable).with_name("stylize"))
#: Issue 32's figure for the other app on one 1280x720 photo, 2 Zen 4 cores.
OTHER_APP_S = 0.63
PRESETS = ("vangogh-fast", "vangogh")

BARE_ORT = """
import sys, cv2, numpy as np, onnxruntime as ort
graph, src, dst = sys.argv[1:]
session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
image = cv2.resize(cv2.imread(src)[:, :, ::-1], (684, 384), interpolation=cv2.INTER_AREA)
x = image.transpose(2, 0, 1)[None].astype(np.float32) / 127.5 - 1
y = session.run(None, {"x": x})[0][0].transpose(1, 2, 0)
out = cv2.resize(np.clip((y + 1) * 127.5, 0, 255).astype(np.uint8), (1280, 720))
cv2.imwrite(dst, out[:, :, ::-1])
"""


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr.strip()[-400:]}")
    return seconds, done.stderr


def interleaved(cases: dict[str, list[str]], runs: int) -> dict[str, list[float]]:
    """Each case ``runs`` times, one run of each in turn (so drift hits all alike)."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(runs):
        for name, command in cases.items():
            times[name].append(timed(command)[0])
    return times


def path_taken(command: list[str]) -> str:
    """Which backend and precision ``stylize`` took for ``command`` (its ``--json`` report)."""
    done = subprocess.run([*command, "--json", "-"], capture_output=True, text=True, check=True)
    record = json.loads(done.stdout.splitlines()[0])
    return f"{record['backend']} {record['precision']}"


def row(name: str, seconds: list[float], *extra: str) -> str:
    return (
        " | ".join(
            [f"| {name}", f"{min(seconds):.2f}", f"{statistics.median(seconds):.2f}", *extra]
        )
        + " |"
    )


def ort_conv_peak(folder: Path) -> float:
    """Best GFLOP/s of a 3x3 float32 convolution in ONNX Runtime here, over two shapes."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    best = 0.0
    for channels, h, w in ((128, 180, 320), (64, 360, 640)):
        weight = np.random.default_rng(0).standard_normal((channels, channels, 3, 3), np.float32)
        node = helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])
        graph = helper.make_graph(
            [node],
            "conv",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, h, w])],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, channels, h, w])],
            [numpy_helper.from_array(weight, "w")],
        )
        path = folder / f"conv{channels}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
        session = open_session(path)
        x = np.random.default_rng(1).standard_normal((1, channels, h, w), np.float32)
        session.run(None, {"x": x})
        start = time.perf_counter()
        for _ in range(5):
            session.run(None, {"x": x})
        best = max(
            best, 2 * channels * channels * 9 * h * w * 5 / (time.perf_counter() - start) / 1e9
        )
    return best


def machine(tmp: Path) -> dict[str, float]:
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    name = next(
        (ln.split(":", 1)[1].strip() for ln in flags.splitlines() if "model name" in ln), "?"
    )
    isa = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_tile") if f" {f}" in flags]
    peaks = {"ort fp32": ort_conv_peak(tmp), "torch fp32": conv_peak("fp32")}
    if cpu_has_fast_bf16():
        peaks["torch bf16"] = conv_peak("bf16")
    print(f"Machine: {name}, {torch.get_num_threads()} threads, {' '.join(isa)}; bf16 "
          f"{'native' if cpu_has_fast_bf16() else 'not native: fp32 is the path'}; bytecode "
          f"cache {'off (PYTHONDONTWRITEBYTECODE)' if sys.dont_write_bytecode else 'on'}")  # fmt: skip
    print("Conv peaks (3x3): " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in peaks.items()) + "\n")
    return peaks


def startup(runs: int) -> None:
    cases = {f"stylize {a}": [STYLIZE, a] for a in ("--help", "--version", "--list-presets")}
    print("| start-up | min s | median s |\n| --- | --- | --- |")
    for name, seconds in interleaved(cases, runs).items():
        print(row(name, seconds))
    print()


def photo(runs: int, tmp: Path) -> None:
    src = tmp / "one.png"
    image = cv2.imread(str(DATA / "samples" / "astronaut.png"))
    cv2.imwrite(str(src), cv2.resize(image, (1280, 720), interpolation=cv2.INTER_AREA))
    graph = installed_preset("vangogh-fast").graph  # type: ignore[union-attr]
    cases = {
        p: [STYLIZE, str(src), "-p", p, "-o", str(tmp / f"{p}.png"), "--overwrite"] for p in PRESETS
    }
    cases["bare ORT script, vangogh-fast's graph"] = [
        sys.executable, "-c", BARE_ORT, str(graph), str(src), str(tmp / "bare.png")
    ]  # fmt: skip
    print("| one 1280x720 photo | min s | median s | x other app (0.63 s) | path |")
    print("| --- | --- | --- | --- | --- |")
    for name, seconds in interleaved(cases, runs).items():
        path = path_taken(cases[name]) if name in PRESETS else "ONNX Runtime fp32"
        print(row(name, seconds, f"{min(seconds) / OTHER_APP_S:.2f}", path))
    print()


def video(runs: int, tmp: Path) -> None:
    cases = {}
    for w, h in ((1280, 720), (1920, 1080)):
        clip = tmp / f"clip{h}.mp4"
        write_frames(clip, iter(real_frames(24, (w, h))), 24, VideoOptions(crf=18))
        for p in PRESETS:
            out = tmp / f"{p}{h}.mp4"
            cases[f"{p}, 24 frames {w}x{h}"] = [STYLIZE, str(clip), "-p", p, "-o", str(out)]
    print("| whole process | min s | median s | path |\n| --- | --- | --- | --- |")
    for name, seconds in interleaved(
        {k: [*c, "--overwrite"] for k, c in cases.items()}, runs
    ).items():
        print(row(name, seconds, path_taken([*cases[name], "--overwrite"])))
    print()


def small(peaks: dict[str, float], runs: int, tmp: Path) -> None:
    preset = installed_preset("vangogh-fast")
    assert preset is not None and preset.graph is not None and preset.spec is not None
    gflop = frame_flops(preset.spec, 683, 384) / 1e9
    frame = real_frames(1, (683, 384))[0][None]
    engines = {"ort fp32": GraphBackend(preset.graph, fallback=lambda: None)}  # type: ignore[arg-type,return-value]
    for precision in ("fp32", "bf16") if "torch bf16" in peaks else ("fp32",):
        model = load_weights(preset.weights, preset.spec)  # one each: .to() converts in place
        engine = EagerBackend(model, torch.device("cpu"), precision=precision)
        engines[f"torch {precision}"] = engine  # type: ignore[assignment]
    print(f"vangogh-fast at 683x384, model only ({gflop:.1f} GFLOP a frame):\n")
    print(
        "| engine | ms/frame min | median | GFLOP/s | of its peak |\n| --- | --- | --- | --- | --- |"
    )
    for name, engine in engines.items():
        engine.stylize_array(frame)
        times = []
        for _ in range(max(runs, 5)):
            start = time.perf_counter()
            engine.stylize_array(frame)
            times.append(time.perf_counter() - start)
        rate = gflop / min(times)
        print(f"| {name} | {min(times) * 1e3:.0f} | {statistics.median(times) * 1e3:.0f} | "
              f"{rate:.0f} | {rate / peaks[name]:.0%} |")  # fmt: skip
    clip = tmp / "small.mp4"
    write_frames(clip, iter(real_frames(48, (683, 384))), 24, VideoOptions(crf=18))
    _, log = timed([STYLIZE, str(clip), "-p", "vangogh-fast", "--benchmark"])
    line = next((ln for ln in log.splitlines() if "decode" in ln and "overall" in ln), log)
    print(f"\nThe same frames as a 48-frame video, stylize --benchmark: {line.strip()}")
    fps = {stage: float(rate) for stage, rate in re.findall(r"(\w+) ([\d.]+) fps", line)}
    if {"decode", "encode", "overall"} <= fps.keys():
        share = (1 / fps["decode"] + 1 / fps["encode"]) / (1 / fps["overall"])
        print(f"decoding and encoding take {share:.0%} of a frame's wall time\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--skip", nargs="*", default=[], choices=["startup", "photo", "video", "small"]
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        peaks = machine(tmp)
        if "startup" not in args.skip:
            startup(args.runs)
        if "photo" not in args.skip:
            photo(args.runs, tmp)
        if "video" not in args.skip:
            video(max(1, args.runs // 2), tmp)
        if "small" not in args.skip:
            small(peaks, args.runs, tmp)


if __name__ == "__main__":
    main()
