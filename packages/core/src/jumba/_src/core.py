"""The tracing core: abstract values, primitives, traces and tracers, and the Jaxpr IR.

Every transformation is an interpreter (a `Trace` subclass) over the same primitives.
Traces form a per-thread stack; `bind` hands a primitive application to the innermost
trace that owns one of its arguments (or the dynamic trace, so that `jit` stages
everything, constants included). With no transformation active, `bind` takes the eager
fast path straight to the primitive's NumPy implementation.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

import numpy as np

from jumba._src import dtypes
from jumba._src.errors import (  # noqa: F401 (core.<Error> is how callers name them)
    ConcretizationTypeError,
    JumbaTypeError,
    TracerBoolConversionError,
    TracerIntegerConversionError,
    UnexpectedTracerError,
    _concretization_message,
)
from jumba._src.runtime.array import Array

# ---------------------------------------------------------------------------------------
# Abstract values


class ShapedArray:
    """The abstract value of an array: shape, dtype and whether the dtype is weak."""

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype, weak_type: bool = False):
        # Built many times per traced operation: skip conversions already done.
        self.shape = shape if type(shape) is tuple else tuple(shape)
        self.dtype = dtype if isinstance(dtype, np.dtype) else np.dtype(dtype)
        self.weak_type = weak_type if weak_type is False or weak_type is True \
            else bool(weak_type)

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def update(self, shape=None, dtype=None, weak_type=None) -> ShapedArray:
        return ShapedArray(
            self.shape if shape is None else shape,
            self.dtype if dtype is None else dtype,
            self.weak_type if weak_type is None else weak_type,
        )

    def strip_weak_type(self) -> ShapedArray:
        return self.update(weak_type=False) if self.weak_type else self

    def __eq__(self, other):
        return (
            type(other) is ShapedArray
            and self.shape == other.shape
            and self.dtype == other.dtype
            and self.weak_type == other.weak_type
        )

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))

    def str_short(self) -> str:
        return f"{dtype_short_name(self.dtype)}[{','.join(map(str, self.shape))}]"

    def __repr__(self):
        weak = ", weak_type=True" if self.weak_type else ""
        return f"ShapedArray({self.str_short()}{weak})"


_SHORT_NAMES = {
    "float16": "f16", "float32": "f32", "float64": "f64",
    "int8": "i8", "int16": "i16", "int32": "i32", "int64": "i64",
    "uint8": "u8", "uint16": "u16", "uint32": "u32", "uint64": "u64",
    "complex64": "c64", "complex128": "c128", "bool": "bool",
}


def dtype_short_name(dtype) -> str:
    dtype = np.dtype(dtype)
    if dtype == dtypes.float0:
        return "float0"
    return _SHORT_NAMES.get(dtype.name, dtype.name)


class ShapeDtypeStruct:
    """A shape and dtype standing in for an array (as `jax.ShapeDtypeStruct`)."""

    __slots__ = ("shape", "dtype", "weak_type")

    def __init__(self, shape, dtype, weak_type: bool = False):
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.weak_type = weak_type

    ndim = property(lambda self: len(self.shape))
    size = property(lambda self: int(np.prod(self.shape, dtype=np.int64)))

    def __repr__(self):
        return f"ShapeDtypeStruct(shape={self.shape}, dtype={self.dtype.name})"

    def __eq__(self, other):
        return (
            isinstance(other, ShapeDtypeStruct)
            and (self.shape, self.dtype, self.weak_type)
            == (other.shape, other.dtype, other.weak_type)
        )

    def __hash__(self):
        return hash((self.shape, self.dtype, self.weak_type))


_PY_SCALARS = (bool, int, float, complex)


# Avals of Arrays, interned (avals are immutable): an Array's aval is asked for many times
# per transformed operation and building one costs more than this lookup.
_ARRAY_AVALS: dict = {}


def get_aval(x) -> ShapedArray:
    """The abstract value of anything that can be an operand."""
    if type(x) is Array:
        v = x._value
        key = (v.shape, v.dtype, x.weak_type)
        aval = _ARRAY_AVALS.get(key)
        if aval is None:
            if len(_ARRAY_AVALS) >= 1024:
                _ARRAY_AVALS.clear()
            aval = _ARRAY_AVALS[key] = ShapedArray(*key)
        return aval
    if isinstance(x, Tracer):
        return x.aval
    if isinstance(x, (np.ndarray, np.generic)):
        return ShapedArray(x.shape, dtypes.canonicalize_dtype(x.dtype), False)
    if isinstance(x, _PY_SCALARS):
        dt = dtypes.python_scalar_dtype(x)
        return ShapedArray((), dt, type(x) is not bool)
    if isinstance(x, ShapeDtypeStruct):
        return ShapedArray(x.shape, x.dtype, x.weak_type)
    if hasattr(x, "__jax_array__"):
        return get_aval(x.__jax_array__())
    if hasattr(x, "__array__"):
        return get_aval(np.asarray(x))
    raise JumbaTypeError(
        f"Value {x!r} of type {type(x).__name__} is not a valid Jumba type: pass arrays, "
        "NumPy arrays or Python scalars (containers must be pytrees of those)."
    )


def is_valid_operand(x) -> bool:
    return isinstance(x, (Tracer, Array, np.ndarray, np.generic, *_PY_SCALARS))


def to_array(x) -> Array:
    """Turn a concrete operand (Array, NumPy value, Python scalar) into an Array."""
    if type(x) is Array:
        return x
    if type(x) in _PY_SCALARS:
        return Array(np.asarray(x, dtypes.python_scalar_dtype(x)), type(x) is not bool)
    v = np.asarray(x)
    dt = dtypes.canonicalize_dtype(v.dtype)
    if v.dtype != dt:
        v = v.astype(dt)
    elif v.flags.writeable and v.base is None:
        v.flags.writeable = False  # a buffer we now share: Arrays are immutable
    return Array(v, False)


def to_numpy(x) -> np.ndarray:
    """The NumPy value of a concrete operand."""
    if type(x) is Array:
        return x._value
    if type(x) in _PY_SCALARS:
        return np.asarray(x, dtypes.python_scalar_dtype(x))
    if isinstance(x, Tracer):
        raise _leaked_or_concretization(x, "conversion to a NumPy array")
    v = np.asarray(x)
    dt = dtypes.canonicalize_dtype(v.dtype)
    return v if v.dtype == dt else v.astype(dt)


# ---------------------------------------------------------------------------------------
# Primitives


def _no_impl(*args, **params):
    raise NotImplementedError


class Primitive:
    """An operation the transformations know. Rules live in per-interpreter tables.

    `impl(*numpy_values, **params)` computes the result with NumPy; `abstract_eval(*avals,
    **params)` computes its abstract value(s); `weak_type_rule(*weak_flags, **params)` says
    whether an eagerly computed output keeps a weak dtype.
    """

    elementwise = False  # set by lax's standard_op: output i depends only on inputs i

    def __init__(self, name: str, *, multiple_results: bool = False):
        self.name = name
        self.multiple_results = multiple_results
        self.impl: Callable = _no_impl
        self.abstract_eval: Callable = _no_impl
        self.weak_type_rule: Callable = _never_weak
        all_primitives.append(self)

    def __repr__(self):
        return self.name

    def def_impl(self, impl):
        self.impl = impl
        return impl

    def def_abstract_eval(self, rule):
        self.abstract_eval = rule
        return rule

    def bind(self, *args, **params):
        state = _state
        if state.eval_only:
            return self.eval(args, params)
        # find_top_trace, inlined (this is the hot path of every transformation).
        # Concrete operands under a transformation (e.g. the primal half of a JVP rule)
        # go to the eager evaluation at once.
        top = state.dynamic
        level = top.level
        for a in args:
            if type(a) in _TRACER_TYPES:
                main = a._trace.main
                if main.level > level:
                    top, level = main, main.level
        if level == 0:
            return self.eval(args, params)
        if not top.alive:
            raise UnexpectedTracerError(_leak_message(top))
        trace = top.trace
        if trace is None:
            trace = top.trace = top.trace_type(top)
        n = len(args)
        if n == 2:  # the common cases, without a comprehension's frame
            x, y = args
            if type(x) not in _TRACER_TYPES:
                x = trace.pure(x)
            elif x._trace.main is not top:
                x = trace.full_raise(x)
            if type(y) not in _TRACER_TYPES:
                y = trace.pure(y)
            elif y._trace.main is not top:
                y = trace.full_raise(y)
            tracers = [x, y]
        elif n == 1:
            x = args[0]
            tracers = [x if type(x) in _TRACER_TYPES and x._trace.main is top
                       else trace.full_raise(x)]
        else:
            tracers = [a if isinstance(a, Tracer) and a._trace.main is top
                       else trace.full_raise(a) for a in args]
        out = trace.process_primitive(self, tracers, params)
        if self.multiple_results:
            return [full_lower(o) for o in out]
        if type(out) in _TRACERS_LOWERED_AS_IS:
            return out
        return full_lower(out)

    def eval(self, args, params):
        """Run the primitive on concrete operands with its NumPy implementation."""
        # Fast path (the eager hot path): one or two Arrays, one result; no lists built.
        n = len(args)
        if n == 2 and not self.multiple_results:
            x, y = args
            if type(x) is Array and type(y) is Array:
                xv, yv = x._value, y._value
                try:
                    out = self.impl(xv, yv, **params)
                except Exception:
                    out = _RETRY
                if out is _RETRY:  # outside the handler: no chained tracebacks
                    out = run_impl(self.impl, (xv, yv), params)
                rule = self.weak_type_rule
                if rule is all_weak:
                    return Array(out, x.weak_type and y.weak_type)
                if rule is _never_weak:
                    return Array(out, False)
                return Array(out, rule(x.weak_type, y.weak_type, **params))
        elif n == 1 and not self.multiple_results:
            x = args[0]
            if type(x) is Array:
                xv = x._value
                try:
                    out = self.impl(xv, **params)
                except Exception:
                    out = _RETRY
                if out is _RETRY:
                    out = run_impl(self.impl, (xv,), params)
                rule = self.weak_type_rule
                if rule is all_weak:
                    return Array(out, x.weak_type)
                if rule is _never_weak:
                    return Array(out, False)
                return Array(out, rule(x.weak_type, **params))
        vals = []
        weak = []
        for a in args:
            if type(a) is Array:
                vals.append(a._value)
                weak.append(a.weak_type)
            elif isinstance(a, Tracer):
                raise _leaked_or_concretization(a, f"use in {self.name}")
            else:
                vals.append(to_numpy(a))
                weak.append(type(a) in (int, float, complex))
        out = run_impl(self.impl, vals, params)
        w = self.weak_type_rule(*weak, **params)
        if self.multiple_results:
            if not isinstance(w, (list, tuple)):
                w = [w] * len(out)
            return [Array(o, wi) for o, wi in zip(out, w)]
        return Array(out, w)


# Every primitive ever declared, in declaration order (for the registry test and for
# explaining failures of eager implementations).
all_primitives: list[Primitive] = []


_RETRY = object()  # marks an implementation call to redo through run_impl


def run_impl(impl, vals, params):
    """Call a NumPy implementation. Floating-point events (log(0), overflow) give inf/nan
    silently, as in JAX; numpy's warnings are silenced for jumba's modules at import, and
    where warnings are turned into errors (pytest -W error) the call is retried quietly."""
    try:
        return impl(*vals, **params)
    except RuntimeWarning:
        with np.errstate(all="ignore"):
            return impl(*vals, **params)
    except (ValueError, TypeError):
        better = _explain_impl_failure(impl, vals, params)
        if better is None:
            raise
        raise better from None


def _explain_impl_failure(impl, vals, params) -> Exception | None:
    """On an eager failure, the error that tracing would have raised: the primitive's shape
    rule names the operation and the shapes, where NumPy's message names neither."""
    for prim in all_primitives:
        if prim.impl is impl:
            try:
                avals = [ShapedArray(np.shape(v), np.result_type(v)) for v in vals]
                prim.abstract_eval(*avals, **params)
            except (ValueError, TypeError) as e:
                return e
            return None
    return None


def _never_weak(*weak, **params):
    return False


def all_weak(*weak, **params):
    return all(weak)


# ---------------------------------------------------------------------------------------
# Traces, tracers and the per-thread trace stack


class MainTrace:
    """One active transformation: its level in the stack and its global data."""

    __slots__ = ("level", "trace_type", "global_data", "alive", "kind", "trace")

    def __init__(self, level, trace_type, global_data=None, kind=None):
        self.level = level
        self.trace_type = trace_type
        self.global_data = global_data
        self.alive = True
        self.kind = kind or trace_type.kind
        self.trace = None  # the Trace object (traces are stateless): made once, on demand

    def describe_origin(self, tracer) -> str:
        describe = getattr(self.global_data, "describe_tracer", None)
        return describe(tracer) if describe else ""

    def __repr__(self):
        return f"MainTrace({self.level}, {self.trace_type.__name__})"


class _TraceState(threading.local):
    def __init__(self):
        base = MainTrace(0, EvalTrace)
        self.stack: list[MainTrace] = [base]
        self.dynamic: MainTrace = base
        self.eval_only = True

    def refresh(self):
        self.eval_only = len(self.stack) == 1 and self.dynamic is self.stack[0]


_state: _TraceState  # created below, once EvalTrace exists


class new_main:
    """Push a transformation onto this thread's trace stack for the duration of a block:
    `with new_main(trace_type, global_data) as main: ...`. (A class rather than a
    generator-based context manager: it is entered on every transformed call.)"""

    __slots__ = ("args", "main", "prev_dynamic")

    def __init__(self, trace_type, global_data=None, *, dynamic: bool = False, kind=None):
        self.args = (trace_type, global_data, dynamic, kind)

    def __enter__(self) -> MainTrace:
        trace_type, global_data, dynamic, kind = self.args
        state = _state
        main = self.main = MainTrace(len(state.stack), trace_type, global_data, kind)
        state.stack.append(main)
        self.prev_dynamic = state.dynamic
        if dynamic:
            state.dynamic = main
        state.eval_only = False
        return main

    def __exit__(self, *exc_info):
        state = _state
        stack = state.stack
        stack.pop()
        state.dynamic = dynamic = self.prev_dynamic
        self.main.alive = False
        state.eval_only = len(stack) == 1 and dynamic is stack[0]  # state.refresh()
        return False


@contextmanager
def new_base_main():
    """Hide enclosing transformations (used to evaluate closed-over constants eagerly)."""
    state = _state
    saved = state.stack, state.dynamic
    base = MainTrace(0, EvalTrace)
    state.stack, state.dynamic = [base], base
    state.refresh()
    try:
        yield
    finally:
        state.stack, state.dynamic = saved
        state.refresh()


def find_top_trace(xs, state=None) -> Trace:
    state = state or _state
    top = state.dynamic
    for x in xs:
        if isinstance(x, Tracer):
            main = x._trace.main
            if main.level > top.level:
                top = main
    if not top.alive:
        raise UnexpectedTracerError(_leak_message(top))
    trace = top.trace
    if trace is None:
        trace = top.trace = top.trace_type(top)
    return trace


def full_lower(val):
    if isinstance(val, Tracer):
        return val.full_lower()
    return val


def _leak_message(main: MainTrace) -> str:
    return (
        f"Encountered a tracer that escaped its transformation ({main.kind}). A value "
        "computed inside a transformed function (jit, grad, vmap, ...) was stored outside "
        "it - in a global, a closure, an attribute or a list - and used after the "
        "transformation finished. Return the value from the function instead of storing it."
    )


def _leaked_or_concretization(t: Tracer, what: str) -> Exception:
    if not t._trace.main.alive:
        return UnexpectedTracerError(_leak_message(t._trace.main))
    return ConcretizationTypeError(_concretization_message(t, what))


class Trace:
    """An interpreter: how to lift values and how to process a primitive application."""

    kind = "a transformation"
    __slots__ = ("main",)

    def __init__(self, main: MainTrace):
        self.main = main

    def pure(self, val):
        raise NotImplementedError

    def lift(self, tracer):
        raise NotImplementedError

    def process_primitive(self, primitive, tracers, params):
        raise NotImplementedError

    def full_raise(self, val):
        if not isinstance(val, Tracer):
            return self.pure(val)
        main = val._trace.main
        if main is self.main:
            return val
        if not main.alive:
            raise UnexpectedTracerError(_leak_message(main))
        if main.level < self.main.level:
            return self.lift(val)
        raise UnexpectedTracerError(_leak_message(main))


class EvalTrace(Trace):
    kind = "eager evaluation"

    def pure(self, val):
        return val

    lift = pure

    def process_primitive(self, primitive, tracers, params):
        return primitive.eval(tracers, params)


_state = _TraceState()


# Every Tracer class (`type(x) in _TRACER_TYPES` is isinstance(x, Tracer) without a call),
# and those whose full_lower is the identity (bind returns their instances as is).
_TRACER_TYPES: set = set()
_TRACERS_LOWERED_AS_IS: set = set()


class Tracer:
    """A value flowing through a transformation. Operators are installed by jumba.numpy."""

    __array_priority__ = 1000
    __slots__ = ("_trace",)

    aval: ShapedArray

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _TRACER_TYPES.add(cls)
        if cls.full_lower is Tracer.full_lower:
            _TRACERS_LOWERED_AS_IS.add(cls)
        else:
            _TRACERS_LOWERED_AS_IS.discard(cls)

    def full_lower(self):
        return self

    # Concrete values, where a transformation has one (e.g. grad over eager values).
    def concrete_value(self):
        return None

    def _concrete(self, what: str):
        val = self.concrete_value()
        if val is None:
            raise _concretization_error(self, what)
        return val

    def __bool__(self):
        return bool(self._concrete("bool() (a Python `if`, `while`, `and`/`or`)"))

    def __int__(self):
        return int(self._concrete("int()"))

    def __float__(self):
        return float(self._concrete("float()"))

    def __complex__(self):
        return complex(self._concrete("complex()"))

    def __index__(self):
        return self._concrete("use as an index (__index__)").__index__()

    def __array__(self, dtype=None, copy=None):
        val = self.concrete_value()
        if val is None:
            raise _concretization_error(self, "conversion to a NumPy array")
        return np.asarray(val, dtype=dtype)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __hash__(self):
        raise TypeError(
            f"unhashable type: traced array {self.aval.str_short()}. Traced values cannot be "
            "dict keys or set members; mark the argument static if it is a Python value."
        )

    shape = property(lambda self: self.aval.shape)
    dtype = property(lambda self: self.aval.dtype)
    ndim = property(lambda self: self.aval.ndim)
    size = property(lambda self: self.aval.size)
    weak_type = property(lambda self: self.aval.weak_type)

    def __repr__(self):
        return f"Traced<{self.aval.str_short()}>with<{type(self._trace).__name__}>"


def _concretization_error(tracer: Tracer, what: str) -> Exception:
    if not tracer._trace.main.alive:
        return UnexpectedTracerError(_leak_message(tracer._trace.main))
    cls = ConcretizationTypeError
    if what.startswith("bool"):
        cls = TracerBoolConversionError
    elif what.startswith("int") or "__index__" in what:
        cls = TracerIntegerConversionError
    return cls(_concretization_message(tracer, what))


def concrete_or_error(x, what: str = "this operation"):
    """The concrete NumPy value of `x`, or a concretization error naming `what`."""
    if isinstance(x, Tracer):
        val = x.concrete_value()
        if val is None:
            raise _concretization_error(x, what)
        return to_numpy(val)
    return to_numpy(x)


# ---------------------------------------------------------------------------------------
# The Jaxpr IR


class Var:
    __slots__ = ("aval", "count")
    _counter = itertools.count()

    def __init__(self, aval: ShapedArray):
        self.aval = aval
        self.count = _next_var_count()

    def __repr__(self):
        return f"Var({self.aval.str_short()})"


_next_var_count = Var._counter.__next__


class Literal:
    """A scalar constant written inline in a Jaxpr."""

    __slots__ = ("val", "aval")

    def __init__(self, val, aval: ShapedArray):
        self.val = val
        self.aval = aval

    def __repr__(self):
        v = self.val
        v = v._value if type(v) is Array else v
        return repr(np.asarray(v).item())


class DropVar(Var):
    def __repr__(self):
        return "_"


class JaxprEqn:
    __slots__ = ("primitive", "inputs", "params", "outputs")

    def __init__(self, primitive, inputs, params, outputs):
        self.primitive = primitive
        self.inputs = inputs
        self.params = params
        self.outputs = outputs

    def __repr__(self):
        return f"JaxprEqn({self.primitive.name})"


class Jaxpr:
    """A typed, first-order program: constants and inputs in, a list of equations, outputs.

    `constvars` are bound to the constants of a `ClosedJaxpr`; `outvars` may be Vars or
    Literals.
    """

    __slots__ = ("constvars", "invars", "outvars", "eqns")

    def __init__(self, constvars, invars, outvars, eqns):
        self.constvars = list(constvars)
        self.invars = list(invars)
        self.outvars = list(outvars)
        self.eqns = list(eqns)

    in_avals = property(lambda self: [v.aval for v in self.invars])
    out_avals = property(lambda self: [v.aval for v in self.outvars])

    def __str__(self):
        from jumba._src.jaxpr_printing import pp_jaxpr

        return pp_jaxpr(self)

    __repr__ = __str__


class ClosedJaxpr:
    """A Jaxpr with its constants bound, as `jax.make_jaxpr` returns."""

    __slots__ = ("jaxpr", "consts")

    def __init__(self, jaxpr: Jaxpr, consts):
        self.jaxpr = jaxpr
        self.consts = list(consts)

    in_avals = property(lambda self: self.jaxpr.in_avals)
    out_avals = property(lambda self: self.jaxpr.out_avals)
    eqns = property(lambda self: self.jaxpr.eqns)

    def __call__(self, *args):
        return eval_jaxpr(self.jaxpr, self.consts, *args)

    def __str__(self):
        return str(self.jaxpr)

    __repr__ = __str__

    def pretty_print(self) -> str:
        return str(self)


def eval_jaxpr(jaxpr: Jaxpr, consts, *args):
    """Evaluate a Jaxpr by binding its primitives (so it runs under any transformation)."""
    env: dict[Var, Any] = {}

    def read(v):
        return v.val if type(v) is Literal else env[v]

    for v, x in zip(jaxpr.constvars, consts):
        env[v] = x
    if len(args) != len(jaxpr.invars):
        raise TypeError(f"Jaxpr expects {len(jaxpr.invars)} arguments, got {len(args)}")
    for v, x in zip(jaxpr.invars, args):
        env[v] = x
    for eqn in jaxpr.eqns:
        out = eqn.primitive.bind(*[read(v) for v in eqn.inputs], **eqn.params)
        if eqn.primitive.multiple_results:
            for v, o in zip(eqn.outputs, out):
                env[v] = o
        else:
            env[eqn.outputs[0]] = out
    return [read(v) for v in jaxpr.outvars]
