"""The pmap executor: named axes, device threads and the rendezvous of collectives.

Design. A pmapped function is traced once to a Jaxpr with the per-device abstract values
and turned into an executable by the jit machinery (tier 0 NumPy, or tier 1 once
compiled). Each device is a worker thread running that same executable on its slice of
the inputs. A collective (`psum`, `all_gather`, ...) is a *rendezvous* between the device
threads: each thread deposits its operand in a slot and waits on a barrier; the last
thread to arrive combines the slots (the barrier's action) into one result per device;
every thread then takes its own result and runs on.

Why a barrier rather than splitting the program into stages at the collectives: control
flow may hold collectives (a `psum` inside a `fori_loop` body runs once per iteration,
a number known only at run time), and the executable, the loops and the branches then
run unchanged in each thread; stages would have to cut loop bodies apart. One barrier per
collective is enough: a thread can only overwrite its slot for the next collective after
it has read its result of this one, and the next combine runs only once every thread has
arrived, i.e. has read its result.

Across processes (`jumba.distributed.initialize()`), the combine first reduces or stacks
the local devices' values and then exchanges them over MPI (allreduce for reductions,
allgather otherwise), so a collective spans the global devices.

The *axis environment* is a per-thread stack of named axes: `vmap(..., axis_name=)` and
the tracing of a pmapped function push one (so that collectives know their axis' size),
and each device thread holds the binding of its pmap axis to the rendezvous and its index.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np


class AxisFrame(NamedTuple):
    """A named axis in scope: its size, and who maps it.

    `main` is the vmap's MainTrace (None for pmap); `device` is `(rendezvous, index)` in a
    device thread running a pmapped program (None while tracing).
    """

    name: Any
    size: int
    main: Any = None
    device: Any = None


class _AxisEnv(threading.local):
    def __init__(self):
        self.frames: list[AxisFrame] = []
        self.in_device = False  # this thread runs a pmapped program
        self.rule_axis = None  # the named vmap axis whose batching rule is running


_env = _AxisEnv()


@contextmanager
def extend_axis_env(name, size, main=None, device=None):
    """Put the named axis in scope for the enclosed block (this thread only)."""
    if name is None:
        yield
        return
    _env.frames.append(AxisFrame(name, int(size), main, device))
    try:
        yield
    finally:
        _env.frames.pop()


def lookup(name) -> AxisFrame | None:
    """The innermost frame binding `name`, or None."""
    for frame in reversed(_env.frames):
        if frame.name == name:
            return frame
    return None


def bound_names() -> list:
    return [f.name for f in _env.frames]


def in_device_thread() -> bool:
    return _env.in_device


def unbound_axis_error(name, what: str) -> NameError:
    names = bound_names()
    scope = (f"the axis names in scope are {names!r}" if names
             else "no named axis is in scope")
    return NameError(
        f"{what}: unbound axis name {name!r} ({scope}). A collective needs an enclosing "
        f"jumba.pmap(f, axis_name={name!r}) or jumba.vmap(f, axis_name={name!r}) that maps "
        "the axis it combines over.")


# ---------------------------------------------------------------------------------------
# The rendezvous


class Rendezvous:
    """Where the device threads of one pmapped call meet at each collective."""

    def __init__(self, size: int, offset: int = 0, comm=None):
        self.size = size  # local devices taking part
        self.offset = offset  # index of the first local device on the global axis
        self.comm = comm  # an mpi4py communicator spanning the processes, or None
        self.slots: list = [None] * size
        self.results: list = [None] * size
        self.combine = None
        self.barrier = threading.Barrier(size, action=self._action)

    def _action(self):
        self.results = self.combine(self.slots)

    def exchange(self, index: int, value, combine):
        """Deposit `value`; return this device's entry of `combine(all local values)`.

        Every device passes an equivalent `combine` (the same collective of the same
        program), so whichever thread arrives last may run it.
        """
        self.slots[index] = value
        self.combine = combine
        try:
            self.barrier.wait()
        except threading.BrokenBarrierError:
            raise _PeerFailed() from None
        return self.results[index]

    def abort(self):
        self.barrier.abort()


class _PeerFailed(Exception):
    """Another device thread failed: this one stops (the other's error is reported)."""


# ---------------------------------------------------------------------------------------
# Device threads


_pool: ThreadPoolExecutor | None = None
_pool_size = 0
_pool_lock = threading.Lock()


def _device_pool(n: int) -> ThreadPoolExecutor:
    global _pool, _pool_size
    with _pool_lock:
        if _pool is None or _pool_size < n:
            old = _pool
            _pool = ThreadPoolExecutor(n, thread_name_prefix="jumba-device")
            _pool_size = n
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def run_on_devices(fn, per_device_args: list, name, global_size: int, offset: int = 0,
                   comm=None) -> list:
    """Run `fn(*args_i)` for each local device i in its own thread, with the pmap axis
    `name` bound to a shared rendezvous; returns the per-device results in order.

    BLAS is held to one thread for the whole run (each device is one core's worth of work)
    and the device threads never split work over BLAS's helper threads.
    """
    from jumba._src.runtime import blas

    n = len(per_device_args)
    rv = Rendezvous(n, offset, comm)
    rv.global_size = global_size

    def work(i, args):
        was_device = _env.in_device
        _env.in_device = True
        blas.set_thread_local_single(True)
        _env.frames.append(AxisFrame(name, global_size, None, (rv, i)))
        try:
            return fn(*args)
        except BaseException:
            rv.abort()  # peers waiting at a collective stop instead of hanging
            raise
        finally:
            _env.frames.pop()
            blas.set_thread_local_single(was_device)
            _env.in_device = was_device

    with blas.pinned_single_thread():
        if n == 1:
            return [work(0, per_device_args[0])]
        # Devices 1.. run in the pool; device 0 in this thread (one thread hand-off less).
        pool = _device_pool(n - 1)
        futures = [pool.submit(work, i, a) for i, a in enumerate(per_device_args) if i]
        results, first_error = [None] * n, None
        try:
            results[0] = work(0, per_device_args[0])
        except _PeerFailed:
            pass
        except BaseException as e:  # noqa: BLE001 - re-raised below
            first_error = e
        for i, f in enumerate(futures, 1):
            try:
                results[i] = f.result()
            except _PeerFailed:
                pass
            except BaseException as e:  # noqa: BLE001 - re-raised below
                if first_error is None:
                    first_error = e
    if first_error is not None:
        raise first_error
    return results


def device_binding(axes, what: str):
    """(rendezvous, local index, global index) of this device thread for the pmap axis in
    `axes` (a tuple of names); errors for names no device thread binds."""
    binding = None
    for name in axes:
        frame = lookup(name)
        if frame is None or frame.device is None:
            if frame is not None:
                raise NotImplementedError(
                    f"{what}: axis {name!r} is mapped by vmap, but the collective reached "
                    "a device program unbatched; collectives over a vmapped axis inside "
                    "control flow are not supported yet.")
            raise unbound_axis_error(name, what)
        if binding is not None:
            raise NotImplementedError(f"{what}: a collective over two pmap axes {axes!r} "
                                      "is not supported (nested pmaps run vectorised).")
        binding = frame.device
    rv, i = binding
    return rv, i, rv.offset + i


def collective(axes, what: str, x, stacked_fn, shared: bool):
    """Run a collective in a device thread.

    `stacked_fn(X)` maps the devices' operands stacked on a new leading axis (global
    order) to one result for all devices (`shared`) or to results stacked the same way.
    """
    rv, i, _ = device_binding(axes, what)

    def combine(slots):
        X = np.stack([np.asarray(s) for s in slots])
        if rv.comm is not None:
            X = np.concatenate(rv.comm.allgather(X))
        out = np.asarray(stacked_fn(X))
        if shared:
            return [out] * rv.size
        return [out[rv.offset + k] for k in range(rv.size)]

    return rv.exchange(i, x, combine)


_MPI_OPS = {"sum": "SUM", "max": "MAX", "min": "MIN"}


def reduce_collective(axes, what: str, x, op: str):
    """psum/pmax/pmin in a device thread: combine locally, then allreduce over MPI."""
    rv, i, _ = device_binding(axes, what)
    ufunc = {"sum": np.add, "max": np.maximum, "min": np.minimum}[op]

    def combine(slots):
        out = slots[0]
        for s in slots[1:]:
            out = ufunc(out, s)
        out = np.asarray(out, np.result_type(slots[0]))
        if rv.comm is not None:
            from jumba._src.runtime import mpi

            out = mpi.allreduce(rv.comm, out, _MPI_OPS[op])
        return [out] * rv.size

    return rv.exchange(i, np.asarray(x), combine)


def axis_index(axes, what: str) -> int:
    _, _, g = device_binding(axes, what)
    return g
