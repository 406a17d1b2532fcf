#!/usr/bin/env bash
# Create (or update) the benchmark-only environment benchmarks/.venv.
#
# The peers Jumba is measured against (JAX, autograd, PyTorch CPU) live here
# and only here: they are never runtime dependencies of Jumba.
# Safe to run again: an existing venv is reused and pip skips what is present.
#
#   bash benchmarks/setup_env.sh
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/.." && pwd)"
venv="$here/.venv"
python="${PYTHON:-python3}"

if [ ! -x "$venv/bin/python" ]; then
    echo "== creating $venv"
    "$python" -m venv "$venv"
fi
pip=("$venv/bin/python" -m pip install --quiet)

echo "== peers: numpy, jax, jaxlib, autograd"
"${pip[@]}" --upgrade pip
"${pip[@]}" numpy jax jaxlib autograd

# Optax on JAX: the peer of jumba_optim (benchmarks/bench_optim.py).
echo "== peer: optax"
"${pip[@]}" optax

# The peers of the sibling packages: Flax and Haiku (jumba_nn), Equinox
# (jumba_pytree_models), RLax and Gymnasium (jumba_rl).
echo "== peers: flax, dm-haiku, equinox, rlax, gymnasium"
"${pip[@]}" flax dm-haiku equinox rlax gymnasium

# run_all.py's chart of the ratios.
echo "== matplotlib"
"${pip[@]}" matplotlib

# Only this exact version: it is the CPU wheel; any other version would pull
# a multi-GB CUDA build.
echo "== peer: torch==2.13.0 (CPU)"
if ! "${pip[@]}" torch==2.13.0; then
    echo "warning: torch==2.13.0 could not be installed; PyTorch will be skipped" >&2
fi

# Jumba itself, editable, in one pip command so the local packages resolve
# against each other. Skipped while the core package does not exist yet.
if [ -f "$repo/packages/core/pyproject.toml" ]; then
    echo "== jumba (editable)"
    (cd "$repo" && "${pip[@]}" -e packages/core -e packages/nn -e packages/optim \
        -e packages/rl -e packages/pytree_models)
else
    echo "== jumba: packages/core/pyproject.toml not found yet, skipped"
fi

echo "== installed"
"$venv/bin/python" -m pip list 2>/dev/null \
    | grep -i -E '^(numpy|jax|jaxlib|autograd|torch|optax|flax|dm-haiku|equinox|rlax|gymnasium|jumba[-_a-z]*) ' || true
echo "benchmark environment ready: $venv/bin/python"
