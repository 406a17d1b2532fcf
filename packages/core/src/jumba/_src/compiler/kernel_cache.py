"""The kernel cache: kernel sources as files named by their hash, compiled by numba with
its disk cache, loaded once per process.

Layout: `$JUMBA_CACHE_DIR/kernels/k_<hash>.py` (default `~/.cache/jumba`), numba's cache in
the `__pycache__` beside them. A file is written atomically (temporary file, fsync,
rename), so a crash never leaves half a kernel. A file whose text does not match its name
is damaged: it is rewritten with one warning; so is a damaged numba cache entry. An
unwritable cache directory falls back to a private temporary directory, also with one
warning. This is the only module (with its callers in the compiler) that imports numba.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import threading
import warnings
from pathlib import Path

from jumba._src.atomic_file import atomic_write

_lock = threading.Lock()
_loaded: dict[str, object] = {}  # hash -> numba dispatcher
_key_locks: dict[str, threading.Lock] = {}
_fallback_dir: Path | None = None
_warned: set[str] = set()


class JumbaCacheWarning(UserWarning):
    pass


def cache_dir() -> Path:
    return Path(os.environ.get("JUMBA_CACHE_DIR") or Path.home() / ".cache" / "jumba")


def kernel_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:20]


def _warn_once(key: str, message: str):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, JumbaCacheWarning, stacklevel=3)


def _kernel_dir() -> Path:
    global _fallback_dir
    if _fallback_dir is not None:
        return _fallback_dir
    d = cache_dir() / "kernels"
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / f".probe-{os.getpid()}-{threading.get_ident()}"
        probe.write_text("")
        probe.unlink()
        return d
    except OSError as e:
        _fallback_dir = Path(tempfile.mkdtemp(prefix="jumba-kernels-"))
        _warn_once("readonly", f"Jumba's kernel cache {d} is not writable ({e}); kernels are "
                   f"compiled into {_fallback_dir} for this process only. Set JUMBA_CACHE_DIR "
                   "to a writable directory to keep them across runs.")
        return _fallback_dir


def _atomic_write(path: Path, text: str):
    with atomic_write(path, "w") as f:
        f.write(text)


def _ensure_file(source: str, h: str) -> Path:
    d = _kernel_dir()
    path = d / f"k_{h}.py"
    try:
        existing = path.read_text()
    except OSError:
        existing = None
    if existing != source:
        if existing is not None:
            _warn_once("damaged", f"Jumba's kernel cache file {path} was damaged or "
                       "stale; it has been rewritten and will be recompiled (further damaged "
                       "files are repaired silently).")
        try:
            _atomic_write(path, source)
        except OSError as e:  # the directory became unwritable (or the disk is full)
            global _fallback_dir
            _fallback_dir = Path(tempfile.mkdtemp(prefix="jumba-kernels-"))
            _warn_once("readonly", f"Jumba's kernel cache {d} is not writable ({e}); kernels "
                       f"are compiled into {_fallback_dir} for this process only. Set "
                       "JUMBA_CACHE_DIR to a writable directory to keep them across runs.")
            path = _fallback_dir / path.name
            _atomic_write(path, source)
    return path


def _guard_numba_cache(dispatcher, path: Path):
    """Make a damaged numba cache entry (its index and data are pickles numba wrote) a cache
    miss: delete the entry, warn once, and let numba recompile and rewrite it."""
    cache = getattr(dispatcher, "_cache", None)
    load = getattr(cache, "load_overload", None)
    if load is None:
        return

    def load_overload(sig, target_context):
        try:
            return load(sig, target_context)
        except Exception as e:
            for f in (path.parent / "__pycache__").glob(f"{path.stem}.*"):
                try:
                    f.unlink()
                except OSError:
                    pass
            _warn_once("numba-damaged", f"numba's cache of Jumba kernel {path.name} was "
                       f"damaged ({type(e).__name__}: {e}); it has been deleted and the "
                       "kernel recompiled (further damaged entries are repaired silently).")
            return None

    cache.load_overload = load_overload


def is_cached(source: str) -> bool:
    """Was `source` compiled before (in this process, or into numba's disk cache)? Then
    loading it costs milliseconds, not a compilation."""
    h = kernel_hash(source)
    if h in _loaded:
        return True
    try:
        return any((_kernel_dir() / "__pycache__").glob(f"k_{h}.*.nbi"))
    except OSError:
        return False


def load_kernel(source: str):
    """The numba dispatcher for `source`, loading or compiling it once per process."""
    h = kernel_hash(source)
    k = _loaded.get(h)
    if k is not None:
        return k
    with _lock:
        key_lock = _key_locks.setdefault(h, threading.Lock())
    with key_lock:
        k = _loaded.get(h)
        if k is not None:
            return k
        k = _import(source, h)
        _loaded[h] = k
        return k


def _import(source: str, h: str):
    path = _ensure_file(source, h)
    name = f"jumba_kernels.k_{h}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # numba's cache needs the module importable by name
    try:
        spec.loader.exec_module(module)
    except Exception:
        # A damaged file that still matched by name cannot happen; anything else is a bug
        # in code generation: let it surface.
        del sys.modules[name]
        raise
    _guard_numba_cache(module.kernel, path)
    return module.kernel


def clear():
    """Forget loaded kernels and delete the disk cache."""
    import shutil

    with _lock:
        _loaded.clear()
    d = cache_dir() / "kernels"
    shutil.rmtree(d, ignore_errors=True)
