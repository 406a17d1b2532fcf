"""Generated tier-1 code names Jaxpr variables a, b, ..., np, ...: the variable that would be
called ``np`` must not shadow NumPy inside the generated function."""

import numpy as np

import jumba as jb
import jumba.numpy as jnp
from jumba._src.compiler import passes
from jumba._src.compiler.tier1 import Tier1Executable


def test_a_program_with_a_variable_named_np_runs():
    def f(x):
        for i in range(420):                 # more variables than the name "np" needs
            x = x * 1.001 + jnp.float32(i % 3)
        return x

    x = jnp.ones((3,), jnp.float32)
    closed = passes.optimize(jb.make_jaxpr(f)(x))
    out = Tier1Executable(closed, "f")([np.asarray(x)])
    np.testing.assert_allclose(np.asarray(out[0]), np.asarray(f(x)), rtol=1e-5)
