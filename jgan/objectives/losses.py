"""GAN losses: small pure functions of discriminator logits, chosen by name.

All take logits (pre-sigmoid scores), never probabilities, so that
log D = -softplus(-l) and log(1 - D) = -softplus(l) are evaluated stably even
where sigmoid(l) rounds to 0 or 1.

Discriminator losses return the mean over the batch of the quantity D
minimises; generator losses likewise for G.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from jgan.core.errors import UserError


def d_cross_entropy(real_logits: jax.Array, fake_logits: jax.Array,
                    label_smoothing: float = 0.0) -> jax.Array:
  """D's binary cross-entropy: -E[t log D(x)] - E[(1-t) log(1-D(x))] - E[log(1 - D(G(z)))].

  One-sided label smoothing (Salimans et al. 2016, arXiv:1606.03498, sec. 3.4): the
  real target is t = 1 - label_smoothing; fake targets stay 0.
  """
  target = 1.0 - label_smoothing
  real = target * jax.nn.softplus(-real_logits) + (1.0 - target) * jax.nn.softplus(real_logits)
  fake = jax.nn.softplus(fake_logits)
  return jnp.mean(real) + jnp.mean(fake)


def g_non_saturating(fake_logits: jax.Array) -> jax.Array:
  """-E[log D(G(z))] (Goodfellow et al. 2014, sec. 3): strong gradients early in training."""
  return jnp.mean(jax.nn.softplus(-fake_logits))


def g_minimax(fake_logits: jax.Array) -> jax.Array:
  """E[log(1 - D(G(z)))], the saturating form of the original minimax game."""
  return -jnp.mean(jax.nn.softplus(fake_logits))


def d_least_squares(real_logits: jax.Array, fake_logits: jax.Array,
                    label_smoothing: float = 0.0) -> jax.Array:
  """LSGAN (Mao et al. 2017, arXiv:1611.04076, eq. 2 with a=0, b=1): 1/2 E[(D(x)-t)^2] + 1/2 E[D(G(z))^2].

  D's raw output is the score (no sigmoid). t = 1 - label_smoothing.
  """
  target = 1.0 - label_smoothing
  return 0.5 * jnp.mean(jnp.square(real_logits - target)) + 0.5 * jnp.mean(jnp.square(fake_logits))


def g_least_squares(fake_logits: jax.Array) -> jax.Array:
  """LSGAN generator loss with c = 1: 1/2 E[(D(G(z)) - 1)^2]."""
  return 0.5 * jnp.mean(jnp.square(fake_logits - 1.0))


def d_wasserstein(real_logits: jax.Array, fake_logits: jax.Array,
                  label_smoothing: float = 0.0) -> jax.Array:
  """Critic loss of WGAN (Arjovsky et al. 2017, arXiv:1701.07875): E[f(G(z))] - E[f(x)].

  The Lipschitz constraint is not part of the loss: pair it with weight clipping
  (config.train.clip) or a gradient penalty (config.train.gp_weight).
  """
  del label_smoothing  # rejected by jgan.tasks.gan.validate_optimization: targets have no meaning for a critic
  return jnp.mean(fake_logits) - jnp.mean(real_logits)


def g_wasserstein(fake_logits: jax.Array) -> jax.Array:
  """-E[f(G(z))]: also the generator loss of the hinge GAN (Lim & Ye 2017; Miyato et al. 2018)."""
  return -jnp.mean(fake_logits)


def d_hinge(real_logits: jax.Array, fake_logits: jax.Array, label_smoothing: float = 0.0) -> jax.Array:
  """Hinge loss (Lim & Ye 2017, arXiv:1705.02894; SNGAN): E[relu(1 - D(x))] + E[relu(1 + D(G(z)))]."""
  del label_smoothing  # rejected by jgan.tasks.gan.validate_optimization
  return jnp.mean(jax.nn.relu(1.0 - real_logits)) + jnp.mean(jax.nn.relu(1.0 + fake_logits))


DLoss = Callable[..., jax.Array]
GLoss = Callable[[jax.Array], jax.Array]

# name -> (discriminator loss, generator loss). Families add entries here.
LOSSES: dict[str, tuple[DLoss, GLoss]] = {
    "non_saturating": (d_cross_entropy, g_non_saturating),
    "minimax": (d_cross_entropy, g_minimax),
    "least_squares": (d_least_squares, g_least_squares),
    "wasserstein": (d_wasserstein, g_wasserstein),
    "hinge": (d_hinge, g_wasserstein),
}

# Losses whose real target is a probability-like label, so one-sided smoothing applies.
SMOOTHABLE = ("non_saturating", "minimax", "least_squares")


def get_losses(name: str) -> tuple[DLoss, GLoss]:
  if name not in LOSSES:
    raise UserError(f"unknown loss {name!r}: choose one of {', '.join(sorted(LOSSES))}")
  return LOSSES[name]


def top_k_fraction(step: jax.Array, final: float, ramp_steps: int) -> jax.Array:
  """The share of each fake batch that G's top-k update keeps at G update `step` (0-based).

  Falls linearly from 1 at step 0 to `final` at `ramp_steps`, then stays (`ramp_steps` 0: `final` from
  the start). Sinha et al. 2020 decay k geometrically per epoch; a ramp in steps does the same job
  without tying the schedule to the dataset's size.
  """
  if ramp_steps <= 0:
    return jnp.asarray(final, jnp.float32)
  progress = jnp.minimum(jnp.asarray(step, jnp.float32) / ramp_steps, 1.0)
  return 1.0 - (1.0 - final) * progress


def top_k_generator_loss(g_loss: GLoss, fake_logits: jax.Array, fraction: jax.Array) -> jax.Array:
  """G's loss over the ceil(fraction * B) fake examples D scores highest (Sinha et al. 2020, "Top-k
  Training of GANs", arXiv:2002.06224): the rest, which D already finds fake, give no gradient.

  Args:
    g_loss: a generator loss (the mean of a per-example term over its batch).
    fake_logits: (B,) D's logits on G's samples.
    fraction: scalar in (0, 1]; 1 gives g_loss(fake_logits) exactly.
  Returns:
    scalar: the mean of g_loss's per-example term over the kept examples.
  """
  batch = fake_logits.shape[0]
  keep = jnp.clip(jnp.ceil(fraction * batch), 1, batch)
  # Rank 0 = the most real-looking sample; ties keep the earlier example (argsort is stable).
  rank = jnp.argsort(jnp.argsort(-jax.lax.stop_gradient(fake_logits)))
  weights = (rank < keep).astype(fake_logits.dtype)
  per_example = jax.vmap(lambda logit: g_loss(logit[None]))(fake_logits)
  return jnp.sum(weights * per_example) / keep
