"""What would break the first time stylize meets a GPU, checked here on the CPU (``torch.cuda``
and ``torch.distributed`` patched where a test needs "a GPU is present")."""

import io
import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import make_inversion_pairs, noise_image, tiny, write_png, write_video

import stylizer.media.processors as processors
from stylizer.options import InferenceOptions, TemporalOptions
from stylizer.pipeline import Stylizer, stylize_files, stylize_stream

ROOT = Path(__file__).resolve().parents[1]


def test_all_inference_runs_on_one_thread(tmp_path, tiny_weights):
    """CUDA graphs (compile on a GPU) belong to the thread that recorded them; every video is
    decoded and stylized by threads of its own."""
    write_png(tmp_path / "in" / "a.png", noise_image(24, 32))
    for name in ("b.mp4", "c.mp4"):
        write_video(tmp_path / "in" / name, [noise_image(32, 32, seed=i) for i in range(3)])
    stylizer = Stylizer(tiny_weights, InferenceOptions(device="cpu", backend="eager"))
    threads = set()
    infer = stylizer.backend.infer

    def recording(x):
        threads.add(threading.get_ident())
        return infer(x)

    stylizer.backend.infer = recording
    summary = stylize_files([str(tmp_path / "in")], tiny_weights, tmp_path / "out",
                            stylizer=stylizer)  # fmt: skip
    assert len(summary.done) == 3 and not summary.failed
    assert len(threads) == 1 and threading.get_ident() not in threads


def test_compile_retries_single_frames_out_of_memory(tiny_weights):
    """The retry after an out-of-memory error must run frames alone, not filled up to the
    batch that failed."""
    stylizer = Stylizer(
        tiny_weights, InferenceOptions(device="cpu", backend="compile", batch_size=4)
    )
    engine = stylizer.backend
    seen = []

    def compiled(x):
        seen.append(x.shape[0])
        if x.shape[0] > 1:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return x

    engine.compiled = compiled
    frames = [noise_image(128, 128, seed=i) for i in range(4)]
    out = stylizer.stylize_frames(frames)
    assert len(out) == 4 and seen == [4, 1, 1, 1, 1]


class FakeDistributed:
    """Records how the process group is started, instead of starting one."""

    def __init__(self, monkeypatch, gpus: int) -> None:
        self.calls = []
        monkeypatch.setattr(torch.cuda, "is_available", lambda: gpus > 0)
        monkeypatch.setattr(torch.cuda, "device_count", lambda: gpus)
        monkeypatch.setattr(torch.cuda, "set_device", lambda d: self.calls.append(("set", d)))
        dist = torch.distributed
        monkeypatch.setattr(dist, "is_initialized", lambda: False)
        monkeypatch.setattr(dist, "init_process_group",
                            lambda backend, device_id=None: self.calls.append((backend, device_id)))  # fmt: skip
        monkeypatch.setattr(dist, "destroy_process_group", lambda: self.calls.append("end"))
        monkeypatch.setattr(dist, "get_rank", lambda: 1)
        monkeypatch.setattr(dist, "get_world_size", lambda: 2)


def test_process_group_follows_the_requested_device(monkeypatch):
    from stylizer import StylizeError
    from stylizer.distributed import distributed

    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    fake = FakeDistributed(monkeypatch, gpus=1)
    with distributed(torch.device("cpu")) as (rank, world, device):
        assert (rank, world, device) == (1, 2, torch.device("cpu"))
    assert fake.calls == [("gloo", None), "end"]  # a visible GPU does not mean NCCL
    fake.calls.clear()
    with (
        pytest.raises(StylizeError, match="LOCAL_RANK 1, but this machine has 1 GPU"),
        distributed(torch.device("cuda")),
    ):
        pass
    assert fake.calls == []
    monkeypatch.setenv("LOCAL_RANK", "0")
    with distributed(torch.device("cuda")) as (_, _, device):
        assert device == torch.device("cuda", 0)
    cuda0 = torch.device("cuda", 0)
    assert fake.calls == [("set", cuda0), ("nccl", cuda0), "end"]  # made current first


def test_ddp_keeps_batch_norm_buffers_per_rank(tmp_path, monkeypatch):
    from trainer.tasks import TASKS

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    torch.distributed.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}",
                                         rank=0, world_size=1)  # fmt: skip
    try:
        s = tiny("pix2pix", list(make_inversion_pairs(tmp_path))).resolve()
        task = TASKS["pix2pix"](s, torch.device("cpu"))
        wrapped = [n for n in task.nets.values() if hasattr(n, "forward_sync_buffers")]
        assert len(wrapped) == 2 and not any(n.forward_sync_buffers for n in wrapped)
    finally:
        torch.distributed.destroy_process_group()


@pytest.mark.parametrize("task_name", ["pix2pix", "cyclegan"])
def test_training_steps_leave_losses_on_the_device(tmp_path, inversion_pairs, task_name):
    """Each ``.item()`` is a host synchronisation on a GPU: a step hands back its losses as
    device tensors, and the loop reads them only on the steps it logs."""
    from torch.utils.data import DataLoader

    from trainer.loop import build_data
    from trainer.tasks import TASKS

    s = tiny(task_name, list(inversion_pairs)).resolve()
    train_set, _ = build_data(s, lambda m: None, tmp_path)
    task = TASKS[task_name](s, torch.device("cpu"))
    losses = task.train_step(next(iter(DataLoader(train_set, batch_size=1))))
    assert losses and all(torch.is_tensor(v) and v.grad_fn is None for v in losses.values())
    assert all(v.device == torch.device("cpu") and v.numel() == 1 for v in losses.values())


def test_pipes_blend_on_the_engines_device(tiny_weights, monkeypatch):
    """The smoother of a pipe is built knowing the engine's device (on a GPU it then warps and
    blends there, instead of never)."""
    built = []
    real = processors.make_smoother

    def recording(name, strength=None, device=None):
        smoother = real(name, strength, device)
        built.append(smoother.device)
        return smoother

    monkeypatch.setattr(processors, "make_smoother", recording)
    stylizer = Stylizer(tiny_weights, InferenceOptions(device="cpu"))
    stylizer.backend.device = torch.device("cuda")  # as if on a GPU: no frame goes there

    frames = b"".join(noise_image(8, 8, seed=i).tobytes() for i in range(2))
    out = io.BytesIO()
    monkeypatch.setattr(stylizer, "model_frames", lambda batch: batch)
    stylize_stream(io.BytesIO(frames), out, tiny_weights, raw="8x8", stylizer=stylizer,
                   temporal=TemporalOptions("none"))  # fmt: skip
    assert built[-1] == torch.device("cuda") and len(out.getvalue()) == len(frames)
    assert real("flow", None, torch.device("cuda")).on_device  # so flow blends on that GPU


def test_gpu_check_steps_run_dry(tmp_path):
    """Every step of the GPU check runs on the CPU at toy sizes (the wiring), and the script
    writes its PASS lines and results.json."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(ROOT / "bench"))
    ctx = gpu_check.Context(dry=True, work=tmp_path)
    for name, (step, limit) in gpu_check.STEPS.items():
        assert limit > 0
        if name not in ("gpu-tests", "suite"):  # those two run the suite itself
            assert isinstance(step(ctx), dict), name
    assert sum(limit for _, limit in gpu_check.STEPS.values()) <= 8 * 60
    r = subprocess.run([sys.executable, "bench/gpu_check.py", "--dry-run", "--out",
                        str(tmp_path / "out"), "--only", "versions"],
                       cwd=ROOT, capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert [line.split()[:2] for line in r.stdout.splitlines()] == [["PASS", "versions"]]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["versions"]["figures"]["torch"] == torch.__version__


def test_flow_is_analysed_while_the_model_runs():
    """Optical flow needs only the input frames: it runs on a thread of its own while the model
    stylizes the batch (on a GPU the model is faster than DIS flow on the host)."""
    from stylizer.temporal import make_smoother, smoothed

    smoother = make_smoother("flow")
    analysing = threading.Event()
    analyse = smoother.analyse

    def signalling(frames):
        analysing.set()
        return analyse(frames)

    smoother.analyse = signalling

    def model(frames):
        assert analysing.wait(10), "the flow waited for the model"
        return [255 - f for f in frames]

    frames = [np.roll(noise_image(48, 64, seed=1), i, axis=1) for i in range(4)]
    run = smoothed(model, smoother)
    out = run(frames)
    assert len(out) == 4 and np.array_equal(out[0], 255 - frames[0])
    assert not np.array_equal(out[3], 255 - frames[3])  # blended with the moved history
