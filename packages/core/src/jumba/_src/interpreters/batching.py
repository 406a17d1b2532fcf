"""Vectorisation (vmap): each value carries the position of its batch axis, or None."""

from __future__ import annotations

from typing import Any, NamedTuple

from jumba._src import core
from jumba._src.core import Primitive, Trace, Tracer, get_aval
from jumba._src.runtime import pmap_executor

not_mapped = None

# rule(axis_size, vals, dims, **params) -> (out, out_dim) (lists for multiple results)
primitive_batchers: dict[Primitive, Any] = {}
# Collectives over named axes: their rule is rule(axis_data, vals, dims, **params), called
# even when no operand is batched (psum of an unbatched value is still a sum over the axis).
axis_primitives: set = set()


class AxisData(NamedTuple):
    size: int
    name: Any
    fun_name: str = "function"

    def describe_tracer(self, tracer) -> str:
        return f" while vmapping {self.fun_name} (batched values cannot steer Python code)"


class BatchTracer(Tracer):
    __slots__ = ("val", "batch_dim")

    def __init__(self, trace, val, batch_dim):
        self._trace = trace
        self.val = val
        self.batch_dim = batch_dim

    @property
    def aval(self):
        aval = get_aval(self.val)
        if self.batch_dim is None:
            return aval
        shape = list(aval.shape)
        del shape[self.batch_dim]
        return aval.update(shape=tuple(shape))

    def full_lower(self):
        if self.batch_dim is None:
            return core.full_lower(self.val)
        return self


class BatchTrace(Trace):
    kind = "vmap"

    @property
    def axis(self) -> AxisData:
        return self.main.global_data

    def pure(self, val):
        return BatchTracer(self, val, not_mapped)

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        vals = [t.val for t in tracers]
        dims = [t.batch_dim for t in tracers]
        if primitive in axis_primitives:
            out, out_dim = primitive_batchers[primitive](self.axis, vals, dims, **params)
            return BatchTracer(self, out, out_dim)
        if all(d is None for d in dims):
            out = primitive.bind(*vals, **params)
            if primitive.multiple_results:
                return [BatchTracer(self, o, None) for o in out]
            return BatchTracer(self, out, None)
        rule = primitive_batchers.get(primitive)
        if rule is None:
            raise NotImplementedError(f"Batching rule for '{primitive.name}' not implemented")
        axis = self.axis
        env = pmap_executor._env
        prev, env.rule_axis = env.rule_axis, (axis if axis.name is not None else None)
        try:
            # A rule that batches inner Jaxprs (loops, cond) batches them over this named
            # axis: batch_flat inherits its name, so collectives inside see it.
            out, out_dim = rule(axis.size, vals, dims, **params)
        except (ValueError, TypeError) as e:
            # Explain a failure with the shapes the user sees: per example, not batched.
            try:
                primitive.abstract_eval(*[t.aval for t in tracers], **params)
            except (ValueError, TypeError) as per_example:
                raise per_example from None
            raise e
        finally:
            env.rule_axis = prev
        if primitive.multiple_results:
            return [BatchTracer(self, o, d) for o, d in zip(out, out_dim)]
        return BatchTracer(self, out, out_dim)


def batch_flat(fun, args, in_dims, axis_size, axis_name=None, fun_name="function"):
    """Run `fun` (flat args -> flat outputs) batched; returns (outs, out_dims)."""
    env = pmap_executor._env
    inherited = env.rule_axis
    if axis_name is None and inherited is not None and inherited.size == axis_size:
        axis_name = inherited.name
    env.rule_axis = None
    try:
        return _batch_flat(fun, args, in_dims, axis_size, axis_name, fun_name)
    finally:
        env.rule_axis = inherited


def _batch_flat(fun, args, in_dims, axis_size, axis_name, fun_name):
    with core.new_main(BatchTrace, AxisData(axis_size, axis_name, fun_name)) as main, \
            pmap_executor.extend_axis_env(axis_name, axis_size, main):
        trace = main.trace = BatchTrace(main)
        tracers = [x if d is None else BatchTracer(trace, x, d) for x, d in zip(args, in_dims)]
        outs = fun(*tracers)
        outs = [trace.full_raise(o) for o in outs]
        return [o.val for o in outs], [o.batch_dim for o in outs]


# ---------------------------------------------------------------------------------------
# Helpers that move batch axes; rule shapes


def moveaxis(x, src, dst):
    from jumba._src.lax.structural import transpose

    if src == dst:
        return x
    ndim = get_aval(x).ndim
    perm = [i for i in range(ndim) if i != src]
    perm.insert(dst, src)
    return transpose(x, tuple(perm))


def bdim_at_front(x, d, size):
    """`x` with its batch axis first; unbatched values are broadcast along a new axis."""
    from jumba._src.lax.structural import broadcast_in_dim

    if d is None:
        aval = get_aval(x)
        return broadcast_in_dim(x, (size, *aval.shape), tuple(range(1, aval.ndim + 1)))
    return moveaxis(x, d, 0)


def matchaxis(x, src, dst, size):
    """Move or create the batch axis of `x` from `src` to `dst` (None: unbatched)."""
    if src == dst:
        return x
    if dst is None:
        raise ValueError("vmap: cannot unbatch a batched value (out_axes=None needs an "
                         "output that does not depend on the mapped inputs)")
    x = bdim_at_front(x, src, size)
    return moveaxis(x, 0, dst)


def defvectorized(primitive):
    """Elementwise in one operand: the batch axis just rides along."""
    def rule(size, vals, dims, **params):
        (x,), (d,) = vals, dims
        return primitive.bind(x, **params), d

    primitive_batchers[primitive] = rule


def defbroadcasting(primitive):
    """N-ary ops with NumPy broadcasting: batch axes go first; lower-rank batched operands
    get size-1 axes after the batch axis so that right-aligned broadcasting still holds."""
    def rule(size, vals, dims, **params):
        from jumba._src.lax.structural import reshape

        ranks = [get_aval(v).ndim - (d is not None) for v, d in zip(vals, dims)]
        out_rank = max(ranks)
        args = []
        for v, d, r in zip(vals, dims, ranks):
            if d is None:
                args.append(v)
                continue
            v = moveaxis(v, d, 0)
            if r < out_rank:
                shape = get_aval(v).shape
                v = reshape(v, (shape[0],) + (1,) * (out_rank - r) + shape[1:])
            args.append(v)
        return primitive.bind(*args, **params), 0

    primitive_batchers[primitive] = rule
