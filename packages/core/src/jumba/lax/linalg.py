"""jumba.lax.linalg: the linear-algebra primitives' wrappers (as jax.lax.linalg)."""

from jumba._src.lax.linalg import (  # noqa: F401
    cholesky,
    eig,
    eigh,
    lu,
    qr,
    svd,
    symmetrize,
    triangular_solve,
)
