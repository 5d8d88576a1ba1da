"""Discriminator penalties, as terms added to D's loss.

Each is a pure function with the signature
    penalty(d_apply, d_params, real, fake, key) -> scalar
where d_apply(params, x) -> logits (B,), and real/fake are what D sees (after
DiffAugment, when on). Their hyperparameters are bound with functools.partial
by `jgan.train.optim.d_penalties`, which pairs each with how often it is due (`Penalty`);
`total` adds the due ones to D's loss. Weight clipping, the other Lipschitz device of the WGAN
family, acts on the weights rather than the loss: see `jgan.train.optim.clip_params`.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp


def _per_example_sq_norm(g: jax.Array) -> jax.Array:
  """(B, ...) -> (B,): squared L2 norm of each example's slice."""
  return jnp.sum(jnp.square(g.reshape(g.shape[0], -1)), axis=1)


def _input_grad(d_apply, d_params, x: jax.Array) -> jax.Array:
  """dD(x_i)/dx_i for every example: the gradient of sum_i D(x_i) (examples are independent)."""
  return jax.grad(lambda inputs: jnp.sum(d_apply(d_params, inputs)))(x)


def gradient_penalty(d_apply, d_params, real, fake, key, weight: float = 10.0) -> jax.Array:
  """WGAN-GP (Gulrajani et al. 2017, arXiv:1704.00028, Algorithm 1): weight * E[(||grad D(x_hat)|| - 1)^2].

  x_hat = eps * real + (1 - eps) * fake with eps ~ U[0, 1] drawn once per *example*
  (shape (B, 1, ..., 1)), so each x_hat lies on the segment between a real and a
  fake example; drawing eps per pixel (a known bug of a popular PyTorch port)
  samples points off those segments. Needs a D without BatchNorm: the paper's
  per-example gradient is not defined when examples interact.
  """
  eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
  x_hat = eps * real + (1.0 - eps) * fake
  norms = jnp.sqrt(_per_example_sq_norm(_input_grad(d_apply, d_params, x_hat)) + 1e-12)
  return weight * jnp.mean(jnp.square(norms - 1.0))


def r1_penalty(d_apply, d_params, real, fake, key, gamma: float = 10.0) -> jax.Array:
  """R1 (Mescheder et al. 2018, arXiv:1801.04406, eq. 9): gamma / 2 * E_real[||grad D(x)||^2]."""
  del fake, key
  return 0.5 * gamma * jnp.mean(_per_example_sq_norm(_input_grad(d_apply, d_params, real)))


class Penalty(NamedTuple):
  """A penalty term and its schedule.

  Lazy regularisation (Karras et al. 2020, StyleGAN2 sec. 3.1): with every = k > 1 the
  term is computed only on steps with step % k == 0 and multiplied by k there, so its
  average weight is unchanged.
  """
  fn: Callable[..., jax.Array]
  every: int = 1


def due_at(penalties, step: int) -> tuple[bool, ...] | None:
  """Which of `penalties` are due at (host) step `step`; None when none is lazy (every step is alike)."""
  if all(p.every == 1 for p in penalties):
    return None
  return tuple(step % p.every == 0 for p in penalties)


def total(penalties, d_apply, d_params, real, fake, keys, step, due=None) -> jax.Array:
  """The sum of the due penalties, a term of D's loss (differentiated with it).

  Args:
    penalties: `Penalty`s; keys: one PRNG key per penalty; step: the (traced) step.
    due: `due_at(penalties, step)` computed on the host, which compiles only the due
      terms into the step; None decides on the device with a `lax.cond` per lazy
      penalty, so one compiled step serves every step (what a `lax.scan` body needs).
  The host choice is the fast one on XLA:CPU, which runs the convolutions of a cond
  branch without the layout rewrites and kernels it gives top-level ones: timing each
  step of the main job on a 2-core CPU, its due steps took 206 ms against 41 ms for the
  others with the cond, and 84 ms with R1 compiled into the step.
  """
  loss = jnp.zeros((), jnp.float32)
  for i, (penalty, key) in enumerate(zip(penalties, keys)):
    term = lambda penalty=penalty, key=key: penalty.fn(d_apply, d_params, real, fake, key)
    if penalty.every == 1:
      loss = loss + term()
    elif due is not None:
      if due[i]:
        loss = loss + penalty.every * term()
    else:
      loss = loss + jax.lax.cond(step % penalty.every == 0, lambda term=term, k=penalty.every: k * term(),
                                 lambda: jnp.zeros((), jnp.float32))
  return loss
