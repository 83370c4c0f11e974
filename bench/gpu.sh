#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py): every CUDA path once, one PASS/FAIL/SKIP line a step,
# figures in gpu-check/results.json; under 8 minutes on one H100/H200. Run it first on a GPU.
#   bench/gpu.sh              # on a machine with a GPU
#   bench/gpu.sh --dry-run    # anywhere: checks the script's own wiring on the CPU
# With the checkout's .venv it uses that; without one (a lent GPU machine, where nothing can be
# downloaded) it runs from the source tree with the python3 that holds PyTorch there, after
# installing any wheels carried in .whl/ (PyAV is the one such machines lack).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
if [ -x .venv/bin/python ]; then
    PY=.venv/bin/python
else
    PY=python3
    export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
    if compgen -G ".whl/*.whl" >/dev/null; then
        "$PY" -m pip install -q --no-deps .whl/*.whl >&2
    fi
    "$PY" -c "import av, click, cv2, safetensors, torch, tqdm" || {
        echo "gpu.sh: a dependency is missing above; carry its wheel in .whl/" >&2
        exit 1
    }
fi
exec "$PY" bench/gpu_check.py "$@"
