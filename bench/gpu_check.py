"""The GPU check: every CUDA path of stylize, run once on a real GPU, in under 8 minutes.

    bench/gpu.sh [--out DIR] [--dry-run] [--only STEP ...]

Each step runs in a process of its own under its own timeout (a step that hangs is killed with
whatever it started), so a crash or a hang fails that step and the next one still runs. Each
prints one ``PASS``/``FAIL``/``SKIP`` line; all figures go to ``DIR/results.json`` (default
``gpu-check/``), rewritten after every step. ``--dry-run`` runs every step on the CPU at toy
sizes, to check the script's own wiring on a machine without a GPU (the suite does). Whoever
first has a GPU runs it before anything else and fixes what fails.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(ROOT / "tests"))
from conftest import write_video  # noqa: E402  (the suite's H.264 writer)


class Skip(Exception):
    """A step that cannot run here (TensorRT not installed, say): SKIP, not PASS or FAIL."""


@dataclass(frozen=True)
class Context:
    """What a step runs on: the device, toy sizes in a dry run, a scratch folder."""

    dry: bool
    work: Path

    @property
    def device(self) -> str:
        return "cpu" if self.dry else "cuda"

    def size(self, width: int, height: int) -> tuple[int, int]:
        return (64, 48) if self.dry else (width, height)


def _weights(ctx: Context) -> str:
    """A trained preset on a GPU (PSNR means something there); a tiny generator in a dry run."""
    if not ctx.dry:
        return "vangogh"
    import torch

    from stylizer.models import GeneratorSpec, build_generator

    path = ctx.work / "tiny.pth"
    if not path.exists():
        torch.manual_seed(0)
        torch.save(build_generator(GeneratorSpec("resnet", 2, ngf=8)).state_dict(), path)
    return str(path)


def _frames(ctx: Context, width: int, height: int, count: int):
    """Real frames (a sample clip) at this size, or noise when the data is not there."""
    import cv2
    import numpy as np

    w, h = ctx.size(width, height)
    clip = DATA / "videos" / "cockatoo.mp4"
    if clip.is_file():
        from stylizer.flicker import video_frames

        frames = list(itertools.islice(video_frames(clip), count))
        return [cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames]
    rng = np.random.default_rng(0)  # a smooth image panning, so smoothing has motion to follow
    base = cv2.resize(rng.integers(0, 255, (9, 16, 3), dtype=np.uint8), (w + count, h),
                      interpolation=cv2.INTER_CUBIC)  # fmt: skip
    return [np.ascontiguousarray(base[:, i : i + w]) for i in range(count)]


def _psnr(a, b) -> float:
    import numpy as np

    mse = np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * math.log10(255.0**2 / mse))


def _stylizer(ctx: Context, **options):
    from stylizer.inference import Stylizer
    from stylizer.options import InferenceOptions, StyleOptions

    # At each frame's own size: the figures are per 720p/1080p frame, not at the working size.
    return Stylizer(
        _weights(ctx), InferenceOptions(device=ctx.device, **options), StyleOptions(scale=1.0)
    )


def _timed(stylizer, frames, repeats: int = 3) -> tuple[list, float]:
    """Outputs and frames/s after one warm-up pass (compiling, building engines)."""
    import torch

    out = stylizer.stylize_frames(frames)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(repeats):
        out = stylizer.stylize_frames(frames)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return out, repeats * len(frames) / (time.perf_counter() - t0)


# --- the steps ------------------------------------------------------------------------------------


def step_versions(ctx: Context) -> dict:
    import torch

    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    try:
        import torch_tensorrt

        info["torch_tensorrt"] = torch_tensorrt.__version__
    except Exception as e:  # not installed, or built for another torch
        info["torch_tensorrt"] = f"unavailable ({type(e).__name__})"
    assert ctx.dry or info["gpu"], "no CUDA device visible"
    return info


def _pytest(ctx: Context, marker: str) -> dict:
    """The tests of ``marker`` (collected only, in a dry run); the failing ones by name."""
    args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-m", marker]
    r = subprocess.run(
        args + ["--collect-only"] * ctx.dry, cwd=ROOT, capture_output=True, text=True
    )
    failed = [line for line in r.stdout.splitlines() if line.startswith("FAILED")]
    tail = (r.stdout.strip().splitlines() or [r.stderr[-300:]])[-1]
    assert r.returncode in (0, 5) and not failed, "\n".join(failed[:10]) or tail  # 5: none
    return {"summary": tail, "failed": failed}


def step_gpu_tests(ctx: Context) -> dict:
    return _pytest(ctx, "gpu")


def step_backends(ctx: Context) -> dict:
    """eager fp32/fp16/bf16, compile and TensorRT at 256x256 and 720p: frames/s and PSNR to fp32."""
    from stylizer.backends import backend_class

    runs = [("eager", "fp32"), ("eager", "fp16"), ("eager", "bf16"), ("compile", "fp16")]
    if backend_class("tensorrt", __import__("torch").device(ctx.device)).name == "tensorrt":
        runs.append(("tensorrt", "fp16"))
    if ctx.dry:
        runs = [("eager", "fp32"), ("eager", "bf16")]
    figures = {}
    for width, height in ((256, 256), (1280, 720)):
        frames = _frames(ctx, width, height, 4)
        reference = None
        for backend, precision in runs:
            stylizer = _stylizer(ctx, backend=backend, precision=precision, batch_size=4)
            out, fps = _timed(stylizer, frames)
            reference = reference if reference is not None else out
            psnr = min(_psnr(a, b) for a, b in zip(out, reference))
            figures[f"{width}x{height} {backend} {precision}"] = {"fps": fps, "psnr": psnr}
            if backend != "eager" or precision != "fp32":
                assert psnr > 30, f"{backend} {precision} at {width}x{height}: PSNR {psnr:.1f} dB"
    return figures


def step_jobs_in_one_run(ctx: Context) -> dict:
    """An image and two videos in one run per backend: CUDA graphs belong to one thread."""
    import cv2

    from stylizer.options import InferenceOptions, RunOptions
    from stylizer.pipeline import stylize_files

    folder = ctx.work / "jobs"
    folder.mkdir(exist_ok=True)
    frames = _frames(ctx, 320, 240, 6)
    cv2.imwrite(str(folder / "a.png"), frames[0])
    for name in ("b.mp4", "c.mp4"):
        write_video(folder / name, frames)
    import torch

    from stylizer.backends import backend_class

    figures = {}
    backends = ["eager"] if ctx.dry else ["eager", "compile"]
    if not ctx.dry and backend_class("tensorrt", torch.device("cuda")).name == "tensorrt":
        backends.append("tensorrt")
    for backend in backends:
        out = ctx.work / f"jobs-{backend}"
        summary = stylize_files([str(folder)], _weights(ctx), out, run=RunOptions(overwrite=True),
                                inference=InferenceOptions(backend=backend, device=ctx.device))  # fmt: skip
        assert not summary.failed, summary.failed
        figures[backend] = len(summary.done)
        assert len(summary.done) == 3, summary.line()
    if not ctx.dry and "tensorrt" not in backends:
        raise Skip(f"eager and compile passed ({figures}); TensorRT is not installed")
    return figures


def step_output_aliasing(ctx: Context) -> dict:
    """A compiled batch's output stays as it was after the next batch runs (CUDA graphs reuse
    their output memory)."""
    import torch

    engine = _stylizer(ctx, backend="eager" if ctx.dry else "compile", batch_size=2).backend
    x = torch.rand(2, 3, 240, 320, device=engine.device, dtype=engine.dtype) * 2 - 1
    x = x.contiguous(memory_format=torch.channels_last)
    with torch.inference_mode():
        first = engine.infer(x)  # the backend's own output, on the device
        kept = first.clone()
        engine.infer(-x)  # a CUDA graph replay reuses its output memory
    assert torch.equal(first, kept), "a batch's output changed when the next batch ran"
    return {"batches": 2}


def step_mixed_folder(ctx: Context) -> dict:
    """A folder of mixed sizes through compile: every image written, memory reserved."""
    import cv2
    import torch

    from stylizer.options import InferenceOptions, RunOptions
    from stylizer.pipeline import stylize_files

    folder = ctx.work / "mixed"
    folder.mkdir(exist_ok=True)
    for i, (w, h) in enumerate([(320, 240), (400, 300), (256, 256), (333, 177), (320, 240)]):
        cv2.imwrite(str(folder / f"{i}.png"), _frames(ctx, w, h, 1)[0])
    summary = stylize_files([str(folder)], _weights(ctx), ctx.work / "mixed-out",
                            run=RunOptions(overwrite=True),
                            inference=InferenceOptions(backend="eager" if ctx.dry else "compile",
                                                       device=ctx.device))  # fmt: skip
    assert len(summary.done) == 5 and not summary.failed, summary.line()
    reserved = torch.cuda.max_memory_reserved() if torch.cuda.is_available() else 0
    return {"written": len(summary.done), "max_reserved_mb": reserved / 2**20}


def step_tiling(ctx: Context) -> dict:
    """2048x1536 tiled against whole on the GPU, and a 16-bit PNG against the CPU's result."""
    import numpy as np

    from stylizer.images import Picture

    frame = _frames(ctx, 2048, 1536, 1)[0]
    whole = _stylizer(ctx, precision="fp32").stylize(Picture(frame)).color
    tiled = _stylizer(ctx, precision="fp32", tile=256 if not ctx.dry else 32)
    tiled_out = tiled.stylize(Picture(frame)).color
    deep = (frame.astype(np.uint16) * 257)[:512, :512]
    gpu16 = _stylizer(ctx, precision="fp32").stylize(Picture(deep)).color
    from stylizer.inference import Stylizer
    from stylizer.options import InferenceOptions, StyleOptions

    cpu = Stylizer(_weights(ctx), InferenceOptions(device="cpu", precision="fp32"),
                   StyleOptions(scale=1.0))  # fmt: skip
    cpu16 = cpu.stylize(Picture(deep)).color
    figures = {"tiled_psnr": _psnr(whole, tiled_out),
               "deep_max_diff": int(np.abs(gpu16.astype(int) - cpu16.astype(int)).max())}  # fmt: skip
    assert figures["tiled_psnr"] > 40 and figures["deep_max_diff"] <= 2 * 257, figures
    return figures


def step_out_of_memory(ctx: Context) -> dict:
    """Under a small memory fraction a large frame still comes out, through tiling."""
    import torch

    from stylizer.images import Picture

    if not ctx.dry:  # 2 GiB for the process: a 4K frame of vangogh does not fit whole
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(2 * 2**30 / total)
    stylizer = _stylizer(ctx, precision="fp16" if not ctx.dry else "fp32")
    stylizer.backend.memory_budget = 2**40  # pretend it all fits, so only the real limit says no
    frame = _frames(ctx, 3840, 2160, 1)[0]
    out = stylizer.stylize(Picture(frame)).color
    assert out.shape == frame.shape
    assert ctx.dry or stylizer.backend.memory_budget < 2**40, "the out-of-memory path never ran"
    return {"budget_after_mb": stylizer.backend.memory_budget / 2**20}


def step_video_flow(ctx: Context) -> dict:
    """A 720p clip through a file and through a pipe with flow smoothing: stage speeds, and the
    difference to the CPU smoother."""
    import io

    from stylizer.flicker import video_frames
    from stylizer.media.processors import FrameProcessor
    from stylizer.options import InferenceOptions, RunOptions, VideoOptions
    from stylizer.pipeline import stylize_files, stylize_stream, stylize_video
    from stylizer.temporal import make_smoother, smoothed

    frames = _frames(ctx, 1280, 720, 24)
    clip = write_video(ctx.work / "flow.mkv", frames)
    stylizer = _stylizer(ctx, precision="fp32")
    run = smoothed(stylizer.stylize_frames, make_smoother("flow", None, stylizer.backend.device))
    times = stylize_video(clip, ctx.work / "x.mkv", FrameProcessor(run, 4))
    on_device = InferenceOptions(device=ctx.device, precision="fp32")
    summary = stylize_files([str(clip)], _weights(ctx), ctx.work / "flow-out",
                            run=RunOptions(overwrite=True), inference=on_device)  # fmt: skip
    assert not summary.failed, summary.failed
    piped = io.BytesIO()
    count = stylize_stream(io.BytesIO(clip.read_bytes()), piped, _weights(ctx), inference=on_device,
                           video=VideoOptions(stream_format="matroska"))  # fmt: skip
    assert count == len(frames)
    cpu = smoothed(stylizer.stylize_frames, make_smoother("flow"))  # the same frames, CPU blend
    device = smoothed(stylizer.stylize_frames, make_smoother("flow", None, stylizer.backend.device))
    got = [f for i in range(0, 8, 4) for f in device(frames[i : i + 4])]
    want = [f for i in range(0, 8, 4) for f in cpu(frames[i : i + 4])]
    written = sum(1 for _ in video_frames(ctx.work / "flow-out" / "flow.mkv"))
    assert written == len(frames)
    psnr = min(map(_psnr, got, want))
    assert psnr > 40, f"the GPU smoother is {psnr:.1f} dB from the CPU one"
    return {"stages": times.report(), "smoother_psnr_to_cpu": psnr}


def step_training(ctx: Context) -> dict:
    """30 steps of pix2pix and CycleGAN in bf16, with and without --compile: steps/s, finite
    losses, and how far a split run ends from a whole one."""
    import cv2
    import torch

    from trainer.loop import train
    from trainer.settings import Settings

    pairs = ctx.work / "pairs"
    for side in ("A", "B"):
        (pairs / side).mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(_frames(ctx, 64, 64, 12)):
        cv2.imwrite(str(pairs / "A" / f"{i}.png"), frame)
        cv2.imwrite(str(pairs / "B" / f"{i}.png"), 255 - frame)
    steps = 6 if ctx.dry else 30
    figures = {}
    for task in ("pix2pix", "cyclegan"):
        for compiled in (False,) if ctx.dry else (False, True):
            base = dict(task=task, data=[str(pairs / "A"), str(pairs / "B")], ngf=16, ndf=16,
                        load_size=64, crop_size=64, workers=0, epochs=steps, decay_epochs=0,
                        steps_per_epoch=1, preview_every=10**6, checkpoint_every=10**6,
                        val_count=2, precision="fp32" if ctx.dry else "bf16", compile=compiled,
                        depth=6 if task == "pix2pix" else 3)  # fmt: skip
            name = f"{task}{'-compile' if compiled else ''}"
            train(
                Settings(**base), ctx.work / f"{name}-whole", device=ctx.device, log=lambda m: None
            )
            train(Settings(**base), ctx.work / f"{name}-split", device=ctx.device,
                  stop_after=steps // 2, log=lambda m: None)  # fmt: skip
            train(None, ctx.work / f"{name}-split", device=ctx.device, log=lambda m: None)
            records = [json.loads(x) for x in (ctx.work / f"{name}-whole" / "log.jsonl").open()]
            losses = [v for r in records if r["kind"] == "train" for k, v in r.items()
                      if k not in ("step", "kind", "epoch", "lr", "steps_per_s")]  # fmt: skip
            assert losses and all(math.isfinite(v) for v in losses), f"{name}: a loss not finite"
            rate = [r for r in records if r["kind"] == "train"][-1]["steps_per_s"]  # no set-up
            whole = torch.load(ctx.work / f"{name}-whole" / "checkpoints" / "latest.pt")
            split = torch.load(ctx.work / f"{name}-split" / "checkpoints" / "latest.pt")
            difference = max(
                (a - split["task"]["nets"][net][k]).abs().max().item()
                for net, weights in whole["task"]["nets"].items()
                for k, a in weights.items()
                if a.is_floating_point()
            )
            figures[name] = {"steps_per_s": rate, "split_resume_max_diff": difference}
    return figures


def step_fast_presets(ctx: Context) -> dict:
    """Whole-pipeline frames/s of vangogh and the fast presets on a 1080p clip on the GPU; and
    eager against ort (ONNX Runtime's CPU provider) on this machine's CPU at 720p."""
    from stylizer.inference import Stylizer
    from stylizer.options import InferenceOptions, RunOptions, StyleOptions
    from stylizer.pipeline import stylize_files

    frames = _frames(ctx, 1920, 1080, 24)
    clip = write_video(ctx.work / "fast.mp4", frames)
    presets = [_weights(ctx)] if ctx.dry else ["vangogh", "vangogh-fast", "monet-fast"]
    figures = {}
    for preset in presets:
        name = Path(preset).stem
        t0 = time.perf_counter()
        summary = stylize_files([str(clip)], preset, ctx.work / f"fast-{name}",
                                run=RunOptions(overwrite=True), style=StyleOptions(scale=1.0),
                                inference=InferenceOptions(device=ctx.device))  # fmt: skip
        assert not summary.failed, summary.failed
        figures[f"{name} 1080p fps"] = len(frames) / (time.perf_counter() - t0)
    small = _frames(ctx, 1280, 720, 2)
    for preset in presets:
        for backend in ("eager", "ort"):
            cpu = Stylizer(
                preset,
                InferenceOptions(device="cpu", backend=backend, batch_size=1, precision="fp32"),
                StyleOptions(scale=1.0),
            )
            _, fps = _timed(cpu, small, repeats=1)
            figures[f"{Path(preset).stem} 720p CPU {backend} fps"] = fps
    return figures


def step_suite(ctx: Context) -> dict:
    """The rest of the suite with the GPU visible: which tests still assume a CPU."""
    return _pytest(ctx, "not gpu")


#: name -> (step, timeout in seconds on a GPU): 8 minutes at most in all.
STEPS: dict[str, tuple[Callable[[Context], dict], int]] = {
    "versions": (step_versions, 20),
    "gpu-tests": (step_gpu_tests, 45),
    "backends": (step_backends, 75),
    "jobs-in-one-run": (step_jobs_in_one_run, 45),
    "output-aliasing": (step_output_aliasing, 20),
    "mixed-folder": (step_mixed_folder, 30),
    "tiling": (step_tiling, 25),
    "out-of-memory": (step_out_of_memory, 25),
    "video-flow": (step_video_flow, 35),
    "training": (step_training, 60),
    "fast-presets": (step_fast_presets, 30),
    "suite": (step_suite, 70),
}


def _run_one(name: str, ctx: Context, result_file: Path) -> None:
    """A step in this process: its figures, or its error, to ``result_file``."""
    t0 = time.perf_counter()
    try:
        record = {"status": "PASS", "figures": STEPS[name][0](ctx)}
    except Skip as e:
        record = {"status": "SKIP", "error": str(e)}
    except Exception as e:
        record = {"status": "FAIL", "error": f"{type(e).__name__}: {e}",
                  "traceback": traceback.format_exc()[-4000:]}  # fmt: skip
    record["seconds"] = round(time.perf_counter() - t0, 2)
    result_file.write_text(json.dumps(record, indent=2, default=str))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("gpu-check"))
    parser.add_argument("--dry-run", action="store_true", help="CPU, toy sizes: wiring only")
    parser.add_argument("--only", nargs="+", choices=list(STEPS), help="Run only these steps.")
    parser.add_argument("--step", help=argparse.SUPPRESS)  # one step, in the child process
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.out = args.out.resolve()
    if args.step:
        _run_one(args.step, Context(args.dry_run, args.work), args.out / f"{args.step}.json")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as work:
        for name in args.only or list(STEPS):
            limit = STEPS[name][1] * (3 if args.dry_run else 1)
            cmd = [sys.executable, __file__, "--step", name, "--out", str(args.out),
                   "--work", work] + (["--dry-run"] if args.dry_run else [])  # fmt: skip
            t0 = time.perf_counter()
            child = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True,
                                     env=os.environ | {"PYTHONPATH": str(ROOT)})  # fmt: skip
            try:
                _, err = child.communicate(timeout=limit)
                file = args.out / f"{name}.json"
                record = json.loads(file.read_text()) if file.is_file() else {
                    "status": "FAIL", "error": f"exit {child.returncode}: {err[-2000:]}"}  # fmt: skip
                file.unlink(missing_ok=True)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)  # the step and whatever it started
                _, err = child.communicate()
                record = {"status": "FAIL", "error": f"timed out after {limit} s",
                          "stderr": err[-2000:]}  # fmt: skip
            record.setdefault("seconds", round(time.perf_counter() - t0, 2))
            results[name] = record
            detail = record.get("error", "").splitlines()[0] if record["status"] != "PASS" else ""
            print(f"{record['status']} {name} ({record['seconds']} s){' ' + detail if detail else ''}",
                  flush=True)  # fmt: skip
            # after every step: a run cut short still leaves what it found
            (args.out / "results.json").write_text(json.dumps(results, indent=2, default=str))
    return 0 if all(r["status"] != "FAIL" for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
