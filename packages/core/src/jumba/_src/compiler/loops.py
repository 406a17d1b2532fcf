"""Loops compiled whole: a `scan` or `while` equation -> the text of ONE numba function.

The function holds the entire loop: carries are locals (scalars) or buffers allocated once
before the loop (arrays), `xs` are read row by row, `ys` are written into outputs that
Python allocated and passed in, and every primitive of the body (nested `cond`/`switch`
as if/else, nested `scan`/`while` as inner loops) is written out as scalar code or small
loop nests, so an iteration costs no Python and, after the prologue, no allocation.

Generic over sizes: every array is passed and kept flat (1-D, row-major), and every size
other than 1 is a symbol (`d0`, `d1`, ...) given at run time, as is the trip count of the
outer loop (`n_iter`) and every integer constant of the body (index arithmetic often adds
a length); the text depends only on the operations, float constants, dtypes, ranks and
which sizes coincide. So a new batch size or length reuses the kernel (same text, same
hash, same file in the kernel cache). Contractions of up to `SMALL_DOT` elements are
unrolled, so their length is in the text.

Speed, as measured: consecutive elementwise ops over one shape share one loop, keeping
intermediates in locals (stores nothing reads are dropped); a matrix-vector product calls
a helper compiled with `fastmath={'reassoc', 'contract'}` (a sum in order waits on every
add: ~10x slower at 64x64), and nothing else is reassociated; each buffer is its own
`np.empty` in the prologue (slices of one workspace defeat LLVM's alias analysis: 8x
slower loops); carries are copied, not swapped (swapping array variables made loops ~30x
slower), except that a carry's new value may be written over it (`loop_carry.py`): by an
elementwise op, or, for `carry + dot_general(...)` (a reverse sweep's weight cotangents),
by the product accumulating into the carry's buffer with no temporary (the 1,000-step
hidden-64 RNN's backward sweep: 2.5 -> 1.6 ms).

The rule for what compiles (`loop_kernel` returns None otherwise and the loop stays on
its NumPy implementation, orchestrated per iteration from Python):
- every primitive of the body (recursively) has a lowering here: the elementwise,
  reduction and cumulative-scan rules of `lowering.py`, `broadcast_in_dim`, `reshape`,
  `convert_element_type`, `transpose`, `slice`, `concatenate`, `dynamic_slice`,
  `dynamic_update_slice`, `dot_general`, `cond`, `scan`, `while`, `argmax`/`argmin` and
  `gather` (`loop_ops.py`), and any primitive with an expansion rule (threefry2x32);
- a `dot_general` of up to `MAX_DOT_WORK` multiply-adds per iteration is a loop nest or a
  matrix-vector helper; a larger one calls gemm from the loop's function (`loop_blas.py`;
  float32/float64 only: a large integer or complex product leaves the loop orchestrated);
- a body calling gemm may pass at most `LIBM_BUDGET` elements per iteration through libm
  (one call per element in a kernel, against NumPy's SIMD loops when orchestrated).
  Measured on the PPO rollout (1,024 CartPole environments, MLPs 4-64-64-2 and 4-64-64-1,
  64 steps, 2 shared cores, ratios of steps/s to JAX interleaved in one process, with a
  vectorised float32 tanh in kernels): compiled whole with gemm 0.90x JAX (load 1.2) and
  0.59x (load 3.3); driven from Python with tier-1 bodies 0.32x (load 1.4); compiled
  whole with numba's libm tanh (4 x 65,536 calls per step) ~4x slower than driven from
  Python. At ~60 ns per libm call against ~5 ns in NumPy, 16k elements cost ~1 ms per
  iteration, about what a Python-driven body of that size costs per iteration.
Such a loop is driven from Python with a tier-1 body when that compiles something
(`loop_tier1.py`), else with the tier-0 body; either way its dead carry buffers are
updated in place (`inplace.py`). A kernel of more than `loop_outline.MAX_LINES` lines is
cut into functions (numba's front end is superlinear in a function's size: the rollout's
~1,000-line body took 230 s as one function at load 9; cut, 45 s cold at load 3, 0.8 s for
the first call of a new process with the kernel in the disk cache).

A scan whose body provably works row by row over a batch axis (a vmapped environment
step and policy) runs its kernel once per block of rows, on the caller's thread and a
helper's (`loop_split.py`): the text is generic over sizes, so one kernel serves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from jumba._src.compiler.loop_body import (  # noqa: F401 (MAX_DOT_WORK: the rule's knob)
    MAX_DOT_WORK,
    SMALL_DOT,
    Unsupported,
    Val,
    _Body,
    _copy_lines,
    _Emitter,
)
from jumba._src.compiler.loop_outline import outline
from jumba._src.core import Literal


@dataclass
class LoopKernel:
    """A compiled-loop equation: what the orchestrating code needs to call its kernel."""

    source: str
    eqn: object
    dims: list  # values of d0, d1, ... in order
    n_iter: int | None  # the outer trip count (scan), passed first
    array_args: list = field(default_factory=list)  # per operand: True if passed as a flat array
    extra_consts: list = field(default_factory=list)  # body constants passed as arrays
    scalar_args: list = field(default_factory=list)  # integer constants passed as scalars
    num_ops: int = 0
    comment: str = ""
    uses_blas: bool = False  # calls gemm (`loop_blas.py`): run with SciPy's BLAS 1-threaded
    split: object = None  # `loop_split.SplitPlan`: run over blocks of rows on every core
    row_dim: int = 0  # the position in `dims` of the split's row count


def _module_source(lines) -> str:
    """The module text: the fused kernels' header (with the scalar helpers some lowering
    rules call, when the body uses them), BLAS's declarations when the body calls gemm
    (`loop_blas.py`), and `lines`."""
    from jumba._src.compiler.kernels import _module_source as kernel_module_source
    from jumba._src.compiler.loop_blas import module_header

    blas = module_header(lines)
    return kernel_module_source(([blas] if blas else []) + list(lines))


def is_loop(eqn) -> bool:
    return eqn.primitive.name in ("scan", "while")


def loop_kernel(eqn) -> LoopKernel | None:
    """The kernel of a `scan`/`while` equation, or None when its body does not compile."""
    if not is_loop(eqn):
        return None
    em = _Emitter()
    try:
        lk = _loop_kernel(eqn, em)
    except Unsupported:
        return None
    if lk.uses_blas and libm_elements(eqn) > LIBM_BUDGET:
        return None  # NumPy's SIMD loops, between tier-1 kernels, do these faster
    from jumba._src.compiler.loop_split import split_plan

    plan = split_plan(eqn)
    if plan is not None and plan.rows in lk.dims:
        lk.split, lk.row_dim = plan, lk.dims.index(plan.rows)
        lk.comment += f", split by rows of {plan.rows}"
    return lk


# Elements per iteration that a body calling gemm may pass through libm (an elementwise
# function numba's kernels compute with one libm call per element: `loop_tier1._LIBM`,
# unless its lowering calls a vectorised helper `_kh.*`) and still compile whole. See the
# module docstring for the measurements behind it.
LIBM_BUDGET = 1 << 14


def libm_elements(eqn) -> int:
    """Elements per iteration of `eqn`'s body (nested bodies included, nested loops once)
    computed by a libm call per element in a loop kernel."""
    from jumba._src.compiler.loop_tier1 import _LIBM
    from jumba._src.compiler.lowering import scalar_rules

    n = 0
    for closed in sub_jaxprs(eqn):
        for e in closed.jaxpr.eqns:
            n += libm_elements(e)
    if eqn.primitive.name in _LIBM and eqn.primitive in scalar_rules:
        out = eqn.outputs[0].aval
        args = [f"x{k}" for k in range(len(eqn.inputs))]
        expr = scalar_rules[eqn.primitive](args, eqn.params, [v.aval for v in eqn.inputs],
                                           out)
        if expr is not None and "_kh." not in expr:
            n += int(np.prod(out.shape))
    return n


def sub_jaxprs(eqn):
    """The closed Jaxprs an equation carries in its parameters (loop bodies, branches)."""
    for v in eqn.params.values():
        for c in (v if isinstance(v, (list, tuple)) else [v]):
            if hasattr(c, "jaxpr") and hasattr(c.jaxpr, "eqns"):
                yield c


def _loop_kernel(eqn, em: _Emitter) -> LoopKernel:
    is_scan = eqn.primitive.name == "scan"
    p = eqn.params
    n_xs = len(eqn.inputs) - p["num_consts"] - p["num_carry"] if is_scan else 0
    first_x = len(eqn.inputs) - n_xs
    args, ins, array_args = [], [], []
    for k, v in enumerate(eqn.inputs):
        a = f"a{k}"
        args.append(a)
        if is_scan and k >= first_x:
            ins.append(Val(a, ("n_iter", *em.syms(v.aval.shape[1:])), v.aval.dtype, False))
            array_args.append(True)
        elif v.aval.shape == ():
            ins.append(Val(a, (), v.aval.dtype))
            array_args.append(False)
        else:
            ins.append(Val(a, em.syms(v.aval.shape), v.aval.dtype, False))
            array_args.append(True)
    lines: list[str] = []
    body = _Body(em, lines, 1)
    if is_scan:
        nk = p["num_carry"]
        ys_dest = [Val(f"o{nk + k}", ("n_iter", *em.syms(a.shape)), a.dtype)
                   for k, a in enumerate(p["jaxpr"].out_avals[nk:])]
        outs = body._scan(eqn, ins, length="n_iter", ys_dest=ys_dest)
        finals = outs[:nk]
    else:
        finals = body._while(eqn, ins)
    for k, c in enumerate(finals):
        # A 0-d output is passed as a 1-element vector (numba has no 0-d stores).
        lines.extend(_copy_lines(Val(f"o{k}", c.shape or ("1",), c.dtype), c, 1, em))
    lines = _drop_dead_stores(lines, em)
    lines, parts = outline(lines, set(em.helpers))
    n_out = len(eqn.outputs)
    dims = sorted(em.dims.items(), key=lambda kv: int(kv[1][1:]))
    params = (["n_iter"] if is_scan else []) + [s for _, s in dims] + args + \
        [name for name, _ in em.extra_consts] + [name for name, _ in em.scalar_args] + \
        [f"o{k}" for k in range(n_out)]
    # Each buffer its own allocation, once per call: LLVM then knows that buffers do not
    # overlap and vectorises their loops (slices of one workspace ran 8x slower, measured).
    prologue = [f"{name} = np.empty({size}, np.{dt})"
                for dt, bufs in em.workspace.items() for name, size in bufs.items()]
    src = ["@numba.njit(cache=True, nogil=True, error_model='numpy')",
           f"def kernel({', '.join(params)}):"]
    src += ["    " + s for s in prologue] + lines
    helpers = "".join(h + "\n\n" for h in [*em.helpers.values(), *parts])
    source = _module_source((helpers + "\n".join(src)).split("\n"))
    kind = "scan" if is_scan else "while"
    uses_blas = any(name.startswith("gemm_") for name in em.helpers)
    comment = (f"{kind} loop of {em.num_ops} ops compiled whole"
               + (f", {p['length']} iterations" if is_scan else "")
               + (", matmuls by BLAS" if uses_blas else ""))
    return LoopKernel(source, eqn, [n for n, _ in dims],
                      p["length"] if is_scan else None, array_args,
                      [c for _, c in em.extra_consts], [c for _, c in em.scalar_args],
                      em.num_ops, comment, uses_blas)


_BUF = re.compile(r"\bbuf\d+\b")
_STORE = re.compile(r"^\s*(buf\d+)\[[^=]*\] = ")


def _drop_dead_stores(lines, em):
    """Remove the stores into buffers that nothing reads (an elementwise loop keeps its
    intermediates in locals), the buffers themselves, and loops left empty."""
    read = set()
    for line in lines:
        m = _STORE.match(line)
        rhs = line[m.end():] if m else line
        read.update(_BUF.findall(rhs))
    kept = [ln for ln in lines if not ((m := _STORE.match(ln)) and m.group(1) not in read)]
    for bufs in em.workspace.values():
        for name in [n for n in bufs if n not in read]:
            del bufs[name]
    for dt in [dt for dt, bufs in em.workspace.items() if not bufs]:
        del em.workspace[dt]
    while True:  # a `for` (or `while`/`if`) whose body is gone
        out = []
        for k, ln in enumerate(kept):
            nxt = kept[k + 1] if k + 1 < len(kept) else ""
            ind = len(ln) - len(ln.lstrip())
            if ln.rstrip().endswith(":") and len(nxt) - len(nxt.lstrip()) <= ind:
                if ln.lstrip().startswith("for "):
                    continue
                out += [ln, " " * (ind + 4) + "pass"]
                continue
            out.append(ln)
        if len(out) == len(kept):
            return out
        kept = out


def numba_signature(lk: LoopKernel):
    import numba

    eqn = lk.eqn
    sig = [numba.intp] * ((1 if lk.n_iter is not None else 0) + len(lk.dims))
    for v, is_array in zip(eqn.inputs, lk.array_args):
        dt = numba.from_dtype(np.dtype(v.aval.dtype))
        sig.append(numba.types.Array(dt, 1, "C") if is_array else dt)
    for c in lk.extra_consts:
        sig.append(numba.types.Array(numba.from_dtype(c.dtype), 1, "C"))
    for c in lk.scalar_args:
        sig.append(numba.from_dtype(c.dtype))
    for v in eqn.outputs:
        sig.append(numba.types.Array(numba.from_dtype(np.dtype(v.aval.dtype)), 1, "C"))
    return tuple(sig)


def compile_loop(lk: LoopKernel):
    """The compiled entry point of a loop kernel (from numba's disk cache when there)."""
    from jumba._src.compiler import kernel_cache

    dispatcher = kernel_cache.load_kernel(lk.source)
    sig = numba_signature(lk)
    dispatcher.compile(sig)
    return dispatcher.overloads[sig].entry_point


def call_lines(lk: LoopKernel, k: int, names, ref, namespace) -> list[str]:
    """The orchestrating code: allocate the outputs, call the kernel once (or once per
    block of rows, `loop_split.py`)."""
    eqn = lk.eqn
    lines = [f"# loop_{k}: {lk.comment} (one numba function, source below)"]
    for v in eqn.outputs:
        lines.append(f"{names(v)} = np.empty({v.aval.shape!r}, np.{v.aval.dtype.name})")
    lead = [str(lk.n_iter)] if lk.n_iter is not None else []
    args = lead + [str(d) for d in lk.dims]
    flat = "" if lk.split is not None else ".reshape(-1)"  # blocks are cut, then flattened
    ins = []
    for v, is_array in zip(eqn.inputs, lk.array_args):
        if is_array:
            ins.append(f"_contig({names(v)}){flat}")
        elif isinstance(v, Literal):
            ins.append(ref(v))
        else:
            ins.append(f"{names(v)}[()]")
    extra = []
    for c_i in range(len(lk.extra_consts)):
        key = f"loop_{k}_const{c_i}"
        namespace[key] = lk.extra_consts[c_i]
        extra.append(key)
    for c_i, c in enumerate(lk.scalar_args):
        key = f"loop_{k}_int{c_i}"
        namespace[key] = c
        extra.append(key)
    outs = [f"{names(v)}{flat}" for v in eqn.outputs]
    if lk.split is not None:
        from jumba._src.compiler.loop_split import run_split

        namespace["_run_split"] = run_split
        namespace[f"loop_{k}_plan"] = lk.split
        call = (f"_run_split(loop_{k}, loop_{k}_plan, ({''.join(a + ', ' for a in lead)}), "
                f"({''.join(str(d) + ', ' for d in lk.dims)}), {lk.row_dim}, "
                f"[{', '.join(ins)}], [{', '.join(extra)}], [{', '.join(outs)}])")
    else:
        call = f"loop_{k}({', '.join(args + ins + extra + outs)})"
    if lk.uses_blas:
        from jumba._src.compiler.loop_blas import single_threaded

        namespace["_blas_single_threaded"] = single_threaded
        lines += ["with _blas_single_threaded():", f"    {call}"]
    else:
        lines.append(call)
    return lines


class LoopNode:
    """A loop equation in tier 1's node list, run by its compiled kernel."""

    def __init__(self, kernel: LoopKernel):
        self.kernel = kernel
        self.fn = None  # the compiled entry point, set by Tier1Executable
        self.inputs = kernel.eqn.inputs
        self.outputs = kernel.eqn.outputs

    def call_lines(self, k, names, ref, namespace):
        return call_lines(self.kernel, k, names, ref, namespace)
