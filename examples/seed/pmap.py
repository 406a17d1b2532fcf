"""Data-parallel random matrices with `jumba.pmap`, one CPU device (thread) per slice.

    python examples/seed/pmap.py [ROWS COLS]     # default 5000 6000

With 2 devices this prints `[1.2110119 1.2357731]`, the values JAX prints for the same
program: the keys follow JAX's default PRNG (threefry), so each device draws exactly
JAX's matrix. The device count is `JUMBA_NUM_CPU_DEVICES` (or JAX's
`XLA_FLAGS=--xla_force_host_platform_device_count=N`); this script asks for 2 when
neither is set.
"""

import os
import sys
import time

if "JUMBA_NUM_CPU_DEVICES" not in os.environ and \
        "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["JUMBA_NUM_CPU_DEVICES"] = "2"  # before jumba is imported
# Each program runs once: compile its kernels (numba, tier 1) before the first call rather
# than in the background while NumPy (tier 0) runs it.
os.environ.setdefault("JUMBA_COMPILE", "eager")

import jumba as jb  # noqa: E402
import jumba.numpy as jnp  # noqa: E402
from jumba import pmap, random  # noqa: E402

rows, cols = (int(sys.argv[1]), int(sys.argv[2])) if len(sys.argv) > 2 else (5000, 6000)
n = jb.local_device_count()
print(f"{n} devices: {jb.devices()}")

t0 = time.perf_counter()
keys = random.split(random.PRNGKey(0), n)  # one key per device
mats = pmap(lambda key: random.normal(key, (rows, cols)))(keys)  # float32[n, rows, cols]
result = pmap(lambda x: jnp.dot(x, x.T))(mats)  # each device multiplies its own matrix
means = pmap(jnp.mean)(result)
print(f"pmap: {n} x float32[{rows},{cols}] matrices, x @ x.T and mean per device in "
      f"{time.perf_counter() - t0:.1f} s")
print(means)
