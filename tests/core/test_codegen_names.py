"""Generated tier-1 code names Jaxpr variables a, b, ..., np, ...: the variable that would be
called ``np`` must not shadow NumPy inside the generated function."""

import numpy as np

import jumba as jb
import jumba.numpy as jnp
from jumba._src.compiler import passes
from jumba._src.compiler.tier1 import Tier1Executable


def test_a_program_with_a_variable_named_np_runs():
    m = jnp.asarray(np.eye(3, dtype=np.float32) * 0.999)

    def f(x):
        for _ in range(420):                 # matmuls are not fused: one variable each
            x = m @ x
        return x

    x = jnp.ones((3,), jnp.float32)
    closed = passes.optimize(jb.make_jaxpr(f)(x))
    ex = Tier1Executable(closed, "f")
    assert " np_ = " in ex.source
    out = ex([np.asarray(x)])
    np.testing.assert_allclose(np.asarray(out[0]), np.asarray(f(x)), rtol=1e-5)
