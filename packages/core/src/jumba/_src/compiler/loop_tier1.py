"""Control flow run from Python with tier-1 bodies: a `scan`/`while` whose body does not
compile whole (`loops.py`: matmuls BLAS does faster, or a primitive without a loop
lowering), or a `cond`, in a tier-1 program.

The loop itself stays in Python, one body call per iteration, but the body is a
`Tier1Executable`: its elementwise chains are fused numba kernels and its matmuls BLAS
calls, instead of one NumPy call per primitive (a PPO rollout step over 1,024 vmapped
environments is ~160 primitives). Carries are donated to the body as in tier 0
(`inplace.py`): a dead carry buffer is updated in place.

The drivers `drive_scan`/`drive_while` are shared with the tier-0 implementations of the
primitives (`lax/control_flow/loops.py`), which pass tier-0 bodies.
"""

from __future__ import annotations

import numpy as np

from jumba._src.compiler import inplace
from jumba._src.compiler.lowering import vector_f32_rules

# Whether tier-1 programs run their Python-driven loops' bodies at tier 1.
ENABLED = True


def drive_scan(run, written, consts, carry, xs, length, reverse, y_avals):
    """Runs a scan with the body `run` (values -> values); `written`: carry positions the
    body updates in place (see `inplace.LoopOwner`)."""
    ys = [np.empty((length, *a.shape), a.dtype) for a in y_avals]
    nk = len(carry)
    owner = inplace.LoopOwner(written)
    carry = owner.start(carry) if length else list(carry)
    for i in (range(length - 1, -1, -1) if reverse else range(length)):
        out = run(consts + list(carry) + [x[i] for x in xs])
        for acc, y in zip(ys, out[nk:]):
            acc[i] = y  # copied now: the next iteration may write the carries in place
        carry = owner.keep(carry, out[:nk])
    return [np.asarray(c) for c in carry] + ys


def drive_while(cond, body, written, cond_consts, body_consts, carry):
    """Runs a while loop with the bodies `cond` and `body` (values -> values)."""
    owner = inplace.LoopOwner(written)
    if not cond(cond_consts + list(carry))[0]:
        return [np.asarray(c) for c in carry]
    carry = owner.start(carry)
    while True:
        carry = owner.keep(carry, body(body_consts + list(carry)))
        if not cond(cond_consts + list(carry))[0]:
            return [np.asarray(c) for c in carry]


def _tier1(closed, donated=()):
    """The tier-1 body (dead code removed: bodies are not optimised when traced), or the
    tier-0 one if that does not compile (the loop runs either way)."""
    from jumba._src.compiler import passes
    from jumba._src.compiler.numpy_executor import NumpyExecutable
    from jumba._src.compiler.tier1 import Tier1Executable
    try:
        return Tier1Executable(passes.optimize(closed), "body", donated=tuple(donated),
                               numpy_libm=True)
    except Exception:  # noqa: BLE001 -- a body the kernels cannot take runs on NumPy
        return NumpyExecutable(closed, "body", donated=tuple(donated))


# Elementwise functions that numba's kernels compute with one libm call per element while
# NumPy has SIMD loops: measured on a PPO rollout step, a fused add+tanh over 1,024x64
# took 2.6 ms against NumPy's 0.25 ms, making the tier-1 body 4x slower than tier 0
# (a DQN step, ReLU and Adam, ran 2-3x faster at tier 1). In tier-1 bodies, fused groups
# using them on large arrays are left to NumPy, except where the kernel's expression is a
# vectorisable helper (`lowering.vector_f32_rules`: float32 exp, tanh, log, ...): there
# fusion saves NumPy's pass over memory per primitive (the PPO update's tanh layers and
# their derivatives, 16384x64: four NumPy calls per layer became one kernel).
_LIBM = frozenset(["tanh", "exp", "exp2", "log", "log1p", "expm1", "logistic", "sin", "cos",
                   "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "asinh", "acosh",
                   "atanh", "pow", "erf", "erfc", "erf_inv", "lgamma", "digamma", "cbrt"])
MIN_SIZE = 1024


def worth_tier1(closed) -> bool:
    """Does a tier-1 body (libm groups left to NumPy) compile anything?"""
    from jumba._src.compiler import passes
    from jumba._src.compiler.tier1 import has_fusions
    return has_fusions(passes.optimize(closed), numpy_libm=True)


def worth_control_node(eqn) -> bool:
    """Run this scan/while/cond with tier-1 bodies? When one body gains (see
    `worth_tier1`)."""
    return any(worth_tier1(b) for b in bodies(eqn))


def _is_libm(eqn) -> bool:
    if eqn.primitive in vector_f32_rules and \
            all(o.aval.dtype == np.float32 for o in eqn.outputs):
        return False
    return eqn.primitive.name in _LIBM and any(
        getattr(o.aval, "size", 0) >= MIN_SIZE for o in eqn.outputs)


def libm_group(group) -> bool:
    """Does a fused group apply a `_LIBM` function to a large array?"""
    return any(_is_libm(e) for e in group.eqns)


class ControlNode:
    """A `scan`/`while`/`cond` equation of a tier-1 program, run with tier-1 bodies."""

    def __init__(self, eqn):
        self.eqn = eqn
        self.inputs = eqn.inputs
        self.outputs = eqn.outputs
        p = eqn.params
        name = eqn.primitive.name
        if name == "scan":
            nc, nk = p["num_consts"], p["num_carry"]
            self.body = _tier1(p["jaxpr"], range(nc, nc + nk))
            self.written = [k - nc for k in self.body.donated_written]
            self.fn = self._scan
        elif name == "while":
            nb = p["body_nconsts"]
            nk = len(eqn.outputs)
            self.cond = _tier1(p["cond_jaxpr"])
            self.body = _tier1(p["body_jaxpr"], range(nb, nb + nk))
            self.written = [k - nb for k in self.body.donated_written]
            self.fn = self._while
        else:  # cond
            self.branches = [_tier1(b) for b in p["branches"]]
            self.fn = self._cond

    def _scan(self, *args):
        p = self.eqn.params
        nc, nk = p["num_consts"], p["num_carry"]
        args = list(args)
        return drive_scan(self.body, self.written, args[:nc], args[nc:nc + nk],
                          args[nc + nk:], p["length"], p["reverse"],
                          p["jaxpr"].out_avals[nk:])

    def _while(self, *args):
        p = self.eqn.params
        ncc, nbc = p["cond_nconsts"], p["body_nconsts"]
        args = list(args)
        return drive_while(self.cond, self.body, self.written, args[:ncc],
                           args[ncc:ncc + nbc], args[ncc + nbc:])

    def _cond(self, index, *ops):
        k = min(max(int(index), 0), len(self.branches) - 1)
        return [np.asarray(o) for o in self.branches[k](list(ops))]

    def call_lines(self, k, names, ref, namespace):
        outs = ", ".join(names(v) for v in self.outputs)
        args = ", ".join(ref(v) for v in self.inputs)
        return [f"# {self.eqn.primitive.name} run from Python with tier-1 bodies",
                f"[{outs}] = loop_{k}({args})"]


def is_control(eqn) -> bool:
    return getattr(eqn, "primitive", None) is not None and \
        eqn.primitive.name in ("scan", "while", "cond")


def bodies(eqn):
    p = eqn.params
    if eqn.primitive.name == "scan":
        return [p["jaxpr"]]
    if eqn.primitive.name == "while":
        return [p["cond_jaxpr"], p["body_jaxpr"]]
    return list(p["branches"])
