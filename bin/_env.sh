# Sourced by the bin/ scripts: make sure .venv exists with the project installed, once.
# Re-installs only when pyproject.toml changes. All set-up output goes to stderr, so that
# commands whose stdout is data (pipes) stay clean.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.installed-$(sha1sum "$ROOT/pyproject.toml" | cut -c1-12)"
if [ ! -f "$STAMP" ]; then
    PYTHON="${PYTHON:-$(command -v python3.11 || command -v python3)}"
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
        echo "stylize: needs Python 3.10 or newer ($PYTHON is older)" >&2
        exit 1
    fi
    # PyTorch with its CUDA libraries takes about 6 GB: say so plainly instead of letting pip
    # die half-way with "No space left on device".
    FREE_GB=$(df -Pk "$ROOT" | awk 'NR == 2 { print int($4 / 1048576) }')
    if [ ! -x "$VENV/bin/python" ] && [ "${FREE_GB:-99}" -lt 7 ]; then
        echo "stylize: setting up $VENV needs about 7 GB free, only ${FREE_GB} GB is; free some space and run again" >&2
        exit 1
    fi
    echo "stylize: setting up $VENV (first run only, a few minutes)..." >&2
    { [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"; } >&2
    "$VENV/bin/python" -m pip install -q --upgrade pip >&2
    "$VENV/bin/python" -m pip install -q -e "$ROOT[dev]" >&2
    rm -f "$VENV"/.installed-*
    touch "$STAMP"
fi
