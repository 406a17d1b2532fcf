"""Reinforcement-learning building blocks for Jumba.

Mirrors RLax: pure functions on one unbatched trajectory (returns, TD errors, policy-gradient
losses) that users ``vmap`` over a batch; plus environments whose ``reset``/``step`` are jittable.
Built on jumba's public API only.
"""

__version__ = "0.1.0"
