"""BiGAN / ALI as a task of the training loop (Donahue et al. 2017; Dumoulin et al. 2017).

The game: D tells real pairs (x, E(x)) from generated pairs (G(z), z); G and E
are updated together to fool it. At the optimum E inverts G, so E(x) is a
learned representation of x and G(E(x)) reconstructs x.

Per step (GAN.train_step): `n_critic` D updates, then one joint (G, E) update,
on the last critic slice of real images, whose loss is
g_loss(D(G(z), z)) + g_loss(-D(x, E(x))): the generator loss applied to the
generated pairs, and to the real pairs with the sign of D flipped (E wants its
pairs scored as fake). For the non-saturating, minimax, hinge and Wasserstein
losses this is exactly the "generator side" of the game.
"""
from __future__ import annotations

import dataclasses
import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jgan.core import rng
from jgan.core.errors import UserError
from jgan.models import factory
from jgan.models.bigan import Encoder, JointDiscriminator
from jgan.tasks import base
from jgan.tasks.gan import GAME_FIELDS, GAN, game_fields, validate_gan
from jgan.tasks.state import GANState, apply_net, init_net
from jgan.train import optim


@dataclasses.dataclass(frozen=True)
class BiGAN(GAN):
  """A GAN with an encoder; `discriminator` takes (x, z). E shares G's optimizer settings."""
  encoder: nn.Module | None = None

  def init(self, root_key: jax.Array, example_x: jax.Array) -> GANState:
    state = super().init(root_key, example_x)
    e_params, e_stats = init_net(self.encoder, rng.named(rng.named(root_key, "init"), "e"), example_x[:1])
    return state.replace(
        params={**state.params, "e": e_params}, batch_stats={**state.batch_stats, "e": e_stats},
        opt_state={**state.opt_state, "e": self.g_optimizer.init(e_params)})

  def _cond(self, x, labels):
    return (x,)

  def _init_d(self, key, example_x):
    return init_net(self.discriminator, key, example_x, jnp.zeros((1, self.latent_dim), jnp.float32))

  def encode(self, state: GANState, x: jax.Array) -> jax.Array:
    """x (B, R, R, C) in [-1, 1] -> E(x) (B, latent_dim), inference mode (the mean for ALI)."""
    return apply_net(self.encoder, state.params["e"], state.batch_stats["e"], x, train=False)[0]

  def reconstruct(self, state: GANState, x: jax.Array) -> jax.Array:
    """G(E(x)), both in inference mode."""
    return self.generate(state, self.encode(state, x))[0]

  def preview(self, state: GANState, key: jax.Array, batch: dict) -> jax.Array:
    """Pairs of grid rows: real images x, then G(E(x)) below them.

    The grid writer lays N images in ceil(sqrt(N)) columns; this returns
    2 * floor(rows / 2) full rows of that width from the first real images.
    """
    del key
    n = batch["x"].shape[0]
    cols = math.ceil(math.sqrt(n))
    pairs = max(1, (n // cols) // 2)
    x = batch["x"][:pairs * cols]
    recon = self.reconstruct(state, x)
    rows = jnp.stack([x.reshape(pairs, cols, *x.shape[1:]), recon.reshape(pairs, cols, *x.shape[1:])], axis=1)
    return rows.reshape(2 * pairs * cols, *x.shape[1:])

  def _pairs(self, params, stats, real, key):
    """(E(x), G(z), z, new stats) in training mode."""
    z = self.latents(rng.named(key, "latent"), real.shape[0])
    fake, g_stats = apply_net(self.generator, params["g"], stats["g"], z, train=True)
    enc, e_stats = apply_net(self.encoder, params["e"], stats["e"], real, train=True,
                             rngs={"noise": rng.named(key, "e_noise")})
    return enc, fake, z, {**stats, "g": g_stats, "e": e_stats}

  def _d_update(self, state: GANState, real: jax.Array, labels: jax.Array, key: jax.Array):
    del labels
    enc, fake, z, stats = self._pairs(state.params, state.batch_stats, real, rng.named(key, "d_pairs"))
    enc, fake = jax.lax.stop_gradient(enc), jax.lax.stop_gradient(fake)

    def loss_fn(d_params):
      real_logits, _ = apply_net(self.discriminator, d_params, {}, real, enc, train=True)
      fake_logits, _ = apply_net(self.discriminator, d_params, {}, fake, z, train=True)
      return self.d_loss(real_logits, fake_logits, self.label_smoothing), (real_logits, fake_logits)

    (loss, (real_logits, fake_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["d"])
    state = optim.apply_gradients(state, "d", grads, self.d_optimizer, clip=self.d_clip).replace(batch_stats=stats)
    return state, {"d_loss": loss, "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
                   "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)), "d_grad_norm": optax.tree.norm(grads)}

  def _g_update(self, state: GANState, real: jax.Array, key: jax.Array):
    def loss_fn(ge_params):
      params = {**state.params, **ge_params}
      enc, fake, z, stats = self._pairs(params, state.batch_stats, real, rng.named(key, "g_pairs"))
      real_logits, _ = apply_net(self.discriminator, state.params["d"], {}, real, enc, train=True)
      fake_logits, _ = apply_net(self.discriminator, state.params["d"], {}, fake, z, train=True)
      return self.g_loss(fake_logits) + self.g_loss(-real_logits), stats

    ge = {"g": state.params["g"], "e": state.params["e"]}
    (loss, stats), grads = jax.value_and_grad(loss_fn, has_aux=True)(ge)
    state = optim.apply_gradients(state, "g", grads["g"], self.g_optimizer)
    state = optim.apply_gradients(state, "e", grads["e"], self.g_optimizer).replace(batch_stats=stats)
    state = self._update_ema(state)
    return state, {"g_loss": loss, "g_grad_norm": optax.tree.norm(grads)}


# ---------------------------------------------------------------- config -> task

def _validate(config) -> None:
  validate_gan(config)
  if config.train.loss == "least_squares":
    raise UserError("config.train.loss='least_squares' has no BiGAN form here: use non_saturating, minimax, "
                    "hinge or wasserstein")


def make_bigan(config, element_shape) -> BiGAN:
  """BiGAN/ALI: G from config.model.name, encoder and joint D (x, z) from jgan.models.bigan."""
  m = config.model
  resolution, _ = factory.images_only("bigan", element_shape)
  generator, _ = factory.networks(m, element_shape)
  dtype = factory.compute_dtype(m.dtype)
  encoder = Encoder(resolution=resolution, latent_dim=m.latent_dim, width=m.d_width, max_mult=m.max_mult,
                    stochastic=m.stochastic_encoder, dtype=dtype)
  discriminator = JointDiscriminator(resolution=resolution, width=m.d_width, max_mult=m.max_mult,
                                     hidden=m.d_hidden[0] if m.d_hidden else 512, dtype=dtype)
  return BiGAN(generator=generator, discriminator=discriminator, encoder=encoder, **game_fields(config),
               noise_rngs=factory.spec(m.name).draws_noise)


base.register(base.TaskSpec(name="bigan", build=make_bigan, validate=_validate,
                            fields=GAME_FIELDS | {"model.stochastic_encoder", "model.d_hidden"}))
