"""The adversarial training step, as a pure function of (state, batch, key).

A `GAN` bundles the static parts (the two Flax modules, the optimizers and the
losses); its `train_step(state, batch, key) -> (state, metrics)` is pure and is
what the training loop jits (with the state donated) and shards.

Order of updates per step (Goodfellow et al. 2014, Algorithm 1):
  1. `n_critic` discriminator updates, each on its own slice of real images and
     its own latent batch; fakes come from the current G and are treated as
     constants (stop_gradient) because only D's parameters move here.
  2. One generator update against the *updated* D.
Gradients are taken with `jax.value_and_grad` on pure loss functions, so there
is no gradient buffer to zero and nothing to detach: the pitfalls of the
tutorial's PyTorch pseudo-code (zero_grad after backward, backprop through a
no_grad block) cannot occur.

Data parallelism needs no code here: the loop jits this step over a device mesh
with the batch sharded on its "data" axis, the losses are means over the
*global* batch, so XLA inserts the gradient all-reduce (and BatchNorm computes
global-batch statistics), and the result equals the one-device step.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import struct

from jgan import rng
from jgan.losses import DLoss, GLoss


@struct.dataclass
class GANState:
  """Everything that changes during training; a pytree that orbax saves whole.

  Per-network dicts are keyed by network name ("g", "d", and e.g. "e" for BiGAN).
  """
  step: jax.Array          # int32 scalar: completed generator updates
  rng: jax.Array           # uint32 key data of the run's root key (config.seed)
  params: dict
  batch_stats: dict        # {} entries for networks without BatchNorm
  opt_state: dict
  ema_params: dict         # generator EMA weights ({} when EMA is off)

  @property
  def root_key(self) -> jax.Array:
    return jax.random.wrap_key_data(self.rng)


def apply_net(module: nn.Module, params, batch_stats, *inputs, train: bool):
  """Runs `module`; returns (output, new batch_stats). Only training mode updates statistics."""
  variables = {"params": params}
  if batch_stats:
    variables["batch_stats"] = batch_stats
    if train:
      out, updated = module.apply(variables, *inputs, train=True, mutable=["batch_stats"])
      return out, updated["batch_stats"]
  return module.apply(variables, *inputs, train=train), batch_stats


def init_net(module: nn.Module, key: jax.Array, *inputs) -> tuple[Any, Any]:
  variables = module.init(key, *inputs, train=False)
  return variables["params"], variables.get("batch_stats", {})


@dataclasses.dataclass(frozen=True)
class GAN:
  """An unconditional GAN: G maps z ~ N(0, I) of size `latent_dim` to data, D scores data."""
  generator: nn.Module
  discriminator: nn.Module
  latent_dim: int
  g_optimizer: optax.GradientTransformation
  d_optimizer: optax.GradientTransformation
  d_loss: DLoss
  g_loss: GLoss
  n_critic: int = 1
  label_smoothing: float = 0.0
  # Extra terms added to D's loss: fn(d_apply, d_params, real, fake, key) -> scalar.
  d_penalties: tuple[Callable[..., jax.Array], ...] = ()

  @property
  def batch_multiple(self) -> int:
    """Real examples consumed per step, in units of the update batch size."""
    return self.n_critic

  # ------------------------------------------------------------------ init
  def init(self, root_key: jax.Array, example_x: jax.Array) -> GANState:
    """Fresh state; `example_x` (B, ...) fixes D's input shape."""
    init_key = rng.named(root_key, "init")
    z = jnp.zeros((1, self.latent_dim), jnp.float32)
    g_params, g_stats = init_net(self.generator, rng.named(init_key, "g"), z)
    d_params, d_stats = init_net(self.discriminator, rng.named(init_key, "d"), example_x[:1])
    return GANState(
        step=jnp.zeros((), jnp.int32),
        rng=jax.random.key_data(root_key),
        params={"g": g_params, "d": d_params},
        batch_stats={"g": g_stats, "d": d_stats},
        opt_state={"g": self.g_optimizer.init(g_params), "d": self.d_optimizer.init(d_params)},
        ema_params={},
    )

  # ------------------------------------------------------------------ pieces
  def latents(self, key: jax.Array, num: int) -> jax.Array:
    return jax.random.normal(key, (num, self.latent_dim), jnp.float32)

  def generate(self, state: GANState, z: jax.Array, train: bool = False):
    """(images, new G batch_stats); in eval mode with the EMA weights when present."""
    params = state.ema_params.get("g", state.params["g"]) if not train else state.params["g"]
    return apply_net(self.generator, params, state.batch_stats["g"], z, train=train)

  def preview(self, state: GANState, key: jax.Array, batch: dict) -> jax.Array:
    """Samples for the progress grid: one per row of `batch` (only its size is used)."""
    return self.generate(state, self.latents(key, batch["x"].shape[0]))[0]

  def _d_update(self, state: GANState, real: jax.Array, key: jax.Array):
    z = self.latents(rng.named(key, "d_latent"), real.shape[0])
    fake, g_stats = apply_net(self.generator, state.params["g"], state.batch_stats["g"], z, train=True)
    fake = jax.lax.stop_gradient(fake)

    def loss_fn(d_params):
      # Real and fake go through D separately, as in the DCGAN reference, so each
      # BatchNorm sees one distribution at a time.
      real_logits, d_stats = apply_net(self.discriminator, d_params, state.batch_stats["d"], real, train=True)
      fake_logits, d_stats = apply_net(self.discriminator, d_params, d_stats, fake, train=True)
      loss = self.d_loss(real_logits, fake_logits, self.label_smoothing)
      d_apply = lambda p, x: apply_net(self.discriminator, p, state.batch_stats["d"], x, train=True)[0]
      for i, penalty in enumerate(self.d_penalties):
        loss = loss + penalty(d_apply, d_params, real, fake, rng.named(key, f"penalty{i}"))
      return loss, (d_stats, real_logits, fake_logits)

    (loss, (d_stats, real_logits, fake_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["d"])
    updates, d_opt = self.d_optimizer.update(grads, state.opt_state["d"], state.params["d"])
    d_params = optax.apply_updates(state.params["d"], updates)
    state = state.replace(
        params={**state.params, "d": d_params},
        batch_stats={**state.batch_stats, "g": g_stats, "d": d_stats},
        opt_state={**state.opt_state, "d": d_opt})
    metrics = {
        "d_loss": loss,
        "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),   # D(x)
        "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),   # D(G(z)) before D's update
        "d_grad_norm": optax.global_norm(grads),
    }
    return state, metrics

  def _g_update(self, state: GANState, batch_size: int, key: jax.Array):
    z = self.latents(rng.named(key, "g_latent"), batch_size)

    def loss_fn(g_params):
      fake, g_stats = apply_net(self.generator, g_params, state.batch_stats["g"], z, train=True)
      # D's running statistics are D's own business: this pass does not update them.
      fake_logits, _ = apply_net(self.discriminator, state.params["d"], state.batch_stats["d"], fake, train=True)
      return self.g_loss(fake_logits), (g_stats, fake_logits)

    (loss, (g_stats, fake_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["g"])
    updates, g_opt = self.g_optimizer.update(grads, state.opt_state["g"], state.params["g"])
    g_params = optax.apply_updates(state.params["g"], updates)
    state = state.replace(
        params={**state.params, "g": g_params},
        batch_stats={**state.batch_stats, "g": g_stats},
        opt_state={**state.opt_state, "g": g_opt})
    metrics = {"g_loss": loss, "g_grad_norm": optax.global_norm(grads),
               "d_fake_after": jnp.mean(jax.nn.sigmoid(fake_logits))}
    return state, metrics

  # ------------------------------------------------------------------ the step
  def train_step(self, state: GANState, batch: dict, key: jax.Array) -> tuple[GANState, dict]:
    """One generator step: `n_critic` D updates then one G update.

    Args:
      state: the GANState.
      batch: {"x": float32 (n_critic * B, ...) real data in [-1, 1], "label": int32}.
      key: this step's key (fold_in(train_key, step)); split by name inside.
    Returns:
      (new state, dict of scalar metrics).
    """
    real = batch["x"]
    batch_size = real.shape[0] // self.n_critic
    # Row j * n_critic + i feeds critic update i. Splitting along the second axis
    # keeps every device's rows on that device when the batch is sharded.
    real = real.reshape(batch_size, self.n_critic, *real.shape[1:])
    d_metrics = None
    for i in range(self.n_critic):  # n_critic is small and static; unrolled on purpose
      state, d_metrics = self._d_update(state, real[:, i], jax.random.fold_in(rng.named(key, "d_step"), i))
    state, g_metrics = self._g_update(state, batch_size, key)
    return state.replace(step=state.step + 1), {**d_metrics, **g_metrics}
