"""The one optimizer builder and the one update helper, shared by every task.

`make_optimizer(config.train, lr, ...)` honours `optimizer`, `b1`/`b2`,
`lr_schedule`/`lr_final` and lazy R1's Adam correction the same way for every
network of every task; `apply_gradients` steps one named network of a state
and applies WGAN weight clipping when asked; `d_penalties` turns
`gp_weight`/`r1_gamma` into the terms added to a discriminator's loss.
"""
from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import optax

from jgan.objectives import regularizers

LR_SCHEDULES = ("constant", "linear", "cosine", "constant_linear")
OPTIMIZERS = ("adam", "rmsprop")
# PyTorch's RMSprop, which the WGAN authors' released code uses: smoothing alpha 0.99, eps 1e-8 added
# to sqrt(v) (outside the root). optax's defaults (decay 0.9, eps inside the root) are another optimizer.
RMSPROP_DECAY = 0.99
RMSPROP_EPS = 1e-8


def learning_rate(t, lr: float, num_updates: int):
  """The rate of config.train `t` from `lr`: a float, or an optax schedule of the update count.

  linear: lr -> lr * lr_final over `num_updates` updates, then flat; cosine: lr * (lr_final +
  (1 - lr_final) * (1 + cos(pi * k / num_updates)) / 2) for update k <= num_updates;
  constant_linear: `constant_then_linear`.
  """
  if t.lr_schedule == "linear":
    return optax.linear_schedule(lr, lr * t.lr_final, num_updates)
  if t.lr_schedule == "cosine":
    return optax.cosine_decay_schedule(lr, num_updates, alpha=t.lr_final)
  if t.lr_schedule == "constant_linear":
    return constant_then_linear(lr, lr * t.lr_final, num_updates)
  return lr


def constant_then_linear(lr: float, final: float, num_updates: int):
  """CycleGAN's schedule (Zhu et al. 2017, sec. 7.1: 100 epochs at lr, then 100 decaying linearly to 0),
  scaled to the run: `lr` for the first num_updates // 2 updates, then linearly to `final` at num_updates."""
  flat = num_updates // 2
  return optax.join_schedules([optax.constant_schedule(lr), optax.linear_schedule(lr, final, num_updates - flat)],
                              [flat])


def lazy_regularization_ratio(t) -> float:
  """c = k / (k + 1) for lazy R1 every k > 1 steps, else 1.

  StyleGAN2 (Karras et al. 2020, sec. 3.1 and its code's `mb_ratio`): with the
  penalty applied every k-th step, D's Adam runs with lr * c and betas b ** c,
  so the optimizer's time constants match the unregularized update count.
  """
  k = t.r1_every
  return k / (k + 1.0) if t.r1_gamma > 0 and k > 1 else 1.0


def make_optimizer(t, lr: float, updates_per_step: int = 1, lazy_ratio: float = 1.0) -> optax.GradientTransformation:
  """The optimizer of a network updated `updates_per_step` times per step (D: n_critic).

  Args:
    t: config.train.
    lr: the initial learning rate.
    lazy_ratio: `lazy_regularization_ratio(t)` for a network under lazy R1, else 1.
  """
  lr = learning_rate(t, lr, t.num_steps * updates_per_step)
  if lazy_ratio != 1.0:
    lr = (lambda count, base=lr: base(count) * lazy_ratio) if callable(lr) else lr * lazy_ratio
  if t.optimizer == "rmsprop":
    # WGAN (Arjovsky et al. 2017, Algorithm 1): RMSProp, no momentum (it destabilised the critic).
    return optax.rmsprop(lr, decay=RMSPROP_DECAY ** lazy_ratio, eps=RMSPROP_EPS, eps_in_sqrt=False)
  return optax.adam(lr, b1=t.b1 ** lazy_ratio, b2=t.b2 ** lazy_ratio)


def clip_params(params, clip: float):
  """WGAN weight clipping (Arjovsky et al. 2017, Algorithm 1): every weight into [-clip, clip]."""
  return jax.tree.map(lambda w: jnp.clip(w, -clip, clip), params)


def apply_gradients(state, name: str, grads, optimizer: optax.GradientTransformation, clip: float = 0.0):
  """`state` with network `name` stepped by `optimizer` on `grads`, then clipped to [-clip, clip] if clip > 0.

  `state` is any pytree dataclass with `params` and `opt_state` dicts keyed by network name.
  """
  updates, opt = optimizer.update(grads, state.opt_state[name], state.params[name])
  params = optax.apply_updates(state.params[name], updates)
  if clip > 0:
    params = clip_params(params, clip)
  return state.replace(params={**state.params, name: params}, opt_state={**state.opt_state, name: opt})


def d_penalties(t) -> tuple:
  """The penalty terms of D's loss that config.train `t` asks for (gradient penalty, R1), each a
  `jgan.objectives.regularizers.Penalty`, summed into D's loss by `regularizers.total`."""
  penalties = []
  if t.gp_weight > 0:
    penalties.append(regularizers.Penalty(functools.partial(regularizers.gradient_penalty, weight=t.gp_weight)))
  if t.r1_gamma > 0:
    penalties.append(regularizers.Penalty(functools.partial(regularizers.r1_penalty, gamma=t.r1_gamma),
                                          every=t.r1_every))
  return tuple(penalties)
