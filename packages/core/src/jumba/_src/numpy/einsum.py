"""einsum on dot_general: contract one pair of operands at a time (opt_einsum-style order
from NumPy's einsum_path), with traces and diagonals handled first.

Each operand is first reduced on its own: a letter repeated within it becomes a diagonal
(a strided slice of the flattened pair of axes, so it differentiates and batches like any
slice), and a letter that appears nowhere else and not in the output is summed out. Then
each step of the contraction path is one `dot_general`: letters shared by both operands and
still needed later are batch dimensions, shared letters needed nowhere else are contracted.
A final transpose puts the letters in the requested output order.
"""

from __future__ import annotations

import string

import numpy as np

from jumba._src.core import get_aval
from jumba._src.lax import reductions as red
from jumba._src.lax import structural as st
from jumba._src.lax.dot import dot_general

_LETTERS = string.ascii_letters


def _interleaved_to_subscripts(args):
    """einsum(a, [0, 1], b, [1, 2], [0, 2]) -> ("ab,bc->ac", a, b), as NumPy's second form."""
    args = list(args)
    operands, subs = [], []
    while len(args) >= 2:
        operands.append(args.pop(0))
        subs.append(args.pop(0))
    out = args[0] if args else None

    def letters(sub):
        s = ""
        for i in sub:
            if i is Ellipsis:
                s += "..."
            else:
                i = int(i)
                if not 0 <= i < len(_LETTERS):
                    raise ValueError(f"einsum: subscript {i} out of range [0, 52)")
                s += _LETTERS[i]
        return s

    spec = ",".join(letters(s) for s in subs)
    if out is not None:
        spec += "->" + letters(out)
    return spec, operands


def _parse(subscripts: str, shapes):
    """Returns (input letter strings, output letter string) with ellipses expanded."""
    subscripts = subscripts.replace(" ", "")
    if "->" in subscripts:
        lhs, out = subscripts.split("->")
        explicit = True
    else:
        lhs, out, explicit = subscripts, "", False
    inputs = lhs.split(",")
    if len(inputs) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(inputs)} operands but "
                         f"{len(shapes)} were given")
    for s in (*inputs, out):
        bad = set(s.replace("...", "")) - set(_LETTERS)
        if bad or s.replace("...", "").count(".") or s.count("...") > 1:
            raise ValueError(f"einsum: invalid subscript {s!r} in {subscripts!r}: use letters "
                             "and at most one '...' per operand")
    used = set(lhs.replace("...", "").replace(",", ""))
    spare = [c for c in _LETTERS if c not in used]
    ell_ndims = []
    for s, shape in zip(inputs, shapes):
        named = len(s.replace("...", ""))
        n_ell = len(shape) - named
        if n_ell < 0 or (n_ell > 0 and "..." not in s):
            raise ValueError(f"einsum: operand of shape {tuple(shape)} has {len(shape)} "
                             f"dimensions but subscripts {s!r} name {named}")
        ell_ndims.append(n_ell if "..." in s else 0)
    n_ell = max(ell_ndims, default=0)
    ell = "".join(spare[:n_ell])
    inputs = [s.replace("...", ell[n_ell - k:]) for s, k in zip(inputs, ell_ndims)]
    if explicit:
        if "..." in out:
            out = out.replace("...", ell)
        elif n_ell and any(k for k in ell_ndims):
            raise ValueError(f"einsum: the operands have broadcast ('...') dimensions but "
                             f"the output {out!r} names no '...'")
        if len(set(out)) != len(out):
            raise ValueError(f"einsum: output subscripts {out!r} repeat a letter")
        missing = set(out) - set("".join(inputs))
        if missing:
            raise ValueError(f"einsum: output letters {sorted(missing)} appear in no input")
    else:
        counts = {}
        for c in "".join(s for s in inputs):
            counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted(c for c, k in counts.items() if k == 1 and c not in ell))
    return inputs, out


def _letter_sizes(inputs, shapes, subscripts):
    sizes = {}
    for s, shape in zip(inputs, shapes):
        for c, n in zip(s, shape):
            m = sizes.get(c, 1)
            if n != 1 and m != 1 and n != m:
                raise ValueError(f"einsum: size of label {c!r} differs between operands in "
                                 f"{subscripts!r}: {m} vs {n} (shapes "
                                 f"{', '.join(str(tuple(sh)) for sh in shapes)})")
            sizes[c] = n if m == 1 else m
    return sizes


def _diagonal(x, letters: str):
    """Take diagonals until no letter repeats; returns (x, letters)."""
    while True:
        seen = {}
        pair = None
        for i, c in enumerate(letters):
            if c in seen:
                pair = (seen[c], i)
                break
            seen[c] = i
        if pair is None:
            return x, letters
        i, j = pair
        shape = get_aval(x).shape
        if shape[i] != shape[j]:
            raise ValueError(f"einsum: repeated label {letters[i]!r} in one operand spans "
                             f"axes of sizes {shape[i]} and {shape[j]}")
        n = shape[i]
        rest = [k for k in range(len(letters)) if k not in (i, j)]
        x = st.transpose(x, (*rest, i, j))
        lead = tuple(shape[k] for k in rest)
        x = st.reshape(x, (*lead, n * n))
        # Elements (k, k) sit at k * (n + 1) in the flattened pair of axes.
        x = st.slice(x, (0,) * (len(lead) + 1), (*lead, n * n), (1,) * len(lead) + (n + 1,))
        letters = "".join(letters[k] for k in rest) + letters[i]


def _sum_out(x, letters: str, keep):
    axes = tuple(i for i, c in enumerate(letters) if c not in keep)
    if not axes:
        return x, letters
    return red.reduce_sum(x, axes), "".join(c for c in letters if c in keep)


def _squeeze_broadcast(x, letters: str, sizes):
    """Drop size-1 axes that broadcast against a larger size elsewhere (NumPy allows it)."""
    shape = get_aval(x).shape
    drop = [i for i, (c, n) in enumerate(zip(letters, shape)) if n == 1 and sizes[c] != 1]
    if not drop:
        return x, letters
    return (st.reshape(x, tuple(n for i, n in enumerate(shape) if i not in drop)),
            "".join(c for i, c in enumerate(letters) if i not in drop))


def _contract_pair(a, la, b, lb, keep, preferred_element_type):
    a, la = _sum_out(a, la, keep | set(lb))
    b, lb = _sum_out(b, lb, keep | set(la))
    batch = [c for c in la if c in lb and c in keep]
    contract = [c for c in la if c in lb and c not in keep]
    dims = (((tuple(la.index(c) for c in contract), tuple(lb.index(c) for c in contract)),
             (tuple(la.index(c) for c in batch), tuple(lb.index(c) for c in batch))))
    da, db = get_aval(a).dtype, get_aval(b).dtype
    if da != db:  # an earlier step produced preferred_element_type
        dt = np.promote_types(da, db)
        a, b = st.convert_element_type(a, dt), st.convert_element_type(b, dt)
    out = dot_general(a, b, dims, preferred_element_type)
    letters = "".join(batch) + "".join(c for c in la if c not in lb) + \
        "".join(c for c in lb if c not in la)
    return out, letters


def _path(optimize, inputs, out, shapes, sizes):
    n = len(inputs)
    if n == 1:
        return [(0,)]
    if isinstance(optimize, (list, tuple)):
        path = [tuple(p) for p in optimize if not isinstance(p, str)]
        return path
    if optimize is False or optimize is None:
        return [tuple(range(n))]
    if optimize is True:
        optimize = "greedy"
    if optimize not in ("optimal", "greedy", "auto"):
        raise ValueError(f"einsum: optimize={optimize!r}; use 'optimal', 'greedy', True, "
                         "False or a contraction path")
    optimize = "greedy" if optimize == "auto" and n > 4 else \
        "optimal" if optimize == "auto" else optimize
    dummies = [np.broadcast_to(np.zeros((), np.float32), tuple(sizes[c] for c in s))
               for s in inputs]
    path, _ = np.einsum_path(",".join(inputs) + "->" + out, *dummies, optimize=optimize)
    return [tuple(p) for p in path[1:]]


def einsum(subscripts, *operands, optimize="optimal", preferred_element_type=None):
    """Einstein summation, as jax.numpy.einsum (see that docstring); operands are promoted
    to a common dtype and contracted pairwise with dot_general."""
    from jumba._src.numpy.lax_numpy import promote_dtypes

    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved_to_subscripts((subscripts, *operands))
    if not operands:
        raise ValueError("einsum: no operands given")
    operands = promote_dtypes(*operands)
    shapes = [get_aval(x).shape for x in operands]
    inputs, out = _parse(subscripts, shapes)
    sizes = _letter_sizes(inputs, shapes, subscripts)

    # Unary preprocessing: broadcast axes, diagonals, letters summed within one operand.
    ops = []
    for i, (x, letters) in enumerate(zip(operands, inputs)):
        x, letters = _squeeze_broadcast(x, letters, sizes)
        x, letters = _diagonal(x, letters)
        elsewhere = set(out).union(*(set(s) for j, s in enumerate(inputs) if j != i))
        x, letters = _sum_out(x, letters, elsewhere)
        ops.append((x, letters))

    if len(ops) > 1:
        path = _path(optimize, [lt for _, lt in ops], out, shapes, sizes)
        for step in path:
            picked = [ops[k] for k in step]
            for k in sorted(step, reverse=True):
                del ops[k]
            needed = set(out).union(*(set(lt) for _, lt in ops))
            x, lx = picked[0]
            for k, (y, ly) in enumerate(picked[1:], 2):
                rest = needed.union(*(set(lt) for _, lt in picked[k:]))
                x, lx = _contract_pair(x, lx, y, ly, rest, preferred_element_type)
            ops.append((x, lx))
        if len(ops) != 1:
            raise ValueError(f"einsum: contraction path {path} does not combine all "
                             "operands")
    (x, letters), = ops
    x, letters = _sum_out(x, letters, set(out))
    if preferred_element_type is not None:
        x = st.convert_element_type(x, preferred_element_type)
    # Output letters of size 1 dropped above as broadcast axes come back here.
    missing = [c for c in out if c not in letters]
    if missing:
        shape = get_aval(x).shape
        x = st.broadcast_in_dim(x, (*shape, *(sizes[c] for c in missing)),
                                tuple(range(len(shape))))
        letters += "".join(missing)
    return st.transpose(x, tuple(letters.index(c) for c in out))


def einsum_path(subscripts, *operands, optimize="greedy"):
    """The contraction order einsum would use, as `numpy.einsum_path` (path, report)."""
    if not isinstance(subscripts, str):
        subscripts, operands = _interleaved_to_subscripts((subscripts, *operands))
    shapes = [get_aval(x).shape for x in operands]
    dummies = [np.broadcast_to(np.zeros((), np.float32), s) for s in shapes]
    if optimize is True:
        optimize = "greedy"
    return np.einsum_path(subscripts, *dummies, optimize=optimize)
