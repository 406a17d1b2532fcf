"""Testing helpers for Jumba and for libraries built on it."""

from jumba._src.test_util import check_grads, check_jvp, check_vjp  # noqa: F401
