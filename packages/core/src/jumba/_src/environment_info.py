"""`jumba.print_environment_info()`: what to paste into a bug report."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import sys


def _version(dist: str) -> str:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        module = sys.modules.get(dist)
        return getattr(module, "__version__", "not installed")


def _numba_lines() -> list[str]:
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency
        return ["numba:       not importable (tier 1 compilation is unavailable)"]
    try:
        # Only known once a parallel kernel has run; before that, the configured choice.
        layer = numba.threading_layer()
    except ValueError:
        layer = f"{numba.config.THREADING_LAYER} (configured; no parallel kernel has run yet)"
    return [f"numba:       {numba.__version__}",
            f"threading layer (numba): {layer}",
            f"numba threads: {numba.config.NUMBA_NUM_THREADS}"]


def _blas_lines() -> list[str]:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return ["BLAS:        unknown (threadpoolctl not installed)"]
    libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
    if not libs:
        return ["BLAS:        none found by threadpoolctl"]
    return [f"BLAS:        {i.get('internal_api')} {i.get('version')} "
            f"({i.get('threading_layer', '?')} threading, {i.get('num_threads')} threads, "
            f"{i.get('architecture', '?')}) {i.get('filepath')}" for i in libs]


def _cache_lines() -> list[str]:
    from jumba._src.compiler import kernel_cache

    d = kernel_cache.cache_dir() / "kernels"
    if kernel_cache._fallback_dir is not None:
        state = f"not writable: this process uses {kernel_cache._fallback_dir}"
    elif d.is_dir():
        state = (f"{sum(1 for _ in d.glob('k_*.py'))} kernels, "
                 f"{'writable' if os.access(d, os.W_OK) else 'read-only'}")
    else:
        state = "not created yet"
    return [f"kernel cache: {d} ({state})"]


def environment_info() -> str:
    """The text `print_environment_info` prints."""
    import numpy as np

    import jumba
    from jumba._src.config import config

    lines = [
        f"jumba:       {jumba.__version__}",
        f"python:      {sys.version.split()[0]} ({sys.executable})",
        f"platform:    {platform.platform()}, {os.cpu_count()} CPUs",
        f"numpy:       {np.__version__}",
        f"scipy:       {_version('scipy')}",
        f"optree:      {_version('optree')}",
        *_numba_lines(),
        *_blas_lines(),
        f"devices:     {jumba.devices()} (JUMBA_NUM_CPU_DEVICES="
        f"{os.environ.get('JUMBA_NUM_CPU_DEVICES', 'unset')})",
        f"config:      jumba_compile={config.jumba_compile!r}, "
        f"jax_enable_x64={config.jax_enable_x64}, "
        f"JUMBA_BLAS_THREADS={os.environ.get('JUMBA_BLAS_THREADS', 'unset')}",
        *_cache_lines(),
    ]
    return "\n".join(lines)


def print_environment_info(return_string: bool = False) -> str | None:
    """Print the versions, devices, threading and cache settings Jumba runs with.

    Paste its output into bug reports. As `jax.print_environment_info`.

    Args:
        return_string: return the text instead of printing it.
    """
    text = environment_info()
    if return_string:
        return text
    print(text)
    return None
