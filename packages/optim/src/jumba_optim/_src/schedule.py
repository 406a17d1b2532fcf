"""Step-size schedules: pure functions ``count -> value`` of the (int) step count.

They are traceable (``jnp`` only), so a schedule inside a jitted step does not retrace
as the count grows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

import jumba.numpy as jnp

Schedule = Callable[[Any], Any]


def _f32(count):
    return jnp.asarray(count).astype(jnp.float32)


def constant_schedule(value: float) -> Schedule:
    """``lr(t) = value``."""
    return lambda count: value


def polynomial_schedule(
    init_value: float, end_value: float, power: float, transition_steps: int,
    transition_begin: int = 0,
) -> Schedule:
    """Polynomial decay from ``init_value`` to ``end_value`` over ``transition_steps``::

        s = clip(t - transition_begin, 0, transition_steps)
        lr(t) = (init - end) (1 - s / transition_steps)^power + end
    """
    if transition_steps <= 0:
        return lambda count: init_value
    if transition_begin < 0:
        raise ValueError(
            f"polynomial_schedule: transition_begin must be >= 0, got {transition_begin}."
        )

    def schedule(count):
        count = jnp.clip(_f32(count) - transition_begin, 0, transition_steps)
        frac = 1 - count / transition_steps
        return (init_value - end_value) * (frac**power) + end_value

    return schedule


def linear_schedule(
    init_value: float, end_value: float, transition_steps: int, transition_begin: int = 0
) -> Schedule:
    """Linear interpolation from ``init_value`` to ``end_value`` (polynomial, power 1)."""
    return polynomial_schedule(init_value, end_value, 1, transition_steps, transition_begin)


def exponential_decay(
    init_value: float, transition_steps: int, decay_rate: float, transition_begin: int = 0,
    staircase: bool = False, end_value: float | None = None,
) -> Schedule:
    """``lr(t) = init * decay_rate^((t - begin) / transition_steps)`` (floored exponent if
    ``staircase``), bounded by ``end_value`` when given."""
    if transition_steps <= 0:
        return lambda count: init_value
    if decay_rate == 0:
        raise ValueError("exponential_decay: decay_rate must be nonzero; use constant_schedule.")

    def schedule(count):
        decreased = _f32(count) - transition_begin
        p = decreased / transition_steps
        if staircase:
            p = jnp.floor(p)
        value = jnp.where(decreased <= 0, init_value, init_value * jnp.power(decay_rate, p))
        if end_value is not None:
            bound = jnp.maximum if decay_rate < 1 else jnp.minimum
            value = bound(value, end_value)
        return value

    return schedule


def cosine_decay_schedule(
    init_value: float, decay_steps: int, alpha: float = 0.0, exponent: float = 1.0
) -> Schedule:
    """Cosine decay (Loshchilov & Hutter, 2016)::

        lr(t) = init ((1 - alpha) (0.5 (1 + cos(pi min(t, T) / T)))^exponent + alpha)
    """
    if not decay_steps > 0:
        raise ValueError(
            f"cosine_decay_schedule: decay_steps must be positive, got {decay_steps}."
        )

    def schedule(count):
        count = jnp.minimum(_f32(count), decay_steps)
        cosine = 0.5 * (1 + jnp.cos(jnp.pi * count / decay_steps))
        return init_value * ((1 - alpha) * cosine**exponent + alpha)

    return schedule


def join_schedules(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    """Runs ``schedules[i]`` from ``boundaries[i-1]`` on, each with its count restarted."""
    if len(schedules) != len(boundaries) + 1:
        raise ValueError(
            f"join_schedules: need one more schedule than boundaries, got {len(schedules)} "
            f"schedules and {len(boundaries)} boundaries."
        )

    def schedule(step):
        output = schedules[0](step)
        for boundary, sched in zip(boundaries, schedules[1:], strict=True):
            output = jnp.where(step < boundary, output, sched(step - boundary))
        return output

    return schedule


def warmup_constant_schedule(init_value: float, peak_value: float, warmup_steps: int):
    """Linear warm-up from ``init_value`` to ``peak_value``, then constant."""
    return join_schedules(
        [linear_schedule(init_value, peak_value, warmup_steps), constant_schedule(peak_value)],
        [warmup_steps],
    )


def warmup_cosine_decay_schedule(
    init_value: float, peak_value: float, warmup_steps: int, decay_steps: int,
    end_value: float = 0.0, exponent: float = 1.0,
) -> Schedule:
    """Linear warm-up to ``peak_value`` over ``warmup_steps``, then cosine decay to
    ``end_value`` at step ``decay_steps`` (counted from 0, warm-up included)."""
    alpha = 0.0 if peak_value == 0.0 else end_value / peak_value
    return join_schedules(
        [
            linear_schedule(init_value, peak_value, warmup_steps),
            cosine_decay_schedule(peak_value, decay_steps - warmup_steps, alpha, exponent),
        ],
        [warmup_steps],
    )


def warmup_exponential_decay_schedule(
    init_value: float, peak_value: float, warmup_steps: int, transition_steps: int,
    decay_rate: float, transition_begin: int = 0, staircase: bool = False,
    end_value: float | None = None,
) -> Schedule:
    """Linear warm-up to ``peak_value``, then :func:`exponential_decay` from it."""
    return join_schedules(
        [
            linear_schedule(init_value, peak_value, warmup_steps),
            exponential_decay(peak_value, transition_steps, decay_rate, transition_begin,
                              staircase, end_value),
        ],
        [warmup_steps],
    )


def piecewise_constant_schedule(
    init_value: float, boundaries_and_scales: dict[int, float] | None = None
) -> Schedule:
    """Multiplies the value by ``scale`` from each ``boundary`` on (count >= boundary)."""
    items = sorted((boundaries_and_scales or {}).items())
    for b, s in items:
        if s < 0:
            raise ValueError(
                f"piecewise_constant_schedule: scale {s} at boundary {b} is negative; "
                "scales must be >= 0."
            )

    def schedule(count):
        count = _f32(count)
        v = jnp.asarray(init_value, jnp.float32)
        for threshold, s in items:
            indicator = jnp.maximum(0.0, jnp.sign(threshold - count))
            v = v * indicator + (1 - indicator) * s * v
        return v

    return schedule


def piecewise_interpolate_schedule(
    interpolate_type: str, init_value: float,
    boundaries_and_scales: dict[int, float] | None = None,
) -> Schedule:
    """Interpolates (``"linear"`` or ``"cosine"``) between values that are scaled by
    ``boundaries_and_scales[b]`` at each boundary ``b``."""
    if interpolate_type == "linear":
        interp = lambda a, b, pct: a + pct * (b - a)  # noqa: E731
    elif interpolate_type == "cosine":
        interp = lambda a, b, pct: b + (a - b) * (jnp.cos(jnp.pi * pct) + 1) / 2  # noqa: E731
    else:
        raise ValueError(
            f"piecewise_interpolate_schedule: interpolate_type must be 'linear' or 'cosine', "
            f"got {interpolate_type!r}."
        )
    items = sorted((boundaries_and_scales or {}).items())
    if any(b < 0 for b, _ in items):
        raise ValueError("piecewise_interpolate_schedule: boundaries must be >= 0.")
    bounds = np.array([0] + [b for b, _ in items], np.float32)
    values = np.cumprod(np.array([init_value] + [s for _, s in items], np.float32))
    sizes = bounds[1:] - bounds[:-1]
    # An empty interval (two equal boundaries) never contributes; avoid 0/0.
    safe_sizes = np.where(sizes == 0, 1.0, sizes).astype(np.float32)

    def schedule(count):
        count = _f32(count)
        if len(items) == 0:
            return jnp.asarray(values[-1]) + 0.0 * count
        lo, hi = jnp.asarray(bounds[:-1]), jnp.asarray(bounds[1:])
        indicator = jnp.logical_and(lo <= count, count < hi).astype(jnp.float32)
        pct = (count - lo) / jnp.asarray(safe_sizes)
        vals = interp(jnp.asarray(values[:-1]), jnp.asarray(values[1:]), pct)
        last = (bounds[-1] <= count).astype(jnp.float32) * float(values[-1])
        return jnp.sum(indicator * vals) + last

    return schedule


def linear_onecycle_schedule(
    transition_steps: int, peak_value: float, pct_start: float = 0.3, pct_final: float = 0.85,
    div_factor: float = 25.0, final_div_factor: float = 1e4,
) -> Schedule:
    """One-cycle (Smith & Topin, 2017) with linear pieces: up to ``peak_value`` until
    ``pct_start``, back down until ``pct_final``, then to ``init / final_div_factor``."""
    if transition_steps <= 0:
        raise ValueError(
            f"linear_onecycle_schedule: transition_steps must be > 0, got {transition_steps}."
        )
    return piecewise_interpolate_schedule(
        "linear", peak_value / div_factor,
        {int(pct_start * transition_steps): div_factor,
         int(pct_final * transition_steps): 1.0 / div_factor,
         transition_steps: 1.0 / final_div_factor},
    )


def cosine_onecycle_schedule(
    transition_steps: int, peak_value: float, pct_start: float = 0.3,
    div_factor: float = 25.0, final_div_factor: float = 1e4,
) -> Schedule:
    """One-cycle with cosine pieces: from ``peak / div_factor`` up to ``peak_value`` at
    ``pct_start``, then down to ``peak / (div_factor * final_div_factor)``."""
    if transition_steps <= 0:
        raise ValueError(
            f"cosine_onecycle_schedule: transition_steps must be > 0, got {transition_steps}."
        )
    return piecewise_interpolate_schedule(
        "cosine", peak_value / div_factor,
        {int(pct_start * transition_steps): div_factor,
         int(transition_steps): 1.0 / (div_factor * final_div_factor)},
    )


def sgdr_schedule(cosine_kwargs: Iterable[dict[str, Any]]) -> Schedule:
    """SGDR (Loshchilov & Hutter, 2016): warm restarts, one
    :func:`warmup_cosine_decay_schedule` per dict of its keyword arguments."""
    boundaries, schedules, step = [], [], 0
    for kwargs in cosine_kwargs:
        schedules.append(warmup_cosine_decay_schedule(**kwargs))
        boundaries.append(step + kwargs["decay_steps"])
        step += kwargs["decay_steps"]
    return join_schedules(schedules, boundaries[:-1])
