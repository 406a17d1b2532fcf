"""``jumba_nn.linen``: the Flax-linen names of ``jumba_nn``, for code written as
``import flax.linen as nn`` (``import jumba_nn.linen as nn``)."""

from jumba_nn import *  # noqa: F403
from jumba_nn import functional, initializers  # noqa: F401
