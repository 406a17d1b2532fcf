"""Kernel source generation: one fused group -> the text of one numba kernel.

Kernels are generic: names are canonical (in0.., out0.., t0..) and sizes are arguments,
so the same group in another program, at another batch size, gives the same text and
therefore the same cached kernel. The text depends only on the operations, dtypes of
constants, ranks and which input axes broadcast.

Two loop shapes:
- flat: every array input has the loop's full shape, so all arrays are passed as 1-D
  views and one loop runs over all elements (any rank shares one kernel);
- nest: one loop per axis; inputs that broadcast index 0 on their size-1 axes. A closing
  reduction puts the kept axes outside and the reduced axes inside, with a register
  accumulator. Cumulative scans run their axis in their direction (`reverse`: from the
  end) with one running accumulator each, whose value at each step their consumers in the
  group read like any other temporary (see `_scan_nest`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from jumba._src.compiler.fusion import FusedGroup
from jumba._src.compiler.lowering import (
    cast,
    heavy_rules,
    reduction_rules,
    scalar_rules,
    scan_rule,
    typed_const,
    vector_f32_rules,
)
from jumba._src.core import Literal
from jumba._src.lax.structural import broadcast_in_dim_p


@dataclass
class KernelSpec:
    """What the orchestrating code needs to call a generated kernel."""

    source: str
    mode: str  # "flat" or "nest"
    loop_shape: tuple
    array_inputs: list  # Vars passed as arrays, in argument order
    scalar_inputs: list  # Literals or 0-d Vars passed as scalars, in argument order
    outputs: list  # Vars written by the kernel, in argument order
    comment: str
    num_ops: int = 1  # work per element, in simple ops (`_work`)
    reduced_axes: tuple = ()  # reduced or scanned: the kernel cannot be split along them
    # Per array input, whether its reads run along the loop's first axis (a split slices
    # it) or not (every part reads all of it); None if one input is read both ways.
    along_first: tuple | None = None
    # A closing reduction: its primitive's name and the index of its output in `outputs`.
    reduction: str | None = None
    reduction_output: int | None = None


# A float32 tanh, exp or log helper is a polynomial of 10-20 operations per element:
# counted as 8 simple ops, a tanh layer of 1M values (16384x64) is split over the helper
# thread, where a count of one would leave it on one core (1.55 -> 1.04 ms, measured with
# the earlier, slower tanh).
_HELPER_WORK = 8


def _work(eqn) -> int:
    """The work per element of one equation, in simple ops (`KernelSpec.num_ops`)."""
    if eqn.primitive in vector_f32_rules or eqn.primitive in heavy_rules:
        return _HELPER_WORK
    return 1


def _is_scalar_input(v) -> bool:
    return isinstance(v, Literal) or v.aval.shape == ()


def kernel_spec(group: FusedGroup) -> KernelSpec:
    red, scans = group.reduction, group.scans
    loop_shape = red.inputs[0].aval.shape if red is not None else group.shape
    arrays = [v for v in group.inputs if not _is_scalar_input(v)]
    scalars = [v for v in group.inputs if _is_scalar_input(v)]
    flat = red is None and not scans and all(v.aval.shape == loop_shape for v in arrays) \
        and not any(e.primitive is broadcast_in_dim_p for e in group.eqns)
    rank = len(loop_shape)
    env: dict = {}
    args = [f"n{i}" for i in range(1 if flat else rank)]
    for k, v in enumerate(arrays):
        env[v] = ("array", f"in{k}")
    for k, v in enumerate(scalars):
        env[v] = ("scalar", f"s{k}")
    args += [f"in{k}" for k in range(len(arrays))] + [f"s{k}" for k in range(len(scalars))]
    outs = list(group.outputs)
    args += [f"out{k}" for k in range(len(outs))]

    if flat:
        idx_full = "i"
        loops = ["for i in range(n0):"]
        kept_axes, red_axes = (), ()
    else:
        red_axes = tuple(red.params["axes"]) if red is not None else ()
        kept_axes = tuple(a for a in range(rank) if a not in red_axes)
        idx_full = ", ".join(f"i{a}" for a in range(rank))
        loops = [f"for i{a} in range(n{a}):" for a in (*kept_axes, *red_axes)]

    along: dict = {}  # array input -> {does a read of it index with i0?}

    def indexed(v, idx):
        along.setdefault(v, set()).add("i0" in idx)
        return f"{env[v][1]}[{', '.join(idx)}]" if idx else f"{env[v][1]}[()]"

    def load(v):
        kind, name = env[v]
        if kind == "scalar":
            return name
        if flat:
            return f"{name}[i]"
        shape = v.aval.shape
        lead = rank - len(shape)
        return indexed(v, [("0" if shape[j] == 1 and loop_shape[lead + j] != 1
                            else f"i{lead + j}") for j in range(len(shape))])

    def load_broadcast(v, bdims):
        # The operand's axes map to the loop's axes `bdims` (not NumPy's trailing ones).
        kind, name = env[v]
        if kind == "scalar":
            return name
        shape = v.aval.shape
        return indexed(v, [("0" if shape[j] == 1 and loop_shape[d] != 1 else f"i{d}")
                           for j, d in enumerate(bdims)])

    body: list[str] = []
    # Loads that use no loop index (size-1 inputs broadcast over the whole loop) are read
    # once before the loops: inside, they would be reloaded after every store (the output
    # might alias them), which stops LLVM from vectorising the loop.
    hoisted: list[str] = []
    temps: dict = {}
    loaded: dict = {}

    def expr_of(v):
        if v in temps:
            return temps[v]
        if v not in loaded:
            t = f"t{len(temps) + len(loaded)}"
            expr = load(v)
            invariant = env[v][0] == "array" and not flat and "i" not in expr[len("in"):]
            (hoisted if invariant else body).append(f"{t} = {expr}")
            loaded[v] = t
        return loaded[v]

    ops = []
    split = None  # (index in body, the value carried between the two loops) for fission
    scan_nest, accs, first = _scan_nest(scans, rank) if scans else ([], [], None)
    for eqn in group.eqns:
        if eqn is red:
            continue
        if eqn in scans:
            acc = accs[scans.index(eqn)]
            xs = {f"x{k}": expr_of(v) for k, v in enumerate(eqn.inputs)}
            t = f"t{len(temps) + len(loaded)}"
            new = scan_rule(eqn)[1].format(acc=acc, x=xs["x0"], first=first, **xs)
            body += [f"{t} = {cast(new, eqn.outputs[0].aval.dtype)}", f"{acc} = {t}"]
            temps[eqn.outputs[0]] = t
            ops.append(eqn.primitive.name)
            continue
        if split is None and red is None and not scans and \
                eqn.primitive in heavy_rules and len(body) > 40 and \
                sum(v in temps for v in eqn.inputs) == 1:
            split = (len(body), next(v for v in eqn.inputs if v in temps))
        if eqn.primitive is broadcast_in_dim_p:
            (v,) = eqn.inputs
            t = f"t{len(temps) + len(loaded)}"
            body.append(f"{t} = {load_broadcast(v, eqn.params['broadcast_dimensions'])}")
            temps[eqn.outputs[0]] = t
            ops.append("broadcast_in_dim")
            continue
        in_avals = [v.aval for v in eqn.inputs]
        out_aval = eqn.outputs[0].aval
        e = scalar_rules[eqn.primitive]([expr_of(v) for v in eqn.inputs], eqn.params,
                                         in_avals, out_aval)
        if out_aval.dtype != np.bool_:
            e = cast(e, out_aval.dtype)
        t = f"t{len(temps) + len(loaded)}"
        body.append(f"{t} = {e}")
        temps[eqn.outputs[0]] = t
        ops.append(eqn.primitive.name)

    full_idx = "i" if flat else idx_full
    stores = [f"out{k}[{full_idx}] = {temps[v]}" for k, v in enumerate(outs)
              if v in temps]
    lines = ["@numba.njit(cache=True, nogil=True, error_model='numpy')",
             f"def kernel({', '.join(args)}):"] + ["    " + s for s in hoisted]
    fission = _fission(split, body, temps, outs, full_idx) if split is not None else None
    if scans:
        lines += scan_nest + ["    " * (rank + 1) + s for s in body + stores]
    elif fission is not None:
        # Two loops over the same elements: a long chain (threefry) then a heavy expression
        # (erf_inv), passing one value through an output buffer. One loop holding both
        # spills registers: normal(1e6) took 14 ms of CPU fused, 10 ms split.
        depth = len(loops)
        ind = "    " * (depth + 1)
        for part in fission:
            lines += ["    " * (d + 1) + loop for d, loop in enumerate(loops)]
            lines += [ind + s for s in part]
    elif red is None:
        depth = len(loops)
        lines += ["    " * (d + 1) + loop for d, loop in enumerate(loops)]
        ind = "    " * (depth + 1)
        lines += [ind + s for s in body + stores]
    else:
        identity, combine = reduction_rules[red.primitive]
        out_aval = red.outputs[0].aval
        acc_dtype = np.dtype(np.float64) if out_aval.dtype.kind == "f" and \
            red.primitive.name == "reduce_sum" else out_aval.dtype
        red_out = f"out{outs.index(red.outputs[0])}"
        nk = len(kept_axes)
        kept_idx = ", ".join(f"i{a}" for a in kept_axes)
        in_order = bool(red_axes and kept_axes and kept_axes[-1] == rank - 1)
        if in_order:
            # The last (contiguous) axis is kept, e.g. a sum over (N, H, W) per channel: walk
            # memory in order and accumulate into an array of the kept shape (kept-outer
            # loops would read with a stride of a whole row and miss the cache every time).
            kept_shape = "(" + "".join(f"n{a}, " for a in kept_axes) + ")"
            ident = typed_const(identity(out_aval.dtype), acc_dtype)
            lines.append(f"    acc = np.full({kept_shape}, {ident})")
            lines += ["    " * (d + 1) + f"for i{d} in range(n{d}):" for d in range(rank)]
            acc = f"acc[{kept_idx}]"
        else:
            lines += ["    " * (d + 1) + loops[d] for d in range(nk)]
            lines.append("    " * (nk + 1) +
                         f"acc = {typed_const(identity(out_aval.dtype), acc_dtype)}")
            lines += ["    " * (nk + d + 1) + loops[nk + d] for d in range(len(red_axes))]
            acc = "acc"
        inner = "    " * (rank + 1)  # both nests hold every axis
        val = expr_of(red.inputs[0]) if red.inputs[0] not in temps else temps[red.inputs[0]]
        # Loads for the reduced value must happen inside the inner loop: they are in body.
        lines += [inner + s for s in body + stores]
        lines.append(inner + f"{acc} = " + combine.format(acc=acc, x=val))
        if in_order:
            lines += ["    " * (d + 1) + f"for i{a} in range(n{a}):"
                      for d, a in enumerate(kept_axes)]
        # A 0-d result is passed as a 1-element vector (numba has no 0-d stores).
        target = f"{red_out}[{kept_idx}]" if kept_idx else f"{red_out}[0]"
        lines.append("    " * (nk + 1) + f"{target} = {cast(acc, out_aval.dtype)}")
        ops.append(red.primitive.name)
    source = _module_source(lines)
    comment = f"fused {len(group.eqns)} ops: {' '.join(ops)} over {list(loop_shape)}"
    if red is not None and in_order:
        comment += " (in memory order)"
    if scans:
        comment += f" along axis {scans[0].params['axis']}" + \
            (" from the end" if scans[0].params["reverse"] else "")
    serial = tuple(red.params["axes"]) if red is not None else \
        (scans[0].params["axis"],) if scans else ()
    along_first = None if any(len(along.get(v, ())) > 1 for v in arrays) else \
        tuple(True in along.get(v, ()) for v in arrays)
    return KernelSpec(source, "flat" if flat else "nest", loop_shape, arrays, scalars, outs,
                      comment, sum(map(_work, group.eqns)), serial, along_first,
                      None if red is None else red.primitive.name,
                      None if red is None else outs.index(red.outputs[0]))


def _scan_nest(scans, rank):
    """(lines, accumulators, first-step test): the loop nest of a group with cumulative
    scans along `axis` (the group's body goes inside it): the axes before it outside, then
    the scanned axis (backwards with `reverse`), then the axes after it. With none after it
    the accumulators are locals; otherwise arrays over the axes after it, so that memory is
    read in order (a column scan of a matrix walks its rows: scanning each column innermost
    would read with a stride of a whole row)."""
    axis, reverse = scans[0].params["axis"], scans[0].params["reverse"]
    after = range(axis + 1, rank)
    pad = lambda d: "    " * (d + 1)  # noqa: E731 (the loop of axis d is at depth d)
    lines, starts = [], []
    for k, scan in enumerate(scans):
        dtype = scan.outputs[0].aval.dtype
        ident = typed_const(scan_rule(scan)[0](dtype), dtype)
        if after:
            shape = "(" + "".join(f"n{a}, " for a in after) + ")"
            lines.append(f"    acc{k} = np.empty({shape}, np.{dtype.name})")
        starts.append(pad(axis) + (f"acc{k}[:] = {ident}" if after else f"acc{k} = {ident}"))
    lines += [pad(d) + f"for i{d} in range(n{d}):" for d in range(axis)] + starts
    if reverse:
        lines += [pad(axis) + f"for r{axis} in range(n{axis}):",
                  pad(axis + 1) + f"i{axis} = n{axis} - 1 - r{axis}"]
    else:
        lines.append(pad(axis) + f"for i{axis} in range(n{axis}):")
    lines += [pad(a) + f"for i{a} in range(n{a}):" for a in after]
    idx = f"[{', '.join(f'i{a}' for a in after)}]" if after else ""
    first = f"{'r' if reverse else 'i'}{axis} == 0"
    return lines, [f"acc{k}{idx}" for k in range(len(scans))], first


def _module_source(lines: list) -> str:
    header = "import math\n\nimport numba\nimport numpy as np\n"
    if any("_kh." in line for line in lines):
        # Scalar helpers (lowering rules call them as _kh.name); the version in the comment
        # changes the kernel's text, hence its cache entry, whenever a helper changes.
        from jumba._src.compiler.kernel_helpers import HELPERS_VERSION

        header += ("\nfrom jumba._src.compiler import kernel_helpers as _kh  "
                   f"# helpers {HELPERS_VERSION}\n")
    return header + "\n\n" + "\n".join(lines) + "\n"


def _fission(split, body, temps, outs, idx):
    """The two loop bodies of a group split before its heavy equation, or None when the
    second part needs more from the first than the one value, or no output buffer of that
    value's type is written by the second part (to carry it)."""
    at, v = split
    first, second = body[:at], body[at:]
    defined_first = {line.split(" = ", 1)[0] for line in first}
    used_second = set(re.findall(r"\bt\d+\b", "\n".join(second)))
    if (used_second & defined_first) - {temps[v]}:
        return None
    defined_second = {line.split(" = ", 1)[0] for line in second}
    carrier = next((k for k, o in enumerate(outs) if o in temps and
                    temps[o] in defined_second and o.aval.dtype == v.aval.dtype), None)
    if carrier is None:
        return None
    stores1 = [f"out{k}[{idx}] = {temps[o]}" for k, o in enumerate(outs)
               if o in temps and temps[o] in defined_first]
    stores2 = [f"out{k}[{idx}] = {temps[o]}" for k, o in enumerate(outs)
               if o in temps and temps[o] in defined_second]
    carry = f"out{carrier}[{idx}]"
    return (first + stores1 + [f"{carry} = {temps[v]}"],
            [f"{temps[v]} = {carry}"] + second + stores2)
