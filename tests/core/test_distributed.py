"""jumba.distributed: collectives across processes under `mpiexec -n 2`, and the
data-parallel example on threads and on MPI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import jumba as jb
from jumba._src.runtime import mpi

ROOT = Path(__file__).resolve().parents[2]


def _env(devices=2):
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS",)}
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "packages" / "core" / "src"), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["JUMBA_NUM_CPU_DEVICES"] = str(devices)
    return env


def _mpiexec():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        pytest.skip("mpi4py is not installed (pip install 'jumba[mpi]')")
    exe = shutil.which("mpiexec") or shutil.which("mpirun")
    if exe is None:
        pytest.skip("no mpiexec on PATH (pip install mpich)")
    return exe


PROGRAM = textwrap.dedent("""
    import json
    import sys
    from pathlib import Path

    import numpy as np
    import jumba as jb, jumba.numpy as jnp
    from jumba import lax

    jb.distributed.initialize()
    p, n = jb.process_index(), jb.local_device_count()
    x = jnp.arange(n, dtype=jnp.float32) + p * n + 1  # global devices hold 1, 2, 3, 4
    world = jb.device_count()
    ring = [(k, (k + 1) % world) for k in range(world)]
    pm = lambda f: jb.pmap(f, axis_name="i")
    out = {
        "process": p, "count": jb.process_count(),
        "devices": [d.id for d in jb.devices()],
        "local": [d.id for d in jb.local_devices()],
        "psum": pm(lambda v: lax.psum(v, "i"))(x).tolist(),
        "pmean": pm(lambda v: lax.pmean(v, "i"))(x).tolist(),
        "pmax": pm(lambda v: lax.pmax(v, "i"))(x).tolist(),
        "index": pm(lambda v: lax.axis_index("i"))(x).tolist(),
        "gather": pm(lambda v: lax.all_gather(v, "i"))(x).tolist(),
        "ring": pm(lambda v: lax.ppermute(v, "i", ring))(x).tolist(),
        "scatter": pm(lambda v: lax.psum_scatter(v * jnp.arange(4.0), "i"))(x).tolist(),
        "grad": pm(jb.grad(lambda v: lax.psum(v * v, "i")))(x).tolist(),
    }
    # One file per process: the processes' stdout lines may interleave.
    Path(sys.argv[1], f"result{p}.json").write_text(json.dumps(out))
""")


def test_collectives_cross_processes_under_mpiexec(tmp_path):
    exe = _mpiexec()
    script = tmp_path / "prog.py"
    script.write_text(PROGRAM)
    proc = subprocess.run([exe, "-n", "2", sys.executable, str(script), str(tmp_path)],
                          capture_output=True, text=True, env=_env(2), timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = [json.loads((tmp_path / f"result{p}.json").read_text()) for p in (0, 1)]
    assert [r["process"] for r in results] == [0, 1]
    for p, r in enumerate(results):
        lo = 2 * p
        assert r["count"] == 2 and r["devices"] == [0, 1, 2, 3] and r["local"] == [lo, lo + 1]
        assert r["psum"] == [10.0, 10.0] and r["pmean"] == [2.5, 2.5]
        assert r["pmax"] == [4.0, 4.0] and r["index"] == [lo, lo + 1]
        assert r["gather"] == [[1.0, 2.0, 3.0, 4.0]] * 2
        assert r["ring"] == [[4.0, 1.0, 2.0, 3.0][lo], [4.0, 1.0, 2.0, 3.0][lo + 1]]
        # device g gets sum_k x_k * g
        assert r["scatter"] == [10.0 * lo, 10.0 * (lo + 1)]
        # psum transposes to psum: d/dv psum(v * v) = 2 v x (4 devices), as in JAX
        assert r["grad"] == [8.0 * (lo + 1), 8.0 * (lo + 2)]


def _run_data_parallel(cmd_prefix, steps=20):
    proc = subprocess.run([*cmd_prefix, sys.executable,
                           str(ROOT / "examples" / "data_parallel.py"), "--steps", str(steps)],
                          capture_output=True, text=True, env=_env(2), timeout=240, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_data_parallel_example_on_threads():
    out = _run_data_parallel([])
    assert "1 process(es) x 2 devices, global batch 128 (64 per device)" in out
    assert "data-parallel training reached the single-device parameters" in out


def test_data_parallel_example_under_mpiexec():
    exe = _mpiexec()
    out = _run_data_parallel([exe, "-n", "2"], steps=10)
    assert "2 process(es) x 2 devices, global batch 128 (32 per device)" in out
    assert "data-parallel training reached the single-device parameters" in out


def test_initialize_without_mpi4py_explains_how_to_install(monkeypatch):
    monkeypatch.setattr(mpi, "_comm", None)
    monkeypatch.setitem(sys.modules, "mpi4py", None)  # import mpi4py now fails
    with pytest.raises(ImportError, match=r"pip install 'jumba\[mpi\]'.*mpiexec -n 2"):
        jb.distributed.initialize()
    assert not jb.distributed.is_initialized()
    assert jb.process_count() == 1
