"""Loss functions, as ``optax.losses``: pure per-example losses (no reduction)."""

from jumba_optim._src.loss import *  # noqa: F403
from jumba_optim._src.loss import __all__  # noqa: F401
