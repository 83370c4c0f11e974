"""The built wheel is a complete tool: installed outside the checkout, it lists and runs the
shipped presets and both commands start."""

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from conftest import noise_image, write_png

from stylizer.styles.presets import BUILTIN_DIR, MANIFEST

ROOT = Path(__file__).resolve().parents[1]


def run(args: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600,
                          **kwargs)  # fmt: skip


def test_the_wheel_installs_and_runs_outside_the_checkout(tmp_path):
    source = tmp_path / "source"  # a copy: building leaves build/ and egg-info beside the code
    for part in ("stylizer", "trainer"):
        shutil.copytree(ROOT / part, source / part, ignore=shutil.ignore_patterns("__pycache__"))
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, source / part)
    r = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
             "-w", tmp_path / "dist", source])  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("stylize-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = sorted(p.parent.name for p in BUILTIN_DIR.glob(f"*/{MANIFEST}"))
    for name in shipped:
        assert f"stylizer/builtin_presets/{name}/{MANIFEST}" in names
    assert not any(n.startswith(("tests/", "bench/", "training/")) for n in names)
    assert wheel.stat().st_size < 56 * 2**20  # fp16 weights, and fp16 graphs beside them

    venv = tmp_path / "venv"
    assert run([sys.executable, "-m", "venv", venv]).returncode == 0
    python = venv / "bin" / "python"
    # The wheel's own dependencies come from this environment, not the network.
    site = run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"])
    Path(site.stdout.strip(), "dependencies.pth").write_text(sysconfig.get_paths()["purelib"])
    r = run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", wheel])
    assert r.returncode == 0, r.stderr[-3000:]

    work = tmp_path / "elsewhere"  # nothing of the checkout beside it
    write_png(work / "photo.png", noise_image(48, 64))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    where = run([python, "-c", "import stylizer; print(stylizer.__file__)"], cwd=work, env=env)
    assert where.stdout.startswith(str(venv)), where.stdout + where.stderr
    listed = run([venv / "bin" / "stylize", "--list-presets"], cwd=work, env=env)
    assert listed.returncode == 0 and all(name in listed.stdout for name in shipped)
    styled = run([venv / "bin" / "stylize", "photo.png", "--preset", "vangogh", "-q"], cwd=work,
                 env=env)  # fmt: skip
    assert styled.returncode == 0, styled.stderr
    assert (work / "photo_vangogh.png").is_file()
    helped = run([venv / "bin" / "stylize-train", "--help"], cwd=work, env=env)
    assert helped.returncode == 0 and "--unpaired" in helped.stdout


def test_importing_needs_no_gpu_library():
    """A CPU-only install (PyTorch's CPU build, no TensorRT) must import every command: the GPU
    extras load only when a GPU backend is chosen."""
    code = (
        "import sys, stylizer.cli, trainer.cli, stylizer.backends; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('tensorrt', 'torch_tensorrt', 'pycuda', 'cupy')))"
    )
    r = run([sys.executable, "-c", code], env=os.environ | {"CUDA_VISIBLE_DEVICES": ""})
    assert r.returncode == 0 and r.stdout.strip() == "[]", r.stdout + r.stderr
