"""Optimizers: each one a ``chain`` of transformations, with ``learning_rate`` a float or a
schedule of the step count. References are in the ``scale_by_*`` docstrings."""

from __future__ import annotations

from typing import Any

import jumba.numpy as jnp
from jumba_optim._src import base, clipping, wrappers
from jumba_optim._src import transform as t
from jumba_optim._src import transform_more as tm
from jumba_optim._src.combine import chain

LR = base.ScalarOrSchedule
GT = base.GradientTransformationExtraArgs


def sgd(learning_rate: LR, momentum: float | None = None, nesterov: bool = False,
        accumulator_dtype: Any = None) -> GT:
    """Stochastic gradient descent: ``u = -lr * g`` (with heavy-ball or Nesterov momentum
    ``m_t = g_t + momentum m_{t-1}`` when ``momentum`` is given)."""
    return chain(
        t.trace(momentum, nesterov, accumulator_dtype) if momentum is not None else base.identity(),
        t.scale_by_learning_rate(learning_rate),
    )


def noisy_sgd(learning_rate: LR, eta: float = 0.01, gamma: float = 0.55, seed: int = 0) -> GT:
    """SGD with annealed Gaussian gradient noise (see :func:`add_noise`)."""
    return chain(t.add_noise(eta, gamma, seed), t.scale_by_learning_rate(learning_rate))


def sign_sgd(learning_rate: LR) -> GT:
    """signSGD (Bernstein et al., 2018): ``u = -lr * sign(g)``."""
    return chain(tm.scale_by_sign(), t.scale_by_learning_rate(learning_rate))


def signum(learning_rate: LR, momentum: float = 0.9) -> GT:
    """Signum (Bernstein et al., 2018): ``u = -lr * sign(ema_momentum(g))``."""
    return chain(t.ema(momentum, debias=False), tm.scale_by_sign(),
                 t.scale_by_learning_rate(learning_rate))


def polyak_sgd(max_learning_rate: float = 1.0, scaling: LR = 1.0, f_min: float = 0.0,
               eps: float = 0.0, variant: str = "sps") -> GT:
    """SGD with Polyak step sizes (Loizou et al., 2021); pass ``value=f(p)`` to update::

        u = -scaling * min((f(p) - f_min) / (||g||^2 + eps), max_learning_rate) * g
    """
    return chain(sgd(learning_rate=scaling),
                 tm.scale_by_polyak(f_min, max_learning_rate, eps, variant))


def adam(learning_rate: LR, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
         eps_root: float = 0.0, mu_dtype: Any = None, *, nesterov: bool = False) -> GT:
    """Adam (Kingma & Ba, 2014): ``u = -lr * m_hat / (sqrt(v_hat + eps_root) + eps)``."""
    return chain(t.scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                 t.scale_by_learning_rate(learning_rate))


def adamw(learning_rate: LR, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          eps_root: float = 0.0, mu_dtype: Any = None, weight_decay: float = 1e-4,
          mask: base.MaskOrFn = None, *, nesterov: bool = False) -> GT:
    """AdamW (Loshchilov & Hutter, 2019): Adam with decoupled weight decay,
    ``u = -lr * (adam(g) + weight_decay * p)``."""
    return chain(t.scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                 t.add_decayed_weights(weight_decay, mask),
                 t.scale_by_learning_rate(learning_rate))


def nadam(learning_rate: LR, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          eps_root: float = 0.0, mu_dtype: Any = None) -> GT:
    """NAdam (Dozat, 2016): Adam with Nesterov momentum."""
    return adam(learning_rate, b1, b2, eps, eps_root, mu_dtype, nesterov=True)


def nadamw(learning_rate: LR, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
           eps_root: float = 0.0, mu_dtype: Any = None, weight_decay: float = 1e-4,
           mask: base.MaskOrFn = None) -> GT:
    """NAdamW: NAdam with decoupled weight decay."""
    return adamw(learning_rate, b1, b2, eps, eps_root, mu_dtype, weight_decay, mask,
                 nesterov=True)


def adamax(learning_rate: LR, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8) -> GT:
    """Adamax: Adam with the infinity norm, ``u = -lr * m_hat / max(|g| + eps, b2 v)``."""
    return chain(t.scale_by_adamax(b1, b2, eps), t.scale_by_learning_rate(learning_rate))


def adamaxw(learning_rate: LR, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
            weight_decay: float = 1e-4, mask: base.MaskOrFn = None) -> GT:
    """Adamax with decoupled weight decay."""
    return chain(t.scale_by_adamax(b1, b2, eps), t.add_decayed_weights(weight_decay, mask),
                 t.scale_by_learning_rate(learning_rate))


def amsgrad(learning_rate: LR, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
            eps_root: float = 0.0, mu_dtype: Any = None) -> GT:
    """AMSGrad (Reddi et al., 2018)."""
    return chain(t.scale_by_amsgrad(b1, b2, eps, eps_root, mu_dtype),
                 t.scale_by_learning_rate(learning_rate))


def radam(learning_rate: LR, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
          eps_root: float = 0.0, threshold: float = 5.0, *, nesterov: bool = False) -> GT:
    """Rectified Adam (Liu et al., 2020)."""
    return chain(t.scale_by_radam(b1, b2, eps, eps_root, threshold, nesterov=nesterov),
                 t.scale_by_learning_rate(learning_rate))


def adabelief(learning_rate: LR, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-16,
              eps_root: float = 1e-16, *, nesterov: bool = False) -> GT:
    """AdaBelief (Zhuang et al., 2020)."""
    return chain(t.scale_by_belief(b1, b2, eps, eps_root, nesterov=nesterov),
                 t.scale_by_learning_rate(learning_rate))


def adagrad(learning_rate: LR, initial_accumulator_value: float = 0.1,
            eps: float = 1e-7) -> GT:
    """AdaGrad (Duchi et al., 2011): ``u = -lr * g / sqrt(sum g^2 + eps)``."""
    return chain(t.scale_by_rss(initial_accumulator_value, eps),
                 t.scale_by_learning_rate(learning_rate))


def adadelta(learning_rate: LR | None = None, rho: float = 0.9, eps: float = 1e-6,
             weight_decay: float = 0.0, weight_decay_mask: base.MaskOrFn = None) -> GT:
    """AdaDelta (Zeiler, 2012); ``learning_rate=None`` means 1."""
    return chain(t.add_decayed_weights(weight_decay, weight_decay_mask),
                 t.scale_by_adadelta(rho, eps),
                 t.scale_by_learning_rate(1.0 if learning_rate is None else learning_rate))


def adafactor(learning_rate: LR | None = None, min_dim_size_to_factor: int = 128,
              decay_rate: float = 0.8, decay_offset: int = 0,
              multiply_by_parameter_scale: float = True, clipping_threshold: float | None = 1.0,
              momentum: float | None = None, dtype_momentum: Any = jnp.float32,
              weight_decay_rate: float | None = None, eps: float = 1e-30,
              factored: bool = True, weight_decay_mask: base.MaskOrFn = None) -> GT:
    """Adafactor (Shazeer & Stern, 2018): factored second moments, update clipping by
    block RMS, relative step sizes scaled by the parameters' RMS."""
    txs = [tm.scale_by_factored_rms(factored, decay_rate, decay_offset,
                                    min_dim_size_to_factor, eps)]
    if clipping_threshold is not None:
        txs.append(clipping.clip_by_block_rms(clipping_threshold))
    if learning_rate is not None:
        txs.append(t.scale_by_learning_rate(learning_rate, flip_sign=False))
    if multiply_by_parameter_scale:
        txs.append(tm.scale_by_param_block_rms())
    if momentum is not None:
        txs.append(t.ema(momentum, debias=False, accumulator_dtype=dtype_momentum))
    if weight_decay_rate is not None:
        txs.append(t.add_decayed_weights(weight_decay_rate, weight_decay_mask))
    txs.append(t.scale(-1))
    return chain(*txs)


def adan(learning_rate: LR, b1: float = 0.98, b2: float = 0.92, b3: float = 0.99,
         eps: float = 1e-8, eps_root: float = 0.0, weight_decay: float = 0.0,
         mask: base.MaskOrFn = None) -> GT:
    """Adan (Xie et al., 2022): Nesterov-style momentum on gradient differences."""
    return chain(tm.scale_by_adan(b1, b2, b3, eps, eps_root),
                 t.add_decayed_weights(weight_decay, mask),
                 t.scale_by_learning_rate(learning_rate))


def lamb(learning_rate: LR, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-6,
         eps_root: float = 0.0, weight_decay: float = 0.0, mask: base.MaskOrFn = None) -> GT:
    """LAMB (You et al., 2019): Adam plus weight decay, scaled by the layer trust ratio."""
    return chain(t.scale_by_adam(b1, b2, eps, eps_root), t.add_decayed_weights(weight_decay, mask),
                 tm.scale_by_trust_ratio(), t.scale_by_learning_rate(learning_rate))


def lars(learning_rate: LR, weight_decay: float = 0.0, weight_decay_mask: base.MaskOrFn = True,
         trust_coefficient: float = 0.001, eps: float = 0.0,
         trust_ratio_mask: base.MaskOrFn = True, momentum: float = 0.9,
         nesterov: bool = False) -> GT:
    """LARS (You et al., 2017): weight decay, layer trust ratio, then momentum SGD."""
    return chain(
        t.add_decayed_weights(weight_decay, mask=weight_decay_mask),
        wrappers.masked(tm.scale_by_trust_ratio(trust_coefficient=trust_coefficient, eps=eps),
                        mask=trust_ratio_mask),
        t.scale_by_learning_rate(learning_rate),
        t.trace(decay=momentum, nesterov=nesterov),
    )


def lion(learning_rate: LR, b1: float = 0.9, b2: float = 0.99, mu_dtype: Any = None,
         weight_decay: float = 1e-3, mask: base.MaskOrFn = None) -> GT:
    """Lion (Chen et al., 2023): ``u = -lr * (sign(interp(g, m)) + wd * p)``."""
    return chain(tm.scale_by_lion(b1, b2, mu_dtype), t.add_decayed_weights(weight_decay, mask),
                 t.scale_by_learning_rate(learning_rate))


def novograd(learning_rate: LR, b1: float = 0.9, b2: float = 0.25, eps: float = 1e-6,
             eps_root: float = 0.0, weight_decay: float = 0.0) -> GT:
    """NovoGrad (Ginsburg et al., 2019)."""
    return chain(tm.scale_by_novograd(b1, b2, eps, eps_root, weight_decay),
                 t.scale_by_learning_rate(learning_rate))


def rmsprop(learning_rate: LR, decay: float = 0.9, eps: float = 1e-8,
            initial_scale: float = 0.0, eps_in_sqrt: bool = True, centered: bool = False,
            momentum: float | None = None, nesterov: bool = False,
            bias_correction: bool = False) -> GT:
    """RMSProp (Hinton, 2012), optionally centred (Graves, 2013) and with momentum."""
    pre = (t.scale_by_stddev if centered else t.scale_by_rms)(
        decay, eps, initial_scale, eps_in_sqrt, bias_correction)
    return chain(pre, t.scale_by_learning_rate(learning_rate),
                 t.trace(momentum, nesterov) if momentum is not None else base.identity())


def yogi(learning_rate: LR, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-3) -> GT:
    """Yogi (Zaheer et al., 2018)."""
    return chain(t.scale_by_yogi(b1=b1, b2=b2, eps=eps), t.scale_by_learning_rate(learning_rate))


def fromage(learning_rate: float, min_norm: float = 1e-6) -> GT:
    """Fromage (Bernstein et al., 2020): trust-ratio steps shrunk by ``1/sqrt(1 + lr^2)``."""
    mult = 1 / (1 + learning_rate**2) ** 0.5
    return chain(tm.scale_by_trust_ratio(min_norm), t.scale_by_learning_rate(learning_rate * mult),
                 t.add_decayed_weights(mult - 1.0))


def sm3(learning_rate: float, momentum: float = 0.9) -> GT:
    """SM3 (Anil et al., 2019)."""
    return chain(tm.scale_by_sm3(momentum), t.scale(-learning_rate))


def rprop(learning_rate: float, eta_minus: float = 0.5, eta_plus: float = 1.2,
          min_step_size: float = 1e-6, max_step_size: float = 50.0) -> GT:
    """Rprop (Riedmiller & Braun, 1993): sign steps with per-element adaptive sizes."""
    return chain(tm.scale_by_rprop(learning_rate, eta_minus, eta_plus, min_step_size,
                                   max_step_size), t.scale(-1.0))


def optimistic_gradient_descent(learning_rate: LR, alpha: LR = 1.0,
                                beta: LR = 1.0) -> GT:
    """Optimistic GD (Mokhtari et al., 2019): ``u = -lr ((alpha + beta) g_t - beta g_{t-1})``."""
    return chain(tm.scale_by_optimistic_gradient(alpha, beta),
                 t.scale_by_learning_rate(learning_rate))


def optimistic_adam(learning_rate: float, optimism: float | None = None, b1: float = 0.9,
                    b2: float = 0.999, eps: float = 1e-8, eps_root: float = 0.0,
                    mu_dtype: Any = None, *, nesterov: bool = True) -> GT:
    """Optimistic Adam (Daskalakis et al., 2018): optimism applied to Adam's direction."""
    if optimism is None:
        optimism = learning_rate
    return chain(t.scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                 tm.scale_by_optimistic_gradient(alpha=learning_rate, beta=optimism),
                 t.scale_by_learning_rate(1.0))


def optimistic_adam_v2(learning_rate: LR, alpha: float = 1.0, beta: float = 1.0,
                       b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8,
                       eps_root: float = 0.0, mu_dtype: Any = None,
                       *, nesterov: bool = False) -> GT:
    """Optimistic Adam with the learning rate outside the optimism term:
    ``u = -lr ((alpha + beta) a_t - beta a_{t-1})`` with ``a`` Adam's direction."""
    return chain(t.scale_by_adam(b1, b2, eps, eps_root, mu_dtype, nesterov=nesterov),
                 tm.scale_by_optimistic_gradient(alpha, beta),
                 t.scale_by_learning_rate(learning_rate))
