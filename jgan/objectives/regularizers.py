"""Discriminator penalties, as terms added to D's loss.

Each is a pure function with the `GAN.d_penalties` signature
    penalty(d_apply, d_params, real, fake, key, step) -> scalar
where d_apply(params, x) -> logits (B,), and real/fake are what D sees (after
DiffAugment, when on). Their hyperparameters are bound with functools.partial
by `jgan.train.optim.d_penalties`. Weight clipping, the other Lipschitz device of the WGAN
family, acts on the weights rather than the loss: see `jgan.train.optim.clip_params`.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def _per_example_sq_norm(g: jax.Array) -> jax.Array:
  """(B, ...) -> (B,): squared L2 norm of each example's slice."""
  return jnp.sum(jnp.square(g.reshape(g.shape[0], -1)), axis=1)


def _input_grad(d_apply, d_params, x: jax.Array) -> jax.Array:
  """dD(x_i)/dx_i for every example: the gradient of sum_i D(x_i) (examples are independent)."""
  return jax.grad(lambda inputs: jnp.sum(d_apply(d_params, inputs)))(x)


def gradient_penalty(d_apply, d_params, real, fake, key, step, weight: float = 10.0) -> jax.Array:
  """WGAN-GP (Gulrajani et al. 2017, arXiv:1704.00028, Algorithm 1): weight * E[(||grad D(x_hat)|| - 1)^2].

  x_hat = eps * real + (1 - eps) * fake with eps ~ U[0, 1] drawn once per *example*
  (shape (B, 1, ..., 1)), so each x_hat lies on the segment between a real and a
  fake example; drawing eps per pixel (a known bug of a popular PyTorch port)
  samples points off those segments. Needs a D without BatchNorm: the paper's
  per-example gradient is not defined when examples interact.
  """
  del step
  eps = jax.random.uniform(key, (real.shape[0],) + (1,) * (real.ndim - 1), real.dtype)
  x_hat = eps * real + (1.0 - eps) * fake
  norms = jnp.sqrt(_per_example_sq_norm(_input_grad(d_apply, d_params, x_hat)) + 1e-12)
  return weight * jnp.mean(jnp.square(norms - 1.0))


def r1_penalty(d_apply, d_params, real, fake, key, step, gamma: float = 10.0, every: int = 1) -> jax.Array:
  """R1 (Mescheder et al. 2018, arXiv:1801.04406, eq. 9): gamma / 2 * E_real[||grad D(x)||^2].

  Lazy regularisation (Karras et al. 2020, StyleGAN2 sec. 3.1): with every = k > 1
  the penalty is computed only on steps with step % k == 0 and multiplied by k
  there, so its average weight is unchanged. The choice is a `lax.cond` on the
  traced step, so one compiled step serves every step and the skipped steps
  never compute the input gradient.
  """
  del fake, key

  def penalty():
    return 0.5 * gamma * every * jnp.mean(_per_example_sq_norm(_input_grad(d_apply, d_params, real)))

  if every == 1:
    return penalty()
  return jax.lax.cond(step % every == 0, penalty, lambda: jnp.zeros((), jnp.float32))
