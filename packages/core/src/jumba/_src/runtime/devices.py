"""CPU devices. Each device is a worker thread for pmap (see the pmap issue); eager and jit
work runs on device 0."""

from __future__ import annotations

import os
from functools import cache


class CpuDevice:
    platform = "cpu"
    device_kind = "cpu"

    def __init__(self, id: int):
        self.id = id
        self.process_index = 0

    def __repr__(self):
        return f"CpuDevice(id={self.id})"


def _num_cpu_devices() -> int:
    env = os.environ.get("JUMBA_NUM_CPU_DEVICES")
    if env:
        return max(1, int(env))
    flags = os.environ.get("XLA_FLAGS", "")
    for flag in flags.split():
        if flag.startswith("--xla_force_host_platform_device_count="):
            return max(1, int(flag.split("=", 1)[1]))
    return os.cpu_count() or 1


@cache
def local_devices() -> tuple[CpuDevice, ...]:
    return tuple(CpuDevice(i) for i in range(_num_cpu_devices()))


def devices(backend: str | None = None) -> list[CpuDevice]:
    if backend not in (None, "cpu"):
        raise RuntimeError(f"Unknown backend {backend!r}: Jumba runs on the CPU ('cpu').")
    return list(local_devices())


def default_device() -> CpuDevice:
    return local_devices()[0]


def device_count() -> int:
    return len(local_devices())
