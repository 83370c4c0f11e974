import numpy as np
import pytest
import torch
from conftest import write_video

from stylizer.backends import BACKENDS, backend_class, choice
from stylizer.media.formats import video_shape
from stylizer.options import InferenceOptions, RunOptions
from stylizer.pipeline import Stylizer, stylize_files


def psnr(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    mse = np.mean([((x.astype(np.float32) - y) / 255) ** 2 for x, y in zip(a, b, strict=True)])
    return float("inf") if mse == 0 else float(10 * np.log10(1 / mse))


def frames(n: int, h: int = 48, w: int = 64, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return [np.roll(base, k, axis=1) for k in range(n)]


def test_auto_and_fallback_choose_a_backend_that_runs_here():
    cpu = torch.device("cpu")
    assert backend_class("auto", cpu).name == "eager"
    assert backend_class("compile", cpu).name == "compile"
    notices = []

    class Unrunnable(BACKENDS["eager"]):
        @classmethod
        def unavailable(cls, device):
            return "needs hardware this machine lacks"

    BACKENDS["unrunnable"] = Unrunnable
    try:
        assert backend_class("unrunnable", cpu, notices.append).name == "eager"
    finally:
        del BACKENDS["unrunnable"]
    assert notices == [
        "backend unrunnable is unavailable (needs hardware this machine lacks); using eager"
    ]


def test_auto_compiles_only_when_the_job_is_long(monkeypatch, tiny_weights, tmp_path):
    cpu, notices = torch.device("cpu"), []
    limit = choice.COMPILE_PIXELS
    assert backend_class("auto", cpu, notices.append, workload=limit - 1).name == "eager"
    assert backend_class("auto", cpu, notices.append, workload=limit).name == "compile"
    assert notices == ["a long job: preparing the model first (backend compile)"]
    # On a GPU too: one image or a short clip runs eager, a long video gets TensorRT.
    for backend in ("tensorrt", "compile"):
        monkeypatch.setattr(BACKENDS[backend], "unavailable", classmethod(lambda cls, d: None))
    cuda = torch.device("cuda")
    assert backend_class("auto", cuda, workload=limit - 1).name == "eager"
    assert backend_class("auto", cuda, workload=limit).name == "tensorrt"
    monkeypatch.undo()
    # stylize_files measures its videos from their metadata, before decoding them.
    clip = write_video(tmp_path / "clip.mp4", frames(6))
    assert video_shape(clip) == (6, 48, 64)
    assert video_shape(tmp_path / "missing.mp4") == (0, 0, 0)
    monkeypatch.setattr(choice, "COMPILE_PIXELS", 6 * 48 * 64)
    logged = []
    summary = stylize_files(
        [str(clip)], tiny_weights, run=RunOptions(benchmark=True), log=logged.append
    )
    assert summary.benchmarked == [clip] and notices[0] in logged, logged
    monkeypatch.setattr(choice, "COMPILE_PIXELS", 6 * 48 * 64 + 1)
    logged.clear()
    stylize_files([str(clip)], tiny_weights, run=RunOptions(benchmark=True), log=logged.append)
    assert notices[0] not in logged


def test_compile_without_a_compiler_falls_back_with_a_notice(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CXX", raising=False)
    notices = []
    assert backend_class("compile", torch.device("cpu"), notices.append).name == "eager"
    assert len(notices) == 1 and "needs a compiler" in notices[0], notices
    fake = tmp_path / "my-c++"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    monkeypatch.setenv("CXX", str(fake))  # the variable Inductor reads
    assert backend_class("compile", torch.device("cpu")).name == "compile"


def test_bf16_on_the_cpu_stays_close_to_fp32(tiny_weights):
    clip = frames(3)
    fp32 = Stylizer(tiny_weights, InferenceOptions(device="cpu", precision="fp32")).stylize_frames(
        clip
    )
    bf16 = Stylizer(tiny_weights, InferenceOptions(device="cpu", precision="bf16"))
    assert bf16.backend.dtype == torch.bfloat16
    assert next(bf16.backend.model.parameters()).dtype == torch.bfloat16
    out = bf16.stylize_frames(clip)
    assert out[0].dtype == np.uint8 and out[0].shape == clip[0].shape
    assert 25 < psnr(out, fp32) < float("inf")  # close, but really computed in bf16


def test_compiled_backend_matches_eager_and_fills_short_batches(tiny_weights):
    clip = frames(5)  # batches of 3 and 2: the 2 is filled up to 3, not compiled again
    eager = Stylizer(
        tiny_weights,
        InferenceOptions(device="cpu", backend="eager", batch_size=3, precision="fp32"),
    )
    eager = eager.stylize_frames(clip)
    compiled = Stylizer(
        tiny_weights,
        InferenceOptions(device="cpu", backend="compile", batch_size=3, precision="fp32"),
    )
    out = compiled.stylize_frames(clip)
    assert max(np.abs(a.astype(int) - b).max() for a, b in zip(eager, out, strict=True)) <= 1
    assert compiled.backend.batch_for == {(48, 64): 3}


def test_unknown_precision_is_a_user_error(tiny_weights):
    with pytest.raises(Exception, match="unknown precision 'fp8'"):
        Stylizer(tiny_weights, InferenceOptions(precision="fp8"))


def test_cpu_batches_only_small_frames(tiny_weights):
    engine = Stylizer(
        tiny_weights, InferenceOptions(device="cpu", batch_size=8, precision="fp32")
    ).backend  # CPU cap
    assert engine.batch_size(48, 64, 8) == 8
    assert engine.batch_size(256, 256, 8) == 2
    assert engine.batch_size(720, 1280, 8) == 1
