"""custom_root and custom_linear_solve: solvers differentiated implicitly (as jax.lax's).

The user's solver runs as given (its iterations are never differentiated); derivatives come
from the equations the solution satisfies. Both are built on `custom_jvp`, with the
function's closed-over traced values (its parameters) made explicit by `closure_convert`:

- custom_root: f(x*, θ) = 0, so J_x dx = -J_θ dθ, solved with the user's `tangent_solve`;
- custom_linear_solve: A(θ) x = b, so A dx = db - dA x, solved with the user's `solve`. The
  solve of a tangent is wrapped in a `custom_vjp` whose backward pass is `transpose_solve`
  with the transposed operator, so reverse mode never transposes the solver's own code
  (an iterative solver's loop has no transpose).
"""

from __future__ import annotations

from jumba._src.api import jvp, linear_transpose
from jumba._src.custom_derivatives import closure_convert, custom_jvp, custom_vjp
from jumba._src.lax.ad_util import stop_gradient
from jumba._src.tree_util import tree_map, tree_structure


def _check_same_tree(what, a, b, a_name, b_name):
    ta, tb = tree_structure(a), tree_structure(b)
    if ta != tb:
        raise TypeError(f"{what}: {a_name} has tree structure {ta} but {b_name} has {tb}; "
                        "they must match")


def _split_aux(out, has_aux, what):
    if not has_aux:
        return out, None
    if not (isinstance(out, tuple) and len(out) == 2):
        raise TypeError(f"{what}(..., has_aux=True): solve must return (solution, aux)")
    return out


def custom_root(f, initial_guess, solve, tangent_solve, has_aux=False):
    """The root x of `f` found by `solve(f, initial_guess)`, differentiable in the values `f`
    closes over by the implicit function theorem.

    Args:
      f: maps a pytree like `initial_guess` to one of the same structure.
      initial_guess: where `solve` starts (not differentiated).
      solve: `solve(f, x0) -> x` with `f(x) ≈ 0` (or `(x, aux)` with `has_aux`).
      tangent_solve: `tangent_solve(g, y) -> v` with `g(v) = y`, for the linear `g` (f's
        derivative at the root); e.g. `lambda g, y: y / g(1.0)` for a scalar root.
      has_aux: whether `solve` also returns auxiliary data (not differentiated).
    """
    guess = stop_gradient(initial_guess)
    f_conv, consts = closure_convert(f, guess)
    _check_same_tree("custom_root", f(guess), guess, "f's output", "initial_guess")

    def run(*consts):
        out = solve(lambda x: f_conv(x, *consts), guess)
        return _split_aux(out, has_aux, "custom_root")

    @custom_jvp
    def root(*consts):
        solution, aux = run(*consts)
        return (solution, stop_gradient(aux)) if has_aux else solution

    @root.defjvp
    def root_jvp(primals, tangents):
        out = root(*primals)
        solution = out[0] if has_aux else out
        # f(x(θ), θ) = 0: J_x dx = -J_θ dθ.
        if primals:
            _, rhs = jvp(lambda *c: f_conv(solution, *c), tuple(primals), tuple(tangents))
        else:  # f closes over nothing differentiated
            rhs = tree_map(lambda s: s * 0, solution)

        def g(v):
            return jvp(lambda x: f_conv(x, *primals), (solution,), (v,))[1]

        dx = tangent_solve(g, tree_map(lambda r: -r, rhs))
        if has_aux:
            return out, (dx, tree_map(lambda a: a * 0, out[1]))
        return out, dx

    return root(*consts)


def custom_linear_solve(matvec, b, solve, transpose_solve=None, symmetric=False,
                        has_aux=False):
    """x with `matvec(x) = b`, computed by `solve(matvec, b)` and differentiated implicitly.

    Args:
      matvec: the linear operator A as a function of a pytree like `b` (it may close over
        differentiated values).
      b: the right-hand side.
      solve: `solve(matvec, b) -> x` (or `(x, aux)` with `has_aux`).
      transpose_solve: `transpose_solve(vecmat, b) -> x` solving with Aᵀ, needed for reverse
        mode unless `symmetric`.
      symmetric: A = Aᵀ, so `solve` also serves as `transpose_solve`.
      has_aux: whether the solvers also return auxiliary data (not differentiated).
    """
    if symmetric:
        transpose_solve = solve
    matvec_conv, consts = closure_convert(matvec, stop_gradient(b))
    _check_same_tree("custom_linear_solve", matvec(b), b, "matvec's output", "b")

    def solve_with(consts, rhs):
        out = solve(lambda x: matvec_conv(x, *consts), rhs)
        return _split_aux(out, has_aux, "custom_linear_solve")

    # x = A⁻¹ v, linear in v: its transpose is a solve with Aᵀ (never the solver's code).
    @custom_vjp
    def apply_inverse(consts, v):
        return solve_with(consts, v)[0]

    def apply_inverse_fwd(consts, v):
        return apply_inverse(consts, v), consts

    def apply_inverse_bwd(consts, ct):
        if transpose_solve is None:
            raise TypeError("custom_linear_solve: reverse-mode differentiation needs "
                            "transpose_solve (or symmetric=True when matvec is symmetric)")
        vecmat = linear_transpose(lambda x: matvec_conv(x, *consts), ct)
        out = transpose_solve(lambda y: vecmat(y)[0], ct)
        ct_v = _split_aux(out, has_aux, "custom_linear_solve")[0]
        return tree_map(lambda c: c * 0, consts), ct_v

    apply_inverse.defvjp(apply_inverse_fwd, apply_inverse_bwd)

    @custom_jvp
    def linear_solve(consts, b):
        x, aux = solve_with(consts, b)
        return (x, stop_gradient(aux)) if has_aux else x

    @linear_solve.defjvp
    def linear_solve_jvp(primals, tangents):
        consts, rhs = primals
        d_consts, d_rhs = tangents
        out = linear_solve(consts, rhs)
        x = out[0] if has_aux else out
        # A(θ) x = b: A dx = db - (dA) x.
        if consts:
            _, dax = jvp(lambda c: matvec_conv(x, *c), (consts,), (d_consts,))
            d_rhs = tree_map(lambda u, w: u - w, d_rhs, dax)
        dx = apply_inverse(consts, d_rhs)
        if has_aux:
            return out, (dx, tree_map(lambda a: a * 0, out[1]))
        return out, dx

    return linear_solve(tuple(consts), b)
