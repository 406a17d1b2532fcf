"""`pmap`: run a function on every CPU device at once, one slice of the inputs each.

The function is traced once per argument signature to a Jaxpr with the per-device
abstract values (the mapped axis removed), optimised and made executable by the jit
machinery (`jit._Compiled`: tier 0 NumPy at once, tier 1 numba when compiled). Each call
runs that executable in one worker thread per device (`runtime/pmap_executor.py`);
collectives meet at a rendezvous between the threads (and over MPI across processes).

Composition. Called with concrete arrays, pmap runs its threads directly. Under `jit` it
is a primitive (`pmap`) whose NumPy implementation is that same parallel run, so
`jit(pmap(f))` runs in parallel too, and `pmap(jit(f))` just traces `f`. Under `grad`,
`jvp` and `vmap`, the pmap primitive is evaluated as `vmap(f, axis_name=...)` over the
same Jaxpr, which has the same values (collectives batch over the named axis): correct,
but vectorised in one thread. The idiomatic data-parallel form, `pmap(grad(loss))`, runs
on the device threads.

Difference from JAX: the result is one `jumba.Array` stacked on `out_axes` (JAX returns
an array sharded over the devices); its `.devices()` names the devices it came from, but
it lives in one buffer, and the next pmap slices it again at no cost.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import numpy as np

from jumba._src import core
from jumba._src.api import (
    _flatten_axes,
    _fun_name,
    _leaf_names,
    _mapped_size,
    _normalize_axis,
)
from jumba._src.config import trace_context
from jumba._src.core import Array, Primitive, ShapedArray, Tracer, get_aval
from jumba._src.interpreters import ad, batching
from jumba._src.interpreters import partial_eval as pe
from jumba._src.runtime import devices as dev
from jumba._src.runtime import mpi
from jumba._src.runtime import pmap_executor as px
from jumba._src.tree_util import tree_flatten, tree_structure, tree_unflatten


class _Program:
    """One traced per-device program and its executable (identity-compared params)."""

    __slots__ = ("closed", "compiled", "out_tree", "out_axes", "name", "__weakref__")

    def __init__(self, closed, out_tree, out_axes, name):
        from jumba._src.compiler import passes
        from jumba._src.jit import _Compiled

        self.closed = closed
        self.out_tree = out_tree
        self.out_axes = out_axes
        self.name = name
        self.compiled = _Compiled(passes.optimize(closed), out_tree, name)

    def __repr__(self):
        return f"<pmap program {self.name}>"


# ---------------------------------------------------------------------------------------
# The pmap primitive


pmap_p = Primitive("pmap", multiple_results=True)


def _out_aval(aval, axis, size):
    if axis is None:
        return aval
    shape = list(aval.shape)
    shape.insert(axis, size)
    return ShapedArray(tuple(shape), aval.dtype, aval.weak_type)


@pmap_p.def_abstract_eval
def _pmap_abstract_eval(*avals, program, in_axes, axis_name, axis_size, devices):
    return [_out_aval(a, d, axis_size)
            for a, d in zip(program.closed.out_avals, program.out_axes)]


pmap_p.weak_type_rule = lambda *w, program, **params: [
    a.weak_type for a in program.closed.out_avals]


def _slice(v, axis, i):
    if axis is None:
        return v
    if axis == 0:
        return v[i]
    return np.take(v, i, axis=axis)


def _pmap_impl(*vals, program, in_axes, axis_name, axis_size, devices):
    if px.in_device_thread():
        # A pmap inside a device's program: the device threads are busy, so the inner
        # map runs vectorised in this thread (same values).
        outs = _emulate(program, [Array(np.asarray(v)) for v in vals], in_axes, axis_name,
                        axis_size)
        return [np.asarray(o) for o in outs]
    comm = mpi.communicator()
    offset = mpi.process_index() * axis_size if comm is not None else 0
    global_size = axis_size * (mpi.process_count() if comm is not None else 1)
    vals = [np.asarray(v) for v in vals]
    per_device = [[_slice(v, a, i) for v, a in zip(vals, in_axes)]
                  for i in range(axis_size)]
    exe = program.compiled.executable
    results = px.run_on_devices(lambda *xs: exe(list(xs)), per_device, axis_name,
                                global_size, offset, comm)
    outs = []
    for k, a in enumerate(program.out_axes):
        parts = [np.asarray(r[k]) for r in results]
        outs.append(parts[0] if a is None else np.stack(parts, axis=a))
    return outs


pmap_p.def_impl(_pmap_impl)


def _emulate(program, args, in_axes, axis_name, axis_size):
    """The pmapped program as `vmap(f, axis_name=...)`: same values, one thread."""
    if mpi.communicator() is not None:
        raise NotImplementedError(
            "pmap under grad/jvp/vmap (or nested pmap) runs vectorised in one process and "
            "cannot reach the other MPI processes; differentiate inside the pmap instead "
            "(pmap(grad(loss)) with a pmean of the gradients).")
    closed = program.closed

    def per_device(*xs):
        return core.eval_jaxpr(closed.jaxpr, closed.consts, *xs)

    outs, dims = batching.batch_flat(per_device, list(args), list(in_axes), axis_size,
                                     axis_name, program.name)
    result = []
    for o, d, a in zip(outs, dims, program.out_axes):
        if a is None:
            result.append(o if d is None else batching.moveaxis(o, d, 0)[0])
        else:
            result.append(batching.matchaxis(o, d, a, axis_size))
    return result


def _pmap_jvp(primals, tangents, *, program, in_axes, axis_name, axis_size, devices):
    def f(*xs):
        return _emulate(program, xs, in_axes, axis_name, axis_size)

    return ad.jvp_flat(f, list(primals), list(tangents), instantiate=False)


def _pmap_batch(size, vals, dims, *, program, in_axes, axis_name, axis_size, devices):
    def f(*xs):
        return _emulate(program, xs, in_axes, axis_name, axis_size)

    return batching.batch_flat(f, list(vals), list(dims), size)


ad.primitive_jvps[pmap_p] = _pmap_jvp
batching.primitive_batchers[pmap_p] = _pmap_batch


# ---------------------------------------------------------------------------------------
# The public transformation


class _PmapFunction:
    def __init__(self, fun, axis_name, in_axes, out_axes, static_broadcasted_argnums,
                 devices, axis_size):
        functools.update_wrapper(self, fun)
        self._fun = fun
        self._name = _fun_name(fun)
        self._axis_name = axis_name
        if isinstance(in_axes, list):
            in_axes = tuple(in_axes)
        self._in_axes = in_axes
        self._out_axes = out_axes
        static = static_broadcasted_argnums
        self._static = (static,) if isinstance(static, int) else tuple(static)
        self._devices = None if devices is None else tuple(devices)
        self._axis_size = axis_size
        self._cache: dict = {}

    def __call__(self, *args, **kwargs):
        name = self._name
        static = tuple(i % len(args) for i in self._static if -len(args) <= i < len(args))
        dyn = tuple(a for i, a in enumerate(args) if i not in static)
        static_vals = tuple((i, args[i]) for i in static)
        in_axes = self._in_axes
        if isinstance(in_axes, tuple):
            if len(in_axes) == len(args) and static:
                in_axes = tuple(a for i, a in enumerate(in_axes) if i not in static)
            if len(in_axes) != len(dyn):
                raise ValueError(
                    f"pmap({name}) in_axes must be an int, None, or a tuple with one entry "
                    f"per positional argument, but got len(in_axes)={len(in_axes)} for "
                    f"{len(dyn)} (non-static) positional arguments.")
        flat, in_tree = tree_flatten((dyn, kwargs))
        axes = _flatten_axes(f"pmap({name}) in_axes", tree_structure(dyn), in_axes)
        axes += [0] * (len(flat) - len(axes))  # keyword arguments are mapped at 0
        size = self._size(flat, axes, args, static, kwargs)
        axes = tuple(None if a is None else _normalize_axis(a, get_aval(x).ndim)
                     for x, a in zip(flat, axes))
        self._check_size(size)
        avals = []
        for x, a in zip(flat, axes):
            aval = get_aval(x)
            if a is not None:
                aval = aval.update(shape=aval.shape[:a] + aval.shape[a + 1:])
            avals.append(aval)
        try:
            key = (in_tree, tuple(avals), axes, static_vals, size, trace_context())
            program = self._cache.get(key)
        except TypeError:
            raise ValueError(f"pmap({name}): static_broadcasted_argnums arguments must be "
                             "hashable (pass a tuple instead of a list).") from None
        if program is None:
            program = self._cache[key] = self._trace(args, static, in_tree, avals, size)
        params = dict(program=program, in_axes=axes, axis_name=self._axis_name,
                      axis_size=size, devices=self._devices)
        if core._state.eval_only and not any(isinstance(x, Tracer) for x in flat):
            outs = _pmap_impl(*[core.to_numpy(x) for x in flat], **params)
            weak = pmap_p.weak_type_rule(**params)
            placed = tuple(self._devices or dev.local_devices()[:size])
            arrays = []
            for o, w, a in zip(outs, weak, program.out_axes):
                arr = Array(o, w)
                arr._device = placed if a is not None else placed[0]
                arrays.append(arr)
            return tree_unflatten(program.out_tree, arrays)
        outs = pmap_p.bind(*flat, **params)
        return tree_unflatten(program.out_tree, outs)

    def _size(self, flat, axes, args, static, kwargs):
        sizes = set()
        for x, a in zip(flat, axes):
            if a is not None:
                shape = x.shape if type(x) is Array else None
                if shape is None or not -len(shape) <= a < len(shape):
                    sizes = None  # let the shared checks explain (or handle) it
                    break
                sizes.add(shape[a])
        if sizes and len(sizes) == 1 and self._axis_size in (None, *sizes):
            return sizes.pop()
        # Static arguments become None (no leaves) so that leaf names line up.
        named = tuple(None if i in static else a for i, a in enumerate(args))
        try:
            return _mapped_size(self._name, flat, axes, self._axis_size,
                                lambda: _leaf_names(self._fun, named, kwargs),
                                len(flat) - len(tree_flatten(kwargs)[0]))
        except ValueError as e:  # the shared checks speak of vmap
            raise ValueError(str(e).replace(f"vmap({self._name})",
                                            f"pmap({self._name})")) from None

    def _check_size(self, size):
        if self._devices is not None:
            if size != len(self._devices):
                raise ValueError(
                    f"pmap({self._name}) got devices={list(self._devices)} ({len(self._devices)}"
                    f" devices) but the mapped axis has size {size}; they must be equal.")
            return
        n = dev.local_device_count()
        if size > n:
            raise ValueError(
                f"pmap({self._name}): the mapped axis has size {size}, but this process has "
                f"only {n} CPU device(s). Each device is a worker thread: set "
                f"JUMBA_NUM_CPU_DEVICES={size} (or XLA_FLAGS=--xla_force_host_platform_"
                f"device_count={size}) before importing jumba, or reshape the input so its "
                f"leading axis is at most {n} (e.g. x.reshape({n}, -1, ...)).")

    def _trace(self, args, static, in_tree, avals, size):
        store = {}

        def flat_fun(*xs):
            dyn, kw = tree_unflatten(in_tree, xs)
            it = iter(dyn)
            full = [args[i] if i in static else next(it) for i in range(len(args))]
            leaves, store["tree"] = tree_flatten(self._fun(*full, **kw))
            for o in leaves:
                if not core.is_valid_operand(o):
                    raise TypeError(f"pmap({self._name}) returned a value of type "
                                    f"{type(o).__name__}; pmapped functions must return "
                                    "arrays, scalars or pytrees of them.")
            return leaves

        global_size = size * mpi.process_count()
        with px.extend_axis_env(self._axis_name, global_size):
            closed = pe.trace_to_jaxpr(flat_fun, avals, fun_name=self._name, kind="pmap")
        out_tree = store["tree"]
        out_axes = _flatten_axes(f"pmap({self._name}) out_axes", out_tree, self._out_axes)
        out_axes = tuple(None if a is None else _normalize_axis(a, aval.ndim + 1)
                         for a, aval in zip(out_axes, closed.out_avals))
        return _Program(closed, out_tree, out_axes, self._name)

    def __repr__(self):
        return f"<pmapped function {self._name}>"


def pmap(fun: Callable | None = None, axis_name=None, *, in_axes=0, out_axes=0,
         static_broadcasted_argnums: int | Sequence[int] = (), devices=None, backend=None,
         axis_size: int | None = None, donate_argnums: int | Sequence[int] = (),
         global_arg_shapes=None) -> Callable:
    """Map `fun` over the leading (or `in_axes`) axis of its arguments, one CPU device
    (worker thread) per element, in parallel (as `jax.pmap`).

    Args:
      fun: a function of arrays (pytrees of arrays); it may use collectives
        (`jumba.lax.psum`, ...) over `axis_name`.
      axis_name: the name collectives use for the mapped axis.
      in_axes: which axis of each argument is mapped (int, None, or a pytree prefix).
      out_axes: where the mapped axis goes in each output.
      static_broadcasted_argnums: positional arguments passed as Python values to every
        device (hashable; each new value retraces).
      devices: the devices to run on (their number must equal the mapped size).
      axis_size: the mapped size when no argument is mapped.
      donate_argnums: accepted for compatibility (buffers are never reused).

    Returns:
      A function returning the per-device results stacked on `out_axes`: one
      `jumba.Array` (JAX returns an array sharded over the devices).

    Examples:
      >>> import jumba as jb, jumba.numpy as jnp
      >>> f = jb.pmap(lambda x: jb.lax.psum(x, "i"), axis_name="i")
      >>> f(jnp.arange(1.0)).tolist()
      [0.0]
    """
    if fun is None:
        return functools.partial(pmap, axis_name=axis_name, in_axes=in_axes,
                                 out_axes=out_axes,
                                 static_broadcasted_argnums=static_broadcasted_argnums,
                                 devices=devices, backend=backend, axis_size=axis_size,
                                 donate_argnums=donate_argnums)
    if not callable(fun):
        raise TypeError(f"pmap expects a callable, got {type(fun).__name__}")
    dev._check_backend(backend)
    return _PmapFunction(fun, axis_name, in_axes, out_axes, static_broadcasted_argnums,
                         devices, axis_size)


# ---------------------------------------------------------------------------------------
# Placement


def _check_device(d, what):
    if not isinstance(d, dev.CpuDevice):
        raise TypeError(f"{what}: expected a device from jumba.devices(), got {d!r}")
    if d.process_index != mpi.process_index():
        raise ValueError(f"{what}: {d} belongs to process {d.process_index}; only this "
                         f"process's devices (jumba.local_devices()) can hold its arrays.")
    if d not in dev.local_devices():
        raise ValueError(f"{what}: {d} is not one of this process's devices "
                         f"{dev.local_devices()}.")


def device_put(x, device=None, *, src=None, donate=False, may_alias=None):
    """Place the arrays of the pytree `x` on `device` (default: device 0). NumPy values and
    Python scalars become `jumba.Array`s that report their device (`.devices()`)."""
    from jumba._src.tree_util import tree_map

    if device is not None and not isinstance(device, dev.CpuDevice):
        if hasattr(device, "device_set") or hasattr(device, "addressable_devices"):
            raise NotImplementedError("device_put with a Sharding is not supported; pass a "
                                      "device, or use jumba.device_put_sharded.")
        _check_device(device, "device_put")
    elif device is not None:
        _check_device(device, "device_put")

    def put(v):
        if isinstance(v, Tracer):
            return v
        arr = core.to_array(v) if type(v) is not Array else Array(v._value, v.weak_type)
        if device is not None:
            arr._device = device
        return arr

    return tree_map(put, x)


def device_put_sharded(shards: Sequence, devices: Sequence):
    """Stack `shards` (pytrees of equal structure) on a new leading axis, one per device."""
    from jumba._src.tree_util import tree_map

    if len(shards) != len(devices):
        raise ValueError(f"device_put_sharded: {len(shards)} shards for {len(devices)} "
                         "devices; pass one shard per device.")
    for d in devices:
        _check_device(d, "device_put_sharded")
    placed = tuple(devices)

    def stack(*leaves):
        arr = Array(np.stack([core.to_numpy(v) for v in leaves]),
                    all(getattr(v, "weak_type", False) for v in leaves))
        arr._device = placed
        return arr

    return tree_map(stack, shards[0], *shards[1:])


def device_put_replicated(x, devices: Sequence):
    """Copy `x` (a pytree) to each device: a new leading axis of size `len(devices)`."""
    return device_put_sharded([x] * len(devices), devices)
