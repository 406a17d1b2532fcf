"""Rematerialisation (as `jax.ad_checkpoint`): `checkpoint`, its policies, and
`checkpoint_name` to tag values for the name-based policies."""

from jumba._src.checkpoint import (
    checkpoint,
    checkpoint_name,
    checkpoint_policies,
    remat,
)

__all__ = ["checkpoint", "checkpoint_name", "checkpoint_policies", "remat"]
