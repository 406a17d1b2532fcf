"""Tier-1 nodes for matrix products beyond one `dot_general` call each.

- `GemmUpdate`: `p + alpha * (a @ b)` (also `p - alpha * ...`, `p ± a @ b`) as one gemm
  accumulating into a copy of `p` (`runtime/gemm.py`), instead of a product and an
  elementwise kernel. Every gradient-descent update of a weight matrix has this form:
  `w - lr * (x.T @ delta)`. The equations folded are the product and the one or two
  elementwise equations that are its only use; they must form whole nodes (a fused group
  with more work in it is left alone: its kernel reads the product once anyway).
- `ProductPair`: two adjacent independent big products (plain ones or `GemmUpdate`s, as
  a layer's weight gradient and its input gradient in backprop) run at once, one per core
  (`gemm.matmul_pair`), instead of each being split over the cores in turn.

- `ThinProduct`: `x.T @ y` over a long shared axis with a thin side (x: K x m, y: K x n,
  K >= `THIN_ROWS`, min(m, n) <= `THIN_SIDE`): the weight gradient of a layer with one or
  two outputs over a big batch (a policy's 2 logits, a critic's value). BLAS ran
  these slowly (16384x64 by 16384x2: 0.43-0.58 ms on one thread); one numba loop over the
  rows, accumulating the small result in cache, took 0.21 ms (`gemm.thin_product`).

- `ScatterConv`: a 2-D convolution that `convolution._conv_impl` computes from the input
  side (`convolution.scatter_worth`), its sums over taps by one numba loop nest
  (`SHIFT_SUM_KERNEL`) instead of a NumPy slice-add per tap over short rows (0.24 ms
  against 0.69 for the CNN benchmark's input gradient).

All are general rules over the node list of `fusion.partition`; they keep the program's
results (up to the rounding of `alpha * (a @ b)` computed in the gemm, and the order of a
thin product's sum).
"""

from __future__ import annotations

import numpy as np

from jumba._src.compiler import fusion, kernel_cache
from jumba._src.core import JaxprEqn, Literal, Var
from jumba._src.runtime import blas, gemm

PAIR_FLOPS = 1e7  # each product of a pair: below this a hand-off costs what it saves
# A pair takes as long as its bigger product; splitting each product in turn takes about
# half the sum plus the splits' overhead (hand-offs, operands packed twice): pairs pay
# only for products of similar size.
PAIR_BALANCE = 0.7


def _prims():
    from jumba._src.interpreters.ad import add_any_p
    from jumba._src.lax.dot import dot_general_p
    from jumba._src.lax.elementwise import add_p, mul_p, sub_p

    return dot_general_p, add_p, add_any_p, sub_p, mul_p


def plain_matmul(eqn) -> tuple[str, str] | None:
    """For a `dot_general` that is one 2-D float matrix product (what its impl sends to
    `blas.matmul`): how its operands read as a @ b ("" or ".T" for each), else None."""
    dot_general_p = _prims()[0]
    if not isinstance(eqn, JaxprEqn) or eqn.primitive is not dot_general_p:
        return None
    x, y = (v.aval for v in eqn.inputs)
    (xc, yc), (xb, yb) = eqn.params["dimension_numbers"]
    pet = eqn.params.get("preferred_element_type")
    if (xb or yb or len(xc) != 1 or x.ndim != 2 or y.ndim != 2
            or np.dtype(x.dtype) not in (np.float32, np.float64) or x.dtype != y.dtype
            or (pet is not None and np.dtype(pet) != np.dtype(x.dtype))):
        return None
    return ("" if xc[0] == 1 else ".T"), ("" if yc[0] == 0 else ".T")


def _rows_and_depth(eqn) -> tuple[int, int]:
    """(m, k) of a plain matrix product `eqn` read as an m x k by k x n product."""
    x = eqn.inputs[0].aval
    k = x.shape[eqn.params["dimension_numbers"][0][0][0]]
    return x.size // max(k, 1), k


def _flops(eqn) -> float:
    x, y = (v.aval for v in eqn.inputs)
    return 2.0 * x.size * y.size / max(y.shape[eqn.params["dimension_numbers"][0][1][0]], 1)


class GemmUpdate:
    """`out = p + alpha * (a @ b)` by one gemm (see the module docstring)."""

    def __init__(self, dot, p, alpha, sign, folded, out):
        self.dot, self.p, self.alpha, self.sign = dot, p, alpha, sign
        self.folded = folded  # the elementwise equations replaced
        self.inputs = [*dot.inputs, p] + ([alpha] if isinstance(alpha, Var) else [])
        self.outputs = [out]
        self.flops = _flops(dot)

    def expr(self, names, ref) -> str:
        ta, tb = plain_matmul(self.dot)
        x, y = (names(v) for v in self.dot.inputs)
        if self.alpha is None:
            alpha = "1.0" if self.sign > 0 else "-1.0"
        else:
            a = ref(self.alpha) if type(self.alpha) is Literal else f"{names(self.alpha)}[()]"
            alpha = a if self.sign > 0 else f"-{a}"
        return f"_gemm_update({names(self.p)}, {x}{ta}, {y}{tb}, {alpha})"

    def call_lines(self, k, names, ref, namespace):
        namespace["_gemm_update"] = gemm.gemm_update
        ops = " ".join(e.primitive.name for e in self.folded)
        return [f"# gemm_{k}: dot_general + {ops} as one gemm accumulating into a copy",
                f"{names(self.outputs[0])} = {self.expr(names, ref)}"]


class ProductPair:
    """Two independent products run at once on two threads (see the module docstring)."""

    def __init__(self, first, second):
        self.parts = (first, second)
        self.inputs = [*first.inputs, *second.inputs]
        self.outputs = [*first.outputs, *second.outputs]

    def call_lines(self, k, names, ref, namespace):
        namespace.update(_gemm_update=gemm.gemm_update, _matmul=blas.matmul,
                         _matmul_pair=gemm.matmul_pair)
        exprs, works = [], []
        dots = [p.dot if isinstance(p, GemmUpdate) else p for p in self.parts]
        blas_threads = all(blas.prefers_blas_threads(*_rows_and_depth(d)) for d in dots)
        for part in self.parts:
            if isinstance(part, GemmUpdate):
                exprs.append(part.expr(names, ref))
                works.append(part.flops)
            else:
                ta, tb = plain_matmul(part)
                x, y = (names(v) for v in part.inputs)
                exprs.append(f"_matmul({x}{ta}, {y}{tb})")
                works.append(_flops(part))
        outs = ", ".join(names(p.outputs[0]) for p in self.parts)
        note = "side by side unless BLAS threads them" if blas_threads else "side by side"
        return [f"# pair_{k}: two independent products ({note})",
                f"{outs} = _matmul_pair(lambda: {exprs[0]}, lambda: {exprs[1]}, "
                f"{works[0]:.4g}, {works[1]:.4g}, blas_threads={blas_threads})"]


def _uses(jaxpr):
    uses: dict = {}
    for e in jaxpr.eqns:
        for v in e.inputs:
            if isinstance(v, Var):
                uses.setdefault(v, []).append(e)
    return uses


def _match_update(dot, uses, outvars):
    """(p, alpha, sign, folded eqns, out) when `dot`'s only use is `p ± [alpha *] dot`."""
    _, add_p, add_any_p, sub_p, mul_p = _prims()
    t = dot.outputs[0]
    if t in outvars or len(uses.get(t, ())) != 1:
        return None
    (e1,) = uses[t]
    alpha, folded, val = None, [e1], t
    if e1.primitive is mul_p:
        (c,) = [v for v in e1.inputs if v is not t] or [None]
        if c is None or c.aval.shape != () or c.aval.dtype != t.aval.dtype:
            return None
        m = e1.outputs[0]
        if m in outvars or len(uses.get(m, ())) != 1:
            return None
        alpha, val = c, m
        (e2,) = uses[m]
        folded.append(e2)
    else:
        e2 = e1
    if e2.primitive not in (add_p, add_any_p, sub_p) or len(e2.inputs) != 2:
        return None
    a, b = e2.inputs
    if e2.primitive is sub_p:
        if b is not val:
            return None  # val - p would need beta = -1
        p, sign = a, -1
    else:
        p, sign = (b if a is val else a), 1
    if (not isinstance(p, Var) or p is val or p.aval.shape != t.aval.shape
            or p.aval.dtype != t.aval.dtype or e2.outputs[0].aval.dtype != t.aval.dtype):
        return None
    return p, alpha, sign, folded, e2.outputs[0]


def fold_updates(jaxpr, nodes) -> list:
    """Replace each product whose only use is `p ± [alpha *] product` by a GemmUpdate."""
    dots = [n for n in nodes if plain_matmul(n) is not None]
    if not dots:
        return nodes
    uses, outvars = _uses(jaxpr), {v for v in jaxpr.outvars if isinstance(v, Var)}
    where: dict = {}  # eqn -> index of its node
    produced_at: dict = {}
    for i, n in enumerate(nodes):
        eqns = n.eqns if isinstance(n, fusion.FusedGroup) else [n]
        for e in eqns:
            if isinstance(e, JaxprEqn):
                where[id(e)] = i
        for v in getattr(n, "outputs", ()):
            produced_at[v] = i
        if isinstance(n, fusion.FusedGroup):
            for e in n.eqns:
                for v in e.outputs:
                    produced_at[v] = i
    replace: dict = {}  # node index -> new node (or None: removed)
    for dot in dots:
        m = _match_update(dot, uses, outvars)
        if m is None:
            continue
        p, alpha, sign, folded, out = m
        idx = {where.get(id(e)) for e in folded}
        if None in idx:
            continue
        # The folded equations must be whole nodes: alone, or a group of just them.
        ok = all(isinstance(nodes[i], JaxprEqn) or
                 {id(e) for e in nodes[i].eqns} <= {id(e) for e in folded} for i in idx)
        d = where[id(dot)]
        if not ok or any(i in replace for i in (*idx, d)):
            continue
        node = GemmUpdate(dot, p, alpha, sign, folded, out)
        # Run at the product's place when `p` (and alpha) are ready there: products next
        # to each other can then pair up; else at the update's place.
        ready = all(produced_at.get(v, -1) < d for v in node.inputs if isinstance(v, Var))
        at = d if ready else max(idx)
        for i in (*idx, d):
            replace[i] = None
        replace[at] = node
    if not replace:
        return nodes
    return [replace.get(i, n) for i, n in enumerate(nodes) if replace.get(i, n) is not None]


def _work(n) -> float:
    """Flops of a product node worth pairing, else 0."""
    if isinstance(n, GemmUpdate):
        w = n.flops
    elif plain_matmul(n) is not None:
        w = _flops(n)
    else:
        return 0.0
    return w if w >= PAIR_FLOPS else 0.0


def _pairable(n, m) -> bool:
    wn, wm = _work(n), _work(m)
    if not wn or not wm or min(wn, wm) < PAIR_BALANCE * max(wn, wm):
        return False
    return not any(v is o for v in m.inputs for o in n.outputs)


def pair_products(nodes) -> list:
    """Adjacent independent big products become ProductPairs (two cores or more)."""
    if blas.num_threads() < 2:
        return nodes
    out, i = [], 0
    while i < len(nodes):
        n = nodes[i]
        if i + 1 < len(nodes) and _pairable(n, nodes[i + 1]):
            out.append(ProductPair(n, nodes[i + 1]))
            i += 2
        else:
            out.append(n)
            i += 1
    return out


THIN_ROWS = 4096  # shorter contractions stay with BLAS (a loop saves little there)
# The thin side's width: each row costs width x (wide side / vector width) updates of the
# accumulators in L1. At 2 the loop beat BLAS 2-3x; at 4 (16384x4 by 16384x64) it lost,
# 0.50 ms against 0.44.
THIN_SIDE = 2

# Generic over sizes and dtypes (numba compiles one version per signature, disk-cached).
THIN_KERNEL = """\
import numba


@numba.njit(cache=True, nogil=True, error_model='numpy', fastmath={'contract'})
def kernel(x, y, out):
    # out[i, j] = sum over rows r of x[r, i] * y[r, j], x's side the thin one: each row
    # of both read once, the inner loop along y's row (vectorised).
    m = x.shape[1]
    n = y.shape[1]
    for i in range(m):
        for j in range(n):
            out[i, j] = 0
    for r in range(x.shape[0]):
        for i in range(m):
            xi = x[r, i]
            for j in range(n):
                out[i, j] += xi * y[r, j]
"""


def thin_product(eqn) -> bool:
    """Whether `eqn` is a `ThinProduct`: a plain float product contracting the first axes
    of two 2-D operands, long, with a thin side."""
    if plain_matmul(eqn) != (".T", ""):
        return False
    x, y = (v.aval for v in eqn.inputs)
    return x.shape[0] >= THIN_ROWS and min(x.shape[1], y.shape[1]) <= THIN_SIDE


class ThinProduct:
    """`x.T @ y` by a numba loop over the rows (see the module docstring)."""

    def __init__(self, dot):
        self.inputs, self.outputs = list(dot.inputs), list(dot.outputs)

    def call_lines(self, k, names, ref, namespace):
        namespace.update(_thin_product=gemm.thin_product,
                         _thin_kernel=kernel_cache.load_kernel(THIN_KERNEL))
        x, y = (names(v) for v in self.inputs)
        return [f"# thin_{k}: {x}.T @ {y} over {self.inputs[0].aval.shape[0]} rows, one "
                "numba loop (thin side in cache)",
                f"{names(self.outputs[0])} = _thin_product(_thin_kernel, {x}, {y})"]


def thin_products(nodes) -> list:
    """Plain product equations that are thin products become `ThinProduct` nodes."""
    return [ThinProduct(n) if isinstance(n, JaxprEqn) and thin_product(n) else n
            for n in nodes]


# Generic over sizes and float dtypes (numba compiles one version per dtype, disk-cached).
SHIFT_SUM_KERNEL = """\
import numba


@numba.njit(cache=True, nogil=True, error_model='numpy')
def kernel(z, out, lo0, lo1, rd0, rd1):
    # out[n, o, q, f] = sum over taps (a, b) of z[n, o + a * rd0 - lo0, q + b * rd1 - lo1,
    # a, b, f], over the input positions that exist.
    nb, h, w, kh, kw, nf = z.shape
    oh, ow = out.shape[1], out.shape[2]
    for n in range(nb):
        for o in range(oh):
            for q in range(ow):
                for f in range(nf):
                    out[n, o, q, f] = 0
                for a in range(kh):
                    i = o + a * rd0 - lo0
                    if 0 <= i < h:
                        for b in range(kw):
                            j = q + b * rd1 - lo1
                            if 0 <= j < w:
                                for f in range(nf):
                                    out[n, o, q, f] += z[n, i, j, a, b, f]
"""


def shift_sum_kernel(dtype):
    """SHIFT_SUM_KERNEL compiled (now) for `dtype`: the compiled entry point."""
    import numba

    dispatcher = kernel_cache.load_kernel(SHIFT_SUM_KERNEL)
    t = numba.from_dtype(np.dtype(dtype))
    sig = (numba.types.Array(t, 6, "C"), numba.types.Array(t, 4, "C"),
           numba.int64, numba.int64, numba.int64, numba.int64)
    dispatcher.compile(sig)
    return dispatcher.overloads[sig].entry_point


def scatter_conv(eqn) -> bool:
    """Whether `eqn` is a 2-D float convolution `_conv_impl` computes from the input side."""
    from jumba._src.lax import convolution

    if not isinstance(eqn, JaxprEqn) or eqn.primitive is not convolution.conv_general_dilated_p:
        return False
    p = eqn.params
    x, w = (v.aval for v in eqn.inputs)
    out_dtype = x.dtype if p["preferred_element_type"] is None else \
        np.dtype(p["preferred_element_type"])
    return (x.ndim == 4 and x.dtype == w.dtype == out_dtype
            and np.dtype(x.dtype) in (np.float32, np.float64)
            and convolution.scatter_worth(
                x.shape, w.shape, p["window_strides"], p["padding"], p["lhs_dilation"],
                p["rhs_dilation"], p["dimension_numbers"], p["feature_group_count"],
                p["batch_group_count"]))


class ScatterConv:
    """A convolution from the input side, its sums over taps by `SHIFT_SUM_KERNEL`."""

    def __init__(self, eqn):
        self.eqn = eqn
        self.inputs, self.outputs = list(eqn.inputs), list(eqn.outputs)

    def call_lines(self, k, names, ref, namespace):
        from jumba._src.lax.convolution import conv_general_dilated_p

        namespace.update({f"_conv_{k}": conv_general_dilated_p.impl,
                          f"_shift_sum_{k}": shift_sum_kernel(self.inputs[0].aval.dtype),
                          f"_conv_params_{k}": self.eqn.params})
        x, w = (ref(v) for v in self.inputs)
        return [f"# conv_{k}: from the input side (fewer output features), one product, "
                "sums over taps in one numba loop",
                f"{names(self.outputs[0])} = _conv_{k}({x}, {w}, shift_sum=_shift_sum_{k}, "
                f"**_conv_params_{k})"]


def scatter_convs(nodes) -> list:
    """Convolution equations computed from the input side become `ScatterConv` nodes."""
    return [ScatterConv(n) if scatter_conv(n) else n for n in nodes]
