"""Compiling with `jumba.jit`: the same function, eager and jitted.

    python examples/seed/jit.py [N]     # an N x N float32 array (default 4000)
"""

import sys
import time

import numpy as np

import jumba as jb
import jumba.numpy as jnp


def cube(x):
    return x * x * x


def best_time(f, x, repeat=5):
    """Best wall-clock time of f(x) in seconds (the result is waited for)."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        jb.block_until_ready(f(x))
        times.append(time.perf_counter() - t0)
    return min(times)


n = int(sys.argv[1]) if len(sys.argv) > 1 else 4000
x = jnp.asarray(np.random.default_rng(0).standard_normal((n, n), dtype=np.float32))
cube_jit = jb.jit(cube)

t0 = time.perf_counter()
cube_jit(x).block_until_ready()  # the first call traces and compiles
print(f"x: float32[{n},{n}]; first jitted call (trace + compile + run): "
      f"{(time.perf_counter() - t0) * 1e3:.1f} ms")

tier0 = best_time(cube_jit, x)  # served by tier 0 (NumPy) while numba compiles
t0 = time.perf_counter()
lowered = cube_jit.lower(x).compile()  # wait for tier 1: one fused numba kernel
print(f"tier 1 ready after another {(time.perf_counter() - t0) * 1e3:.0f} ms "
      "(instant when the kernel is in the disk cache)")
eager, jitted = best_time(cube, x), best_time(cube_jit, x)
print(f"cube(x)      eager:           {eager * 1e3:8.1f} ms")
print(f"jit(cube)(x) tier 0 (NumPy):  {tier0 * 1e3:8.1f} ms")
print(f"jit(cube)(x) tier 1 (numba):  {jitted * 1e3:8.1f} ms")
assert np.allclose(np.asarray(cube(x)), np.asarray(cube_jit(x)))
print("eager and jitted results agree")
# What runs: the optimised program, the Python code that executes it, and the kernel.
print(lowered.as_text())
