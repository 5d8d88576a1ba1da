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

from jgan.core import rng
from jgan.core.sharding import shard_batch
from jgan.objectives.losses import DLoss, GLoss


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

  @classmethod
  def fresh(cls, root_key: jax.Array, params: dict, batch_stats: dict, optimizers: dict,
            ema_params: dict | None = None) -> "GANState":
    """Step 0: `optimizers` maps each network name to its optax transformation."""
    return cls(step=jnp.zeros((), jnp.int32), rng=jax.random.key_data(root_key), params=params,
               batch_stats=batch_stats, opt_state={name: opt.init(params[name]) for name, opt in optimizers.items()},
               ema_params=ema_params or {})


def apply_net(module: nn.Module, params, batch_stats, *inputs, train: bool, rngs: dict | None = None):
  """Runs `module`; returns (output, new batch_stats). Only training mode updates statistics.

  `batch_stats` is every mutable collection a network keeps besides its params:
  BatchNorm running statistics, spectral-norm power-iteration vectors (flax's
  nn.SpectralNorm stores them there), StyleGAN's running mean of w. `rngs`
  ({"noise": key}) feeds modules that draw randomness (StyleGAN's per-layer
  noise and style mixing); others ignore it.
  """
  variables = {"params": params}
  kwargs = {"train": train} if rngs is None else {"train": train, "rngs": rngs}
  if batch_stats:
    variables["batch_stats"] = batch_stats
    if train:
      out, updated = module.apply(variables, *inputs, mutable=["batch_stats"], **kwargs)
      return out, updated["batch_stats"]
  return module.apply(variables, *inputs, **kwargs), batch_stats


def init_net(module: nn.Module, key: jax.Array, *inputs) -> tuple[Any, Any]:
  variables = module.init(key, *inputs, train=False)
  return variables["params"], variables.get("batch_stats", {})


def ema_update(ema, params, decay: float):
  """One step of the exponential moving average: decay * ema + (1 - decay) * params, leafwise."""
  return jax.tree.map(lambda e, p: decay * e + (1.0 - decay) * p, ema, params)


def clip_params(params, clip: float):
  """WGAN weight clipping (Arjovsky et al. 2017, Algorithm 1): every weight into [-clip, clip]."""
  return jax.tree.map(lambda w: jnp.clip(w, -clip, clip), params)


def split_logits(out):
  """D's output -> (adversarial logits (B,), class logits (B, K) or None); ACGAN heads return a pair."""
  if isinstance(out, (tuple, list)):
    return out[0], out[1]
  return out, None


def pack_inputs(x: jax.Array, pack: int) -> jax.Array:
  """PacGAN packing (Lin et al. 2018, arXiv:1712.04086): (B, ..., C) -> (B // pack, ..., pack * C).

  Groups of `pack` consecutive examples become one input of D, concatenated along the
  last axis: points (B, 2) -> (B / m, 2m) = [x_0, x_1, ...]; images (B, H, W, C) ->
  (B / m, H, W, m C), channels of x_0 first. D then scores a group as real or fake,
  which penalises a generator whose samples lack the variety of real groups.
  """
  if pack == 1:
    return x
  if x.shape[0] % pack:
    raise ValueError(f"batch of {x.shape[0]} is not a multiple of pack={pack}")
  groups = jnp.moveaxis(x.reshape(x.shape[0] // pack, pack, *x.shape[1:]), 1, -2)   # (B/m, ..., m, C)
  return groups.reshape(*groups.shape[:-2], pack * x.shape[-1])


def _class_xent(class_logits, labels):
  return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(class_logits, labels))


@dataclasses.dataclass(frozen=True)
class GAN:
  """A GAN: G maps z ~ N(0, I) of size `latent_dim` (and a label when conditional) to data, D scores data.

  The defaults are the plain (DCGAN) recipe; the stabilisers are fields:
  `d_penalties` (gradient penalty, R1), `d_clip` (WGAN), `ema_decay` (EMA of G's
  weights, used by `generate`), `augment` (DiffAugment), `num_classes` (a
  conditional G(z, y) / D(x, y) pair), `acgan_weight` (ACGAN auxiliary
  classifier on a D that returns (logits, class_logits)) and `pack` (PacGAN: D
  scores groups of `pack` examples, see `pack_inputs`; unconditional D only).
  """
  generator: nn.Module
  discriminator: nn.Module
  latent_dim: int
  g_optimizer: optax.GradientTransformation
  d_optimizer: optax.GradientTransformation
  d_loss: DLoss
  g_loss: GLoss
  n_critic: int = 1
  label_smoothing: float = 0.0
  # Extra terms added to D's loss: fn(d_apply, d_params, real, fake, key, step) -> scalar,
  # with d_apply(params, x) -> logits (B,) (labels of the real batch bound when conditional).
  d_penalties: tuple[Callable[..., jax.Array], ...] = ()
  d_clip: float = 0.0            # > 0: clip D's weights to [-d_clip, d_clip] after each update
  ema_decay: float = 0.0         # > 0: keep ema_params["g"]; sampling uses it
  augment: Callable[[jax.Array, jax.Array], jax.Array] | None = None  # fn(x, key) -> x, differentiable
  num_classes: int = 0           # > 0: class-conditional G and D
  acgan_weight: float = 0.0      # > 0: ACGAN auxiliary classification loss on D's second output
  noise_rngs: bool = False       # G draws randomness (StyleGAN): pass it a "noise" key
  pack: int = 1                  # > 1: D sees groups of `pack` real or fake examples (PacGAN)

  @property
  def batch_multiple(self) -> int:
    """Real examples consumed per step, in units of the update batch size."""
    return self.n_critic

  # ------------------------------------------------------------------ init
  def init(self, root_key: jax.Array, example_x: jax.Array) -> GANState:
    """Fresh state; `example_x` (B, ...) fixes D's input shape."""
    init_key = rng.named(root_key, "init")
    z = jnp.zeros((1, self.latent_dim), jnp.float32)
    y = jnp.zeros((1,), jnp.int32)
    g_params, g_stats = init_net(self.generator, rng.named(init_key, "g"), *self._cond(z, y))
    d_params, d_stats = self._init_d(rng.named(init_key, "d"),
                                     pack_inputs(jnp.repeat(example_x[:1], self.pack, axis=0), self.pack))
    return GANState.fresh(root_key, {"g": g_params, "d": d_params}, {"g": g_stats, "d": d_stats},
                          {"g": self.g_optimizer, "d": self.d_optimizer},
                          ema_params={"g": g_params} if self.ema_decay > 0 else {})

  def _init_d(self, key: jax.Array, example_x: jax.Array):
    return init_net(self.discriminator, key, *self._cond(example_x, jnp.zeros((1,), jnp.int32)))

  # ------------------------------------------------------------------ pieces
  def _cond(self, x, labels):
    """The positional inputs of a network: (x,) or, when conditional, (x, labels)."""
    return (x, labels) if self.num_classes else (x,)

  def latents(self, key: jax.Array, num: int) -> jax.Array:
    # Split over the devices like the real batch, so G runs data-parallel too.
    return shard_batch(jax.random.normal(key, (num, self.latent_dim), jnp.float32))

  def fake_labels(self, key: jax.Array, num: int) -> jax.Array:
    """Labels for generated samples: uniform over the classes (zeros when unconditional)."""
    if not self.num_classes:
      return jnp.zeros((num,), jnp.int32)
    return jax.random.randint(key, (num,), 0, self.num_classes, jnp.int32)

  def apply_g(self, params, batch_stats, z, labels, train: bool, key: jax.Array | None):
    rngs = {"noise": key} if (self.noise_rngs and key is not None) else None
    return apply_net(self.generator, params, batch_stats, *self._cond(z, labels), train=train, rngs=rngs)

  def apply_d(self, params, batch_stats, x, labels, train: bool):
    """(D's raw output, new batch_stats); `split_logits` separates an ACGAN head."""
    return apply_net(self.discriminator, params, batch_stats, *self._cond(x, labels), train=train)

  def generate(self, state: GANState, z: jax.Array, train: bool = False, labels: jax.Array | None = None,
               key: jax.Array | None = None):
    """(samples, new G batch_stats); in eval mode with the EMA weights when present.

    Args:
      z: (B, latent_dim) latents.
      labels: int (B,) classes of a conditional G; default 0, 1, ..., K-1, 0, 1, ... (one
        class per column of a K-column grid).
      key: randomness of a G that draws it (StyleGAN per-layer noise); without it that noise is 0.
    """
    params = state.ema_params.get("g", state.params["g"]) if not train else state.params["g"]
    if labels is None:
      labels = jnp.arange(z.shape[0], dtype=jnp.int32) % max(self.num_classes, 1)
    return self.apply_g(params, state.batch_stats["g"], z, labels, train, key)

  def preview(self, state: GANState, key: jax.Array, batch: dict) -> jax.Array:
    """Samples for the progress grid: one per row of `batch` (only its size is used)."""
    z = self.latents(key, batch["x"].shape[0])
    return self.generate(state, z, key=rng.named(key, "noise"))[0]

  def _augment(self, x, key):
    return x if self.augment is None else self.augment(x, key)

  def _apply_grads(self, state: GANState, name: str, grads, optimizer) -> GANState:
    """state with network `name` stepped by `optimizer` on `grads`."""
    updates, opt = optimizer.update(grads, state.opt_state[name], state.params[name])
    params = optax.apply_updates(state.params[name], updates)
    return state.replace(params={**state.params, name: params}, opt_state={**state.opt_state, name: opt})

  def _d_update(self, state: GANState, real: jax.Array, labels: jax.Array, key: jax.Array):
    z = self.latents(rng.named(key, "d_latent"), real.shape[0])
    fake_y = self.fake_labels(rng.named(key, "d_labels"), real.shape[0])
    fake, g_stats = self.apply_g(state.params["g"], state.batch_stats["g"], z, fake_y, True,
                                 rng.named(key, "d_noise"))
    fake = jax.lax.stop_gradient(fake)
    # DiffAugment (Zhao et al. 2020): the same policy, differentiable, on everything D sees.
    real = self._augment(real, rng.named(key, "augment_real"))
    fake = self._augment(fake, rng.named(key, "augment_fake"))
    real, fake = pack_inputs(real, self.pack), pack_inputs(fake, self.pack)

    def loss_fn(d_params):
      # Real and fake go through D separately, as in the DCGAN reference, so each
      # BatchNorm sees one distribution at a time.
      real_out, d_stats = self.apply_d(d_params, state.batch_stats["d"], real, labels, True)
      fake_out, d_stats = self.apply_d(d_params, d_stats, fake, fake_y, True)
      (real_logits, real_cls), (fake_logits, fake_cls) = split_logits(real_out), split_logits(fake_out)
      loss = self.d_loss(real_logits, fake_logits, self.label_smoothing)
      if self.acgan_weight > 0:
        loss = loss + self.acgan_weight * (_class_xent(real_cls, labels) + _class_xent(fake_cls, fake_y))
      d_apply = lambda p, x: split_logits(self.apply_d(p, state.batch_stats["d"], x, labels, True)[0])[0]
      for i, penalty in enumerate(self.d_penalties):
        loss = loss + penalty(d_apply, d_params, real, fake, rng.named(key, f"penalty{i}"), state.step)
      return loss, (d_stats, real_logits, fake_logits, real_cls)

    (loss, (d_stats, real_logits, fake_logits, real_cls)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
        state.params["d"])
    state = self._apply_grads(state, "d", grads, self.d_optimizer)
    if self.d_clip > 0:
      state = state.replace(params={**state.params, "d": clip_params(state.params["d"], self.d_clip)})
    state = state.replace(batch_stats={**state.batch_stats, "g": g_stats, "d": d_stats})
    metrics = {
        "d_loss": loss,
        "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),   # D(x)
        "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),   # D(G(z)) before D's update
        "d_grad_norm": optax.global_norm(grads),
    }
    if real_cls is not None:
      metrics["d_class_acc"] = jnp.mean(jnp.argmax(real_cls, -1) == labels)
    return state, metrics

  def _update_ema(self, state: GANState) -> GANState:
    """EMA after G update number t = state.step (0-based), with decay min(ema_decay, (1 + t) / (10 + t)).

    The warm-up (as TensorFlow's ExponentialMovingAverage with num_updates) keeps the
    random init from lingering: with a constant 0.999 the average would still hold
    0.999**300 = 74% of the init weights after 300 steps.
    """
    if self.ema_decay <= 0:
      return state
    t = state.step.astype(jnp.float32)
    decay = jnp.minimum(self.ema_decay, (1.0 + t) / (10.0 + t))
    return state.replace(ema_params={"g": ema_update(state.ema_params["g"], state.params["g"], decay)})

  def _g_update(self, state: GANState, real: jax.Array, key: jax.Array):
    """G's update; `real` (the last critic slice) only fixes the batch size here."""
    batch_size = real.shape[0]
    z = self.latents(rng.named(key, "g_latent"), batch_size)
    fake_y = self.fake_labels(rng.named(key, "g_labels"), batch_size)

    def loss_fn(g_params):
      fake, g_stats = self.apply_g(g_params, state.batch_stats["g"], z, fake_y, True, rng.named(key, "g_noise"))
      fake = pack_inputs(self._augment(fake, rng.named(key, "augment_g")), self.pack)
      # D's running statistics are D's own business: this pass does not update them.
      fake_logits, fake_cls = split_logits(self.apply_d(state.params["d"], state.batch_stats["d"], fake, fake_y,
                                                        True)[0])
      loss = self.g_loss(fake_logits)
      if self.acgan_weight > 0:
        loss = loss + self.acgan_weight * _class_xent(fake_cls, fake_y)
      return loss, (g_stats, fake_logits)

    (loss, (g_stats, fake_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["g"])
    state = self._apply_grads(state, "g", grads, self.g_optimizer)
    state = self._update_ema(state.replace(batch_stats={**state.batch_stats, "g": g_stats}))
    metrics = {"g_loss": loss, "g_grad_norm": optax.global_norm(grads),
               "d_fake_after": jnp.mean(jax.nn.sigmoid(fake_logits))}
    return state, metrics

  # ------------------------------------------------------------------ the step
  def train_step(self, state: GANState, batch: dict, key: jax.Array) -> tuple[GANState, dict]:
    """One generator step: `n_critic` D updates then one G update.

    Args:
      state: the GANState.
      batch: {"x": float32 (n_critic * B, ...) real data in [-1, 1], "label": int32 (n_critic * B,)}.
      key: this step's key (fold_in(train_key, step)); split by name inside.
    Returns:
      (new state, dict of scalar metrics).
    """
    real = batch["x"]
    batch_size = real.shape[0] // self.n_critic
    # Row j * n_critic + i feeds critic update i. Splitting along the second axis
    # keeps every device's rows on that device when the batch is sharded.
    real = real.reshape(batch_size, self.n_critic, *real.shape[1:])
    labels = batch["label"].reshape(batch_size, self.n_critic)
    d_metrics = None
    for i in range(self.n_critic):  # n_critic is small and static; unrolled on purpose
      state, d_metrics = self._d_update(state, real[:, i], labels[:, i],
                                        jax.random.fold_in(rng.named(key, "d_step"), i))
    state, g_metrics = self._g_update(state, real[:, -1], key)
    return state.replace(step=state.step + 1), {**d_metrics, **g_metrics}
