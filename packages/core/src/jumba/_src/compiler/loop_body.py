"""The loop compiler's code generator: the equations of a loop body -> numba source lines.

`_Body` writes each equation as scalar code (scalars are locals) or small loop nests over
flat buffers (see `loops.py` for the design and the measurements behind it); `_Emitter`
holds what one kernel collects (buffers, size symbols, constants, helper functions).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from jumba._src.compiler.loop_carry import carry_updates
from jumba._src.compiler.lowering import (
    cast,
    expansion_rules,
    reduction_rules,
    scalar_rules,
    scan_rule,
    scan_rules,
    typed_const,
)
from jumba._src.core import Literal

# Multiply-adds of one dot_general per iteration above which a loop body calls gemm for it
# (`loop_blas.py`) instead of a loop nest (a 64x64 matrix-vector product is 4,096; a batch
# of 1,024 of them is 4 M; with numba's loops for those the PPO rollout ran 2.7x slower
# than with BLAS called from Python, measured before gemm could be called from a loop).
MAX_DOT_WORK = 1 << 16
# Contractions up to this length are unrolled in the text (which then depends on it).
SMALL_DOT = 8


class Unsupported(Exception):
    """The body holds something this compiler does not lower (the loop runs on tier 0)."""


@dataclass
class Val:
    """A value in generated code: a scalar local, or a flat buffer with a symbolic shape."""

    name: str
    shape: tuple = ()  # symbolic sizes ("1", "d0", "n_iter", ...)
    dtype: np.dtype = None
    owned: bool = True  # False: the buffer belongs to an input (never write into it)
    splat: bool = False  # an array whose elements all equal the scalar expression `name`
    # A short vector made of scalars (a concatenate of them, as `jnp.stack` of a state's
    # components): element k is the scalar `parts[k]`. The buffer is written as well, but
    # a read at a constant index takes the scalar, which keeps the store and reload off a
    # loop's dependency chain (CartPole: the state -> observation -> policy dot).
    parts: tuple | None = None

    @property
    def scalar(self) -> bool:
        return not self.shape

    def size(self) -> str:
        return _prod(self.shape)


_CONST_INDEX = re.compile(r"\s*\d+(\s*\+\s*\d+)*\s*")


def _prod(shape) -> str:
    parts = [s for s in shape if s != "1"]
    return "*".join(parts) if parts else "1"


def _innermost(shape, axis) -> bool:
    """Is `axis` the last axis of `shape` that is not of size 1 (unit stride)?"""
    return all(n == "1" for n in shape[axis + 1:])


def _flat_index(idx, shape) -> str:
    """Row-major flat index of the per-axis index expressions `idx` in `shape`."""
    expr = None
    for i, n in zip(idx, shape):
        if n == "1":
            i = "0" if i is None else i
        if expr is None:
            expr = i
        elif n == "1":
            expr = expr if i == "0" else f"{expr} + {i}"
        else:
            expr = f"({expr})*{n} + {i}"
    return expr if expr is not None else "0"


class _Emitter:
    def __init__(self):
        self.prologue: list[str] = []  # buffer allocations, before the outer loop
        self.counter = 0
        self.dims: dict[int, str] = {}
        self.extra_consts: list = []  # (name, ndarray)
        self.scalar_args: list = []  # (name, NumPy scalar)
        self.num_ops = 0
        self.workspace: dict = {}  # dtype name -> {buffer name: size expression}
        self.helpers: dict = {}  # name -> source

    def matvec_helper(self, dtype, accumulate=False) -> str:
        """out = x @ y (x: rows by n, row-major), or out += x @ y if `accumulate`."""
        dt = np.dtype(dtype).name
        name = f"matvec{'_acc' if accumulate else ''}_{dt}"
        self.helpers[name] = (
            "@numba.njit(cache=True, nogil=True, error_model='numpy', "
            "fastmath={'reassoc', 'contract'})\n"
            f"def {name}(x, y, n, rows, out):\n"
            "    for r in range(rows):\n"
            f"        acc = {typed_const(0, dt)}\n"
            "        for k in range(n):\n"
            "            acc += x[r * n + k] * y[k]\n"
            f"        out[r] {'+=' if accumulate else '='} acc\n")
        return name

    def dot_helper(self, dtype) -> str:
        dt = np.dtype(dtype).name
        name = f"dot_{dt}"
        self.helpers[name] = (
            "@numba.njit(cache=True, nogil=True, error_model='numpy', "
            "fastmath={'reassoc', 'contract'})\n"
            f"def {name}(x, x0, y, y0, n):\n"
            f"    acc = {typed_const(0, dt)}\n"
            "    for k in range(n):\n"
            "        acc += x[x0 + k] * y[y0 + k]\n"
            "    return acc\n")
        return name

    def fresh(self, prefix="t") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def sym(self, n: int) -> str:
        n = int(n)
        if n == 1:
            return "1"
        s = self.dims.get(n)
        if s is None:
            s = self.dims[n] = f"d{len(self.dims)}"
        return s

    def syms(self, shape) -> tuple:
        return tuple(self.sym(n) for n in shape)

    def buffer(self, shape, dtype) -> Val:
        """A buffer allocated once in the kernel's prologue (never inside the loop)."""
        dt = np.dtype(dtype).name
        name = self.fresh("buf")
        self.workspace.setdefault(dt, {})[name] = _prod(shape)
        return Val(name, tuple(shape), np.dtype(dtype))

    def new_value(self, aval) -> Val:
        if aval.shape == ():
            return Val(self.fresh(), (), aval.dtype)
        return self.buffer(self.syms(aval.shape), aval.dtype)

    # -- reading values ---------------------------------------------------------------

    def read(self, v, env) -> Val:
        if isinstance(v, Literal):
            if np.shape(v.val) != ():
                raise Unsupported("array literal")
            return self.literal(np.asarray(v.val, v.aval.dtype)[()])
        return env[v]

    def literal(self, value) -> Val:
        """A scalar constant. Integers are kernel arguments: they are often sizes (an
        index made non-negative by adding the length), which must not enter the text."""
        dtype = value.dtype
        if dtype.kind in "iu":
            name = f"k{len(self.scalar_args)}"
            self.scalar_args.append((name, value))
            return Val(name, (), dtype)
        return Val(typed_const(value, dtype), (), dtype)

    def elem(self, val: Val, flat: str | None) -> str:
        """The expression of element `flat` of `val` (scalars: the value itself)."""
        if val.scalar or val.splat:
            return val.name
        if val.parts is not None and flat is not None and _CONST_INDEX.fullmatch(flat):
            return val.parts[sum(int(t) for t in flat.split("+"))]
        if flat is None or val.size() == "1":
            return f"{val.name}[0]"
        return f"{val.name}[{flat}]"


def _nest(out, shape, ind, body_lines_fn, em):
    """Append to `out` a loop nest over `shape` (symbolic sizes) whose innermost lines
    are body_lines_fn(per-axis index expressions)."""
    idx = []
    depth = 0
    for n in shape:
        if n == "1":
            idx.append("0")
            continue
        j = em.fresh("j")
        out.append("    " * (ind + depth) + f"for {j} in range({n}):")
        idx.append(j)
        depth += 1
    out.extend("    " * (ind + depth) + s for s in body_lines_fn(idx))


def _copy_lines(dst: Val, src: Val, ind: int, em) -> list[str]:
    """Copy `src` into `dst` (same number of elements)."""
    pad = "    " * ind
    if dst.scalar:
        return [pad + f"{dst.name} = {em.elem(src, '0')}"]
    if dst.size() == "1":
        return [pad + f"{dst.name}[0] = {em.elem(src, '0')}"]
    j = em.fresh("j")
    return [pad + f"for {j} in range({dst.size()}):",
            pad + f"    {dst.name}[{j}] = {em.elem(src, j)}"]


class _Body:
    """Emits the equations of one Jaxpr into `lines` at indentation `ind`."""

    def __init__(self, em: _Emitter, lines: list, ind: int):
        self.em, self.lines, self.ind = em, lines, ind
        self.in_place: dict = {}  # equation -> the carry buffer it writes its result into
        self.accumulate: dict = {}  # dot_general equation -> the carry buffer it adds into
        self.absorbed: dict = {}  # `carry + product` equation -> that carry (nothing to do)
        # The elementwise loop that the next elementwise op of the same shape joins, while
        # nothing else has been emitted after it: (shape, index, end, {buffer: local}).
        self.open_loop = None

    def emit(self, s: str, extra: int = 0):
        self.lines.append("    " * (self.ind + extra) + s)

    def closed(self, closed, args: list[Val], carry_pos=None) -> list[Val]:
        """Emit a body; `carry_pos` (loop bodies) maps the positions of carried inputs to
        those of their new values, so that a carry may be updated in place."""
        jaxpr = closed.jaxpr
        env = {}
        for v, c in zip(jaxpr.constvars, closed.consts):
            env[v] = self.const(np.asarray(c), v.aval)
        env.update(zip(jaxpr.invars, args))
        # (An inner body, e.g. an expansion rule's, keeps the outer maps: their keys are
        # the outer body's equations.)
        saved = self.in_place, self.accumulate, self.absorbed
        if carry_pos:
            self.in_place, self.accumulate, self.absorbed = carry_updates(
                jaxpr, carry_pos, env, MAX_DOT_WORK)
        for eqn in jaxpr.eqns:
            self.eqn(eqn, env)
        self.in_place, self.accumulate, self.absorbed = saved
        return [self.em.read(v, env) for v in jaxpr.outvars]

    def const(self, c, aval) -> Val:
        if c.shape == ():
            return self.em.literal(np.asarray(c, aval.dtype)[()])
        name = f"kc{len(self.em.extra_consts)}"
        self.em.extra_consts.append((name, np.ascontiguousarray(c, aval.dtype).reshape(-1)))
        return Val(name, self.em.syms(aval.shape), aval.dtype, owned=False)

    # -- equations --------------------------------------------------------------------

    def eqn(self, eqn, env):
        em = self.em
        prim = eqn.primitive
        name = prim.name
        em.num_ops += 1
        if eqn in self.absorbed:  # its product was accumulated into the carry already
            env[eqn.outputs[0]] = self.absorbed[eqn]
            return
        ins = [em.read(v, env) for v in eqn.inputs]
        if name in _SHIFTS and isinstance(eqn.inputs[1], Literal) and ins[1].scalar:
            # A shift by a constant (Threefry's rotations) stays in the text: as a kernel
            # argument it is a variable shift behind a range test in every iteration.
            v = eqn.inputs[1]
            ins[1] = Val(typed_const(np.asarray(v.val, v.aval.dtype)[()], v.aval.dtype), (),
                         v.aval.dtype)
        if prim in expansion_rules:
            from jumba._src.interpreters import partial_eval as pe

            def fun(*xs):
                out = expansion_rules[prim](*xs, **eqn.params)
                return list(out) if prim.multiple_results else [out]

            inner = pe.trace_to_jaxpr(fun, [v.aval for v in eqn.inputs], kind="jit")
            outs = self.closed(inner, ins)
            env.update(zip(eqn.outputs, outs))
            return
        handler = _HANDLERS.get(name)
        if handler is not None:
            handler = getattr(self, handler)
            outs = handler(eqn, ins)
        elif prim in reduction_rules or prim in scan_rules:
            outs = [self._reduce(eqn, ins)]
        elif prim in scalar_rules and len(eqn.outputs) == 1:
            outs = [self._elementwise(eqn, ins)]
        else:
            from jumba._src.compiler.loop_ops import HANDLERS  # argmax, gather

            if name not in HANDLERS:
                raise Unsupported(name)
            outs = HANDLERS[name](self, eqn, ins)
        env.update(zip(eqn.outputs, outs))

    def _elementwise(self, eqn, ins):
        out_aval = eqn.outputs[0].aval
        rule = scalar_rules[eqn.primitive]
        shape = self.em.syms(out_aval.shape)
        if any(x.shape and x.shape != shape and not x.splat for x in ins):
            return self._broadcasting_elementwise(eqn, rule, ins, shape)
        if shape and all(x.scalar or x.splat for x in ins):
            # Every operand is one scalar: compute once, as a splat of the result.
            out = Val(self.em.fresh(), (), out_aval.dtype)
            shape, splat_shape = (), shape
        else:
            splat_shape = None
            # A carry's new value that only this equation reads it for is written over it.
            out = self.in_place.get(eqn) or self.em.new_value(out_aval)
        if not shape:
            e = self._scalar_expr(eqn, rule, [self.em.elem(x, None) for x in ins], out_aval)
            self.emit(f"{out.name} = {e}")
            if splat_shape is not None:
                return Val(out.name, splat_shape, out.dtype, splat=True)
            return out
        # Consecutive elementwise ops over one shape share one loop: a value made in the
        # loop is read from its local, not reloaded from its buffer.
        lp = self.open_loop
        if lp is None or lp[0] != shape or lp[2] != len(self.lines):
            j = self.em.fresh("j")
            self.emit(f"for {j} in range({out.size()}):")
            lp = (shape, j, None, {})
        j, local = lp[1], lp[3]
        args = [local.get(x.name) or self.em.elem(x, j) for x in ins]
        e = self._scalar_expr(eqn, rule, args, out_aval)
        t = self.em.fresh()
        self.emit(f"{t} = {e}", 1)
        self.emit(f"{out.name}[{j}] = {t}", 1)
        local[out.name] = t
        self.open_loop = (shape, j, len(self.lines), local)
        return out

    def _broadcasting_elementwise(self, eqn, rule, ins, shape):
        """An elementwise op whose operands broadcast (NumPy rules: size-1 axes, fewer
        leading axes): one loop nest over the output's axes."""
        out_aval = eqn.outputs[0].aval
        out = self.em.new_value(out_aval)

        def body(idx):
            args = []
            for x in ins:
                lead = len(shape) - len(x.shape)
                if lead < 0:
                    raise Unsupported("operand of higher rank than the result")
                sub = ["0" if n == "1" else idx[lead + a] for a, n in enumerate(x.shape)]
                args.append(self.em.elem(x, _flat_index(sub, x.shape)))
            e = self._scalar_expr(eqn, rule, args, out_aval)
            return [f"{out.name}[{_flat_index(idx, shape)}] = {e}"]

        _nest(self.lines, shape, self.ind, body, self.em)
        return out

    @staticmethod
    def _scalar_expr(eqn, rule, args, out_aval):
        e = rule(args, eqn.params, [v.aval for v in eqn.inputs], out_aval)
        if e is None:
            raise Unsupported(eqn.primitive.name)
        return cast(e, out_aval.dtype) if out_aval.dtype != np.bool_ else e

    def _nest_assign(self, out: Val, fn):
        """out[multi-index] = fn(idx) over out's shape."""
        lines: list[str] = []
        _nest(lines, out.shape, self.ind, lambda idx: [
            f"{out.name}[{_flat_index(idx, out.shape)}] = {fn(idx)}"], self.em)
        self.lines.extend(lines)

    def _broadcast_in_dim(self, eqn, ins):
        (x,) = ins
        aval = eqn.outputs[0].aval
        if x.scalar or x.splat:
            # Broadcasting a scalar writes nothing: readers use the scalar.
            return [Val(x.name, self.em.syms(aval.shape), aval.dtype, splat=bool(aval.shape))]
        out = self.em.new_value(aval)
        if not out.shape:
            self.emit(f"{out.name} = {self.em.elem(x, '0')}")
            return [out]
        bdims = eqn.params["broadcast_dimensions"]

        def src(idx):
            sub = [idx[d] if n != "1" else "0" for n, d in zip(x.shape, bdims)]
            return self.em.elem(x, _flat_index(sub, x.shape))

        self._nest_assign(out, src)
        return [out]

    def _reshape(self, eqn, ins):
        (x,) = ins
        if eqn.params.get("dimensions") is not None:
            raise Unsupported("reshape with dimensions")
        aval = eqn.outputs[0].aval
        if aval.shape == ():
            out = Val(self.em.fresh(), (), aval.dtype)
            self.emit(f"{out.name} = {self.em.elem(x, '0')}")
            return [out]
        if x.scalar:
            return [Val(x.name, self.em.syms(aval.shape), x.dtype, splat=True)]
        # Row-major flat buffers: a reshape is the same buffer seen with another shape.
        return [Val(x.name, self.em.syms(aval.shape), x.dtype, x.owned, x.splat)]

    _squeeze = _expand_dims = _reshape

    def _convert_element_type(self, eqn, ins):
        if ins[0].dtype.kind == "c" or np.dtype(eqn.params["new_dtype"]).kind == "c":
            raise Unsupported("complex")
        return [self._elementwise(eqn, ins)]

    def _transpose(self, eqn, ins):
        (x,) = ins
        perm = eqn.params["permutation"]
        out = self.em.new_value(eqn.outputs[0].aval)
        if not out.shape:
            self.emit(f"{out.name} = {self.em.elem(x, '0')}")
            return [out]

        def src(idx):
            sub = [None] * len(perm)
            for o, p in enumerate(perm):
                sub[p] = idx[o]
            return self.em.elem(x, _flat_index(sub, x.shape))

        self._nest_assign(out, src)
        return [out]

    def _slice(self, eqn, ins):
        (x,) = ins
        p = eqn.params
        starts, strides = p["start_indices"], p["strides"] or (1,) * len(x.shape)
        out = self.em.new_value(eqn.outputs[0].aval)

        def src(idx):
            sub = [f"{s} + {i}*{st}" if st != 1 else (f"{s} + {i}" if s else i)
                   for i, s, st in zip(idx, starts, strides)]
            return self.em.elem(x, _flat_index(sub, x.shape))

        self._nest_assign(out, src)
        return [out]

    def _dynamic_slice(self, eqn, ins):
        x, *starts = ins
        sizes = eqn.params["slice_sizes"]
        aval = eqn.outputs[0].aval
        s = self._clamped_starts(x, starts, [self.em.sym(k) for k in sizes])
        out = self.em.new_value(aval)
        if not out.shape:
            self.emit(f"{out.name} = {self.em.elem(x, _flat_index(s, x.shape))}")
            return [out]

        def src(idx):
            return self.em.elem(x, _flat_index([f"{a} + {i}" for a, i in zip(s, idx)],
                                               x.shape))

        self._nest_assign(out, src)
        return [out]

    def _clamped_starts(self, x, starts, sizes):
        names = []
        for st, n, k in zip(starts, x.shape, sizes):
            name = self.em.fresh("s")
            hi = f"{n} - {k}"
            self.emit(f"{name} = min(max(np.intp({self.em.elem(st, '0')}), 0), {hi})")
            names.append(name)
        return names

    def _dynamic_update_slice(self, eqn, ins):
        x, upd, *starts = ins
        out = self.em.new_value(eqn.outputs[0].aval)
        self.lines.extend(_copy_lines(out, x, self.ind, self.em))
        ushape = upd.shape
        s = self._clamped_starts(x, starts, list(ushape) or [])
        lines: list[str] = []

        def body(idx):
            dst = _flat_index([f"{a} + {i}" for a, i in zip(s, idx)], out.shape)
            return [f"{out.name}[{dst}] = {self.em.elem(upd, _flat_index(idx, ushape))}"]

        _nest(lines, ushape, self.ind, body, self.em)
        self.lines.extend(lines)
        return [out]

    def _concatenate(self, eqn, ins):
        dim = eqn.params["dimension"]
        out = self.em.new_value(eqn.outputs[0].aval)
        offset = []
        for x, v in zip(ins, eqn.inputs):
            xs = x.shape
            lines: list[str] = []
            off = " + ".join(offset) or "0"

            def body(idx, x=x, xs=xs, off=off):
                dst = list(idx)
                dst[dim] = f"{off} + {idx[dim]}" if off != "0" else idx[dim]
                return [f"{out.name}[{_flat_index(dst, out.shape)}] = "
                        f"{self.em.elem(x, _flat_index(idx, xs))}"]

            _nest(lines, xs, self.ind, body, self.em)
            self.lines.extend(lines)
            offset.append(self.em.sym(v.aval.shape[dim]))
        if len(out.shape) == 1 and all(
                (x.scalar or x.splat) and v.aval.shape == (1,) for x, v in zip(ins, eqn.inputs)):
            out.parts = tuple(x.name for x in ins)
        return [out]

    def _select_n(self, eqn, ins):
        return [self._elementwise(eqn, ins)]

    def _reduce(self, eqn, ins):
        """A reduction, or a cumulative scan: a reduction over its axis (walked backwards
        with `reverse`) that stores its accumulator at every step."""
        x = ins[0]
        scan = eqn.primitive in scan_rules
        if scan and scan_rule(eqn) is None:
            raise Unsupported(f"{eqn.primitive.name} of {eqn.outputs[0].aval.dtype}")
        identity, combine = scan_rule(eqn) if scan else reduction_rules[eqn.primitive]
        aval = eqn.outputs[0].aval
        axes = (eqn.params["axis"],) if scan else tuple(eqn.params["axes"])
        acc_dtype = np.dtype(np.float64) if aval.dtype.kind == "f" and \
            eqn.primitive.name == "reduce_sum" else aval.dtype
        out = self.em.new_value(aval)
        acc = self.em.fresh("acc")
        kept = [a for a in range(len(x.shape)) if a not in axes]
        idx = [None] * len(x.shape)
        depth = 0
        for a in kept:
            if x.shape[a] == "1":
                idx[a] = "0"
                continue
            idx[a] = self.em.fresh("j")
            self.emit(f"for {idx[a]} in range({x.shape[a]}):", depth)
            depth += 1
        self.emit(f"{acc} = {typed_const(identity(aval.dtype), acc_dtype)}", depth)
        inner = depth
        for a in axes:
            if x.shape[a] == "1":
                idx[a] = "0"
                continue
            idx[a] = first = self.em.fresh("j")
            self.emit(f"for {idx[a]} in range({x.shape[a]}):", inner)
            inner += 1
            if scan and eqn.params["reverse"]:
                idx[a] = self.em.fresh("j")
                self.emit(f"{idx[a]} = {x.shape[a]} - 1 - {first}", inner)
        val = self.em.elem(x, _flat_index(idx, x.shape))
        if scan:
            xs = {f"x{k}": self.em.elem(v, _flat_index(idx, x.shape)) for k, v in enumerate(ins)}
            first = "True" if x.shape[axes[0]] == "1" else f"{first} == 0"
            new = combine.format(acc=acc, x=val, first=first, **xs)
            self.emit(f"{acc} = " + cast(new, aval.dtype), inner)
            self.emit(f"{out.name}[{_flat_index(idx, x.shape)}] = {acc}", inner)
            return out
        self.emit(f"{acc} = " + combine.format(acc=acc, x=val), inner)
        res = cast(acc, aval.dtype)
        if not out.shape:
            self.emit(f"{out.name} = {res}", depth)
        else:
            kidx = [idx[a] for a in kept]
            self.emit(f"{out.name}[{_flat_index(kidx, out.shape)}] = {res}", depth)
        return out

    def _dot_general(self, eqn, ins):
        from jumba._src.compiler import loop_dot

        return loop_dot.dot_general(self, eqn, ins)

    def _cond(self, eqn, ins):
        index, *ops = ins
        branches = eqn.params["branches"]
        outs = [self.em.new_value(v.aval) for v in eqn.outputs]
        idx = self.em.fresh("br")
        self.emit(f"{idx} = {self.em.elem(index, '0')}")
        n = len(branches)
        for k, br in enumerate(branches):
            if n == 1:
                head = "if True:"
            elif k == 0:
                head = f"if {idx} <= 0:"
            elif k == n - 1:
                head = "else:"
            else:
                head = f"elif {idx} == {k}:"
            self.emit(head)
            sub = _Body(self.em, self.lines, self.ind + 1)
            res = sub.closed(br, ops)
            for o, r in zip(outs, res):
                self.lines.extend(_copy_lines(o, r, self.ind + 1, self.em))
        return outs

    # -- loops ------------------------------------------------------------------------

    def _materialize(self, x: Val) -> Val:
        if not x.splat:
            return x
        buf = self.em.buffer(x.shape, x.dtype)
        self.lines.extend(_copy_lines(buf, x, self.ind, self.em))
        return buf

    def _carry_vals(self, init: list[Val], avals) -> list[Val]:
        """Loop-carried locals initialised from `init` (arrays copied into own buffers)."""
        carry = []
        for x, aval in zip(init, avals):
            c = self.em.new_value(aval)
            self.lines.extend(_copy_lines(c, x, self.ind, self.em))
            carry.append(c)
        return carry

    def _update_carry(self, carry, new, ind):
        """Set the carries to their new values at the end of an iteration. Arrays are
        copied: trading the buffers' places instead (a, b = b, a) makes numba's loops
        over them ~30x slower (measured), far more than a copy costs."""
        scalars = [(c, n) for c, n in zip(carry, new) if c.scalar]
        arrays = [(c, n) for c, n in zip(carry, new) if not c.scalar]
        carry_names = {c.name for c, _ in arrays}
        if any(n.name in carry_names and n.name != c.name for c, n in arrays):
            # A new carry that is an old carry buffer (e.g. a swap): go through temporaries.
            tmp = []
            for c, n in arrays:
                t = self.em.buffer(c.shape, c.dtype)
                self.lines.extend(_copy_lines(t, n, ind, self.em))
                tmp.append((c, t))
            arrays = tmp
        for c, n in arrays:
            if n.name != c.name:
                self.lines.extend(_copy_lines(c, n, ind, self.em))
        if scalars:
            lhs = ", ".join(c.name for c, _ in scalars)
            rhs = ", ".join(self.em.elem(n, "0") for _, n in scalars)
            self.lines.append("    " * ind + f"{lhs} = {rhs}")

    def _scan(self, eqn, ins, length: str | None = None, ys_dest=None):
        p = eqn.params
        nc, nk = p["num_consts"], p["num_carry"]
        body = p["jaxpr"]
        consts, init, xs = ins[:nc], ins[nc:nc + nk], ins[nc + nk:]
        n = length or self.em.sym(p["length"])
        carry = self._carry_vals(init, body.out_avals[:nk])
        y_avals = body.out_avals[nk:]
        ys = ys_dest or [self.em.buffer((n, *self.em.syms(a.shape)), a.dtype)
                         for a in y_avals]
        it = self.em.fresh("i")
        self.emit(f"for {it} in range({n}):")
        if p["reverse"]:
            i = self.em.fresh("i")
            self.emit(f"{i} = {n} - 1 - {it}", 1)
        else:
            i = it
        rows = []
        xs = [self._materialize(x) for x in xs]
        for x, v in zip(xs, body.in_avals[nc + nk:]):
            rshape = self.em.syms(v.shape)
            r = _prod(rshape)
            if v.shape == ():
                t = self.em.fresh()
                self.emit(f"{t} = {x.name}[{i}]", 1)
                rows.append(Val(t, (), v.dtype))
            else:
                t = self.em.fresh("row")
                lo = f"{i}*{r}" if r != "1" else i
                self.emit(f"{t} = {x.name}[{lo}:{lo} + {r}]", 1)
                rows.append(Val(t, rshape, v.dtype, owned=False))
        sub = _Body(self.em, self.lines, self.ind + 1)
        outs = sub.closed(body, consts + carry + rows, {nc + k: k for k in range(nk)})
        for y, val, a in zip(ys, outs[nk:], y_avals):
            r = _prod(self.em.syms(a.shape))
            if val.scalar and r == "1":
                self.emit(f"{y.name}[{i}] = {val.name}", 1)
            else:
                j = self.em.fresh("j")
                lo = f"{i}*{r}" if r != "1" else i
                self.emit(f"for {j} in range({r}):", 1)
                self.emit(f"{y.name}[{lo} + {j}] = {self.em.elem(val, j)}", 2)
        self._update_carry(carry, outs[:nk], self.ind + 1)
        return carry + ys

    def _while(self, eqn, ins):
        p = eqn.params
        ncc, nbc = p["cond_nconsts"], p["body_nconsts"]
        cc, bc, init = ins[:ncc], ins[ncc:ncc + nbc], ins[ncc + nbc:]
        carry = self._carry_vals(init, p["body_jaxpr"].out_avals)
        self.emit("while True:")
        sub = _Body(self.em, self.lines, self.ind + 1)
        (pred,) = sub.closed(p["cond_jaxpr"], cc + carry)
        self.emit(f"if not {self.em.elem(pred, '0')}:", 1)
        self.emit("break", 2)
        new = sub.closed(p["body_jaxpr"], bc + carry, {nbc + k: k for k in range(len(carry))})
        self._update_carry(carry, new, self.ind + 1)
        return carry


_SHIFTS = frozenset(["shift_left", "shift_right_logical", "shift_right_arithmetic"])

_HANDLERS = {name: "_" + name for name in (
    "broadcast_in_dim", "reshape", "squeeze", "expand_dims", "convert_element_type",
    "transpose", "slice", "dynamic_slice", "dynamic_update_slice", "concatenate",
    "select_n", "dot_general", "cond", "scan", "while")}
