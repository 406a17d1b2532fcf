"""PopArt: adaptive target normalisation that preserves the network's outputs.

See van Hasselt et al. (2016), "Learning values across many orders of magnitude", and Hessel et
al. (2018), "Multi-task deep reinforcement learning with PopArt". ``art`` updates running
statistics (shift μ, scale σ, second moment ν) per output; ``pop`` rescales the last linear
layer's parameters so that unnormalised outputs are unchanged by the update.
"""

from __future__ import annotations

import collections
from collections.abc import Mapping

import jumba.lax as lax
import jumba.numpy as jnp
from jumba.tree_util import tree_map
from jumba_rl._src import base

Array = base.Array
LinearParams = Mapping[str, Array]

PopArtState = collections.namedtuple("PopArtState", ["shift", "scale", "second_moment"])
PopArtOutput = collections.namedtuple("PopArtOutput", ["normalized", "unnormalized"])


def _check_indices(fn, indices):
    if base._kind(indices) is not int:
        raise TypeError(f"jumba_rl.{fn}: `indices` must be integers, got "
                        f"{getattr(indices, 'dtype', type(indices).__name__)}.")


def _cross_replica_scatter_add(source, indices, updates, axis_name):
    """``source`` plus ``updates`` summed at ``indices`` (and across devices with an axis_name)."""
    num_classes = source.shape[0]
    indices = jnp.reshape(indices, (-1,))
    updates = jnp.reshape(updates, (-1,))
    # One-hot sums instead of a scatter: duplicate indices accumulate, as they must.
    total = jnp.sum(updates[:, None] * base.one_hot(indices, num_classes, updates.dtype), axis=0)
    if axis_name is not None:
        names = (axis_name,) if isinstance(axis_name, str) else tuple(axis_name)
        for name in names:
            total = lax.psum(total, axis_name=name)
    return source + total


def normalize(state: PopArtState, unnormalized: Array, indices: Array) -> Array:
    """Maps values to the normalised space of output ``indices``: ``(x - μ) / σ``."""
    _check_indices("normalize", indices)
    return (unnormalized - state.shift[indices]) / state.scale[indices]


def unnormalize(state: PopArtState, normalized: Array, indices: Array) -> Array:
    """Maps normalised outputs back: ``σ x + μ`` for output ``indices``."""
    _check_indices("unnormalize", indices)
    return state.scale[indices] * normalized + state.shift[indices]


def unnormalize_linear(state: PopArtState, inputs: Array, indices: Array) -> PopArtOutput:
    """Selects output ``indices`` of a linear layer's outputs and unnormalises them.

    Args:
      state: the PopArt statistics.
      inputs: normalised outputs, shape [..., num_outputs].
      indices: which output each row uses, shape [...] (integers).

    Returns:
      ``PopArtOutput(normalized, unnormalized)``, each of shape [...].
    """
    _check_indices("unnormalize_linear", indices)
    if tuple(jnp.shape(indices)) != tuple(jnp.shape(inputs))[:-1]:
        raise ValueError(f"jumba_rl.unnormalize_linear: `indices` shape {jnp.shape(indices)} must "
                         f"equal the leading shape of `inputs` {jnp.shape(inputs)[:-1]}.")
    normalized = base.batched_index(inputs, indices)
    return PopArtOutput(normalized, unnormalize(state, normalized, indices))


def art(state: PopArtState, targets: Array, indices: Array, step_size: float, scale_lb: float,
        scale_ub: float, axis_name=None) -> PopArtState:
    """Updates the running statistics towards ``targets`` (the "ART" step).

    ``μ += β Σ (y - μ)``, ``ν += β Σ (y² - ν)`` per output, ``σ = sqrt(clip(ν - μ², lb², ub²))``.

    Args:
      state: the current statistics.
      targets: unnormalised targets, any shape.
      indices: output index of each target (same shape, integers).
      step_size: the step size β.
      scale_lb: lower bound of σ.
      scale_ub: upper bound of σ.
      axis_name: sum the updates over this device axis too.

    Returns:
      The new ``PopArtState`` (with gradients stopped).
    """
    _check_indices("art", indices)
    if tuple(jnp.shape(targets)) != tuple(jnp.shape(indices)):
        raise ValueError(f"jumba_rl.art: `targets` {jnp.shape(targets)} and `indices` "
                         f"{jnp.shape(indices)} must have the same shape.")
    shift_update = step_size * (targets - state.shift[indices])
    shift_new = _cross_replica_scatter_add(state.shift, indices, shift_update, axis_name)
    moment_update = step_size * (jnp.square(targets) - state.second_moment[indices])
    moment_new = _cross_replica_scatter_add(state.second_moment, indices, moment_update, axis_name)
    scale_sq = jnp.clip(moment_new - jnp.square(shift_new), scale_lb**2, scale_ub**2)
    return tree_map(lax.stop_gradient, PopArtState(shift_new, jnp.sqrt(scale_sq), moment_new))


def pop(params: LinearParams, old: PopArtState, new: PopArtState) -> LinearParams:
    """Rescales a linear layer ``{'w': [in, out], 'b': [out]}`` to preserve unnormalised outputs."""
    w_new = params["w"] * jnp.broadcast_to(old.scale / new.scale, jnp.shape(params["w"]))
    b_new = (old.scale * params["b"] + old.shift - new.shift) / new.scale
    return dict(w=w_new, b=b_new)


def popart(num_outputs: int, step_size: float, scale_lb: float, scale_ub: float,
           axis_name=None):
    """Builds PopArt's ``(initial_state, popart_update)`` pair.

    Args:
      num_outputs: number of normalised outputs.
      step_size: step size of the statistics (None disables the update).
      scale_lb: lower bound of the scale.
      scale_ub: upper bound of the scale.
      axis_name: device axis to sum the statistics' updates over.

    Returns:
      ``initial_state()`` giving a ``PopArtState`` and
      ``popart_update(params, state, targets, indices) -> (params, state)``.
    """

    def initial_state():
        return PopArtState(jnp.zeros([num_outputs]), jnp.ones([num_outputs]),
                           jnp.ones([num_outputs]))

    def popart_update(params, state, targets, indices):
        if step_size is None:
            return params, state
        new_state = art(state, targets, indices, step_size, scale_lb, scale_ub, axis_name)
        return pop(params, state, new_state), new_state

    return initial_state, popart_update
