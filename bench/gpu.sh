#!/usr/bin/env bash
# The GPU check (bench/gpu_check.py): every CUDA path once, one PASS/FAIL line a step,
# figures in gpu-check/results.json; under 8 minutes on one H100/H200. Run it first on a GPU.
#   bench/gpu.sh              # on a machine with a GPU
#   bench/gpu.sh --dry-run    # anywhere: checks the script's own wiring on the CPU
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../bin/_env.sh"
cd "$ROOT"
exec "$VENV/bin/python" bench/gpu_check.py "$@"
