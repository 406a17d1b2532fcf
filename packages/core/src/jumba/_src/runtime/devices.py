"""CPU devices. Each device is a worker thread for pmap (see `pmap_executor`); eager and jit
work runs on the caller's thread (device 0).

The number of local devices is `JUMBA_NUM_CPU_DEVICES`, else JAX's
`XLA_FLAGS=--xla_force_host_platform_device_count=N` (so JAX scripts run unchanged), else
the number of cores. After `jumba.distributed.initialize()` the global devices are
`process_count x local_device_count`, numbered process by process.
"""

from __future__ import annotations

import os

_override: int | None = None  # set_local_device_count (tests; before pmap is used)
_local_cache: tuple | None = None


class CpuDevice:
    """A CPU device: a pmap worker thread of process `process_index`."""

    platform = "cpu"
    device_kind = "cpu"

    def __init__(self, id: int, process_index: int = 0):
        self.id = id
        self.process_index = process_index

    def __repr__(self):
        return f"CpuDevice(id={self.id})"

    def __eq__(self, other):
        return isinstance(other, CpuDevice) and (self.id, self.process_index) == \
            (other.id, other.process_index)

    def __hash__(self):
        return hash(("cpu", self.id))


def _num_cpu_devices() -> int:
    if _override is not None:
        return _override
    env = os.environ.get("JUMBA_NUM_CPU_DEVICES")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"JUMBA_NUM_CPU_DEVICES={env!r} is not an integer; set it to "
                             "the number of CPU devices pmap should use, e.g. 2.") from None
    flags = os.environ.get("XLA_FLAGS", "")
    for flag in flags.split():
        if flag.startswith("--xla_force_host_platform_device_count="):
            return max(1, int(flag.split("=", 1)[1]))
    return os.cpu_count() or 1


def _process():
    from jumba._src.runtime import mpi

    return mpi.process_index(), mpi.process_count()


def local_devices(process_index: int | None = None, backend: str | None = None):
    """This process's devices (as `jax.local_devices`)."""
    global _local_cache
    _check_backend(backend)
    me, _ = _process()
    p = me if process_index is None else process_index
    if p == me and _local_cache is not None and _local_cache[0].process_index == me:
        return list(_local_cache)
    n = _num_cpu_devices()
    devs = tuple(CpuDevice(p * n + i, p) for i in range(n))
    if p == me:
        _local_cache = devs
    return list(devs)


def devices(backend: str | None = None) -> list[CpuDevice]:
    """All devices of all processes (as `jax.devices`)."""
    _check_backend(backend)
    _, count = _process()
    out = []
    for p in range(count):
        out += local_devices(p)
    return out


def _check_backend(backend):
    if backend not in (None, "cpu"):
        raise RuntimeError(f"Unknown backend {backend!r}: Jumba runs on the CPU ('cpu').")


def default_device() -> CpuDevice:
    return local_devices()[0]


def device_count(backend: str | None = None) -> int:
    """The number of devices over all processes."""
    return _num_cpu_devices() * _process()[1]


def local_device_count(backend: str | None = None) -> int:
    """The number of devices of this process."""
    return _num_cpu_devices()


def process_index(backend: str | None = None) -> int:
    """This process's index among `process_count()` (0 without jumba.distributed)."""
    return _process()[0]


def process_count(backend: str | None = None) -> int:
    """The number of processes (1 without jumba.distributed)."""
    return _process()[1]


def set_local_device_count(n: int | None):
    """Override the number of local CPU devices (None: back to the environment). Meant for
    tests and scripts that choose the device count after start-up."""
    global _override, _local_cache
    if n is not None and (not isinstance(n, int) or n < 1):
        raise ValueError(f"set_local_device_count: expected a positive int, got {n!r}")
    _override = n
    _local_cache = None
