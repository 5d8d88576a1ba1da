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
import functools
from typing import Callable

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jgan.core import rng
from jgan.core.errors import UserError
from jgan.core.sharding import shard_batch
from jgan.models import factory
from jgan.models.layers import code_digits, spread_codes
from jgan.objectives import augment, losses, regularizers
from jgan.objectives.losses import DLoss, GLoss
from jgan.tasks import base
from jgan.tasks.state import GANState, apply_net, ema_update, ema_warmup_cap, init_net, split_logits
from jgan.train import optim

RECALIBRATION_BATCH = 512   # latents whose batch statistics become the EMA G's BatchNorm statistics


def _is_bn_leaf(path) -> bool:
  """A BatchNorm running statistic (flax names them "mean" and "var")."""
  return getattr(path[-1], "key", None) in ("mean", "var")


def _has_batch_norm(stats) -> bool:
  return any(_is_bn_leaf(path) for path, _ in jax.tree_util.tree_leaves_with_path(stats))


def _fill_bn(stats, value: float):
  return jax.tree_util.tree_map_with_path(lambda path, x: jnp.full_like(x, value) if _is_bn_leaf(path) else x, stats)



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


def _per_code(class_logits, labels, groups: int):
  """Class logits (B, K) and int labels (B,) as (B, ..., K) logits and their targets (B, ...).

  groups > 1: the logits are (B, groups * K), one K-way head per digit of the label (labels in
  [0, K**groups), `code_digits`); they come back as (B, groups, K) against the digits (B, groups).
  """
  if groups == 1:
    return class_logits, labels
  base = class_logits.shape[-1] // groups
  return class_logits.reshape(class_logits.shape[0], groups, base), code_digits(labels, base, groups)


def _class_xent(class_logits, labels, groups: int = 1):
  """Cross-entropy of the class head, summed over the codes (the bound on the mutual information of
  independent codes is the sum of their bounds), averaged over the batch."""
  logits, targets = _per_code(class_logits, labels, groups)
  xent = optax.softmax_cross_entropy_with_integer_labels(logits, targets)
  return jnp.mean(jnp.sum(xent.reshape(xent.shape[0], -1), -1))


def _continuous_nll(predicted, codes):
  """InfoGAN's term for continuous codes: -log Q(c | x) of a unit-variance Gaussian Q centred on
  `predicted`, up to its constant, 0.5 * sum_j (c_j - mu_j)^2, averaged over the batch. predicted, codes (B, n)."""
  return 0.5 * jnp.mean(jnp.sum(jnp.square(codes - predicted), -1))


def _code_accuracy(class_logits, labels, groups: int = 1):
  """Share of codes (of every group) that the class head reads back right."""
  logits, targets = _per_code(class_logits, labels, groups)
  return jnp.mean(jnp.argmax(logits, -1) == targets)


@dataclasses.dataclass(frozen=True)
class GAN:
  """A GAN: G maps z ~ N(0, I) of size `latent_dim` (and a label when conditional) to data, D scores data.

  The defaults are the plain (DCGAN) recipe; the stabilisers are fields:
  `d_penalties` (gradient penalty, R1), `d_clip` (WGAN), `ema_decay` (EMA of G's
  weights, used by `generate`), `augment` (DiffAugment), `num_classes` (a
  conditional G(z, y) / D(x, y) pair), `acgan_weight` (ACGAN auxiliary
  classifier on a D that returns (logits, class_logits)), `info_code` (InfoGAN:
  the labels are a categorical code drawn for the fakes only) and `pack` (PacGAN: D
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
  # Extra terms added to D's loss (jgan.objectives.regularizers): fn(d_apply, d_params, real, fake,
  # key) -> scalar with a schedule, d_apply(params, x) -> logits (B,) (the real labels bound when conditional).
  d_penalties: tuple[regularizers.Penalty, ...] = ()
  # Which penalties are due, fixed when the step is compiled (`with_phase`); None: decided on the device.
  penalties_due: tuple[bool, ...] | None = None
  d_clip: float = 0.0            # > 0: clip D's weights to [-d_clip, d_clip] after each update
  ema_decay: float = 0.0         # > 0: keep ema_params["g"]; sampling uses it
  ema_warmup: bool = True        # decay min(ema_decay, (1 + t) / (10 + t)); False: ema_decay from the start
  augment: Callable[[jax.Array, jax.Array], jax.Array] | None = None  # fn(x, key) -> x, differentiable
  num_classes: int = 0           # > 0: class-conditional G and D
  acgan_weight: float = 0.0      # > 0: ACGAN auxiliary classification loss on D's second output
  # InfoGAN (Chen et al. 2016, arXiv:1606.03657): the "labels" are a categorical code c ~ U{0..K-1}
  # that only G reads; D's class head is the Q network, and the class loss on fakes alone,
  # CE(Q(G(z, c)), c), is the variational bound of -I(c; G(z, c)) up to the constant H(c),
  # minimised by G and Q with weight acgan_weight (the paper's lambda). The data's labels are unused.
  info_code: bool = False
  code_groups: int = 1           # > 1: the code is that many independent codes, the digits of the label
  # InfoGAN's continuous codes: the first `info_continuous` entries of z, which Q (the last
  # `info_continuous` columns of D's class head) predicts back, weighted like the categorical code.
  info_continuous: int = 0
  # InfoGAN: Q reads the codes from its own view of the fakes, q_augment(G(z, c)), through D's trunk in a
  # second pass (D's verdict still comes from the plain fakes): a code Q must read through shape changes
  # that keep a digit's identity (stroke width, slant) cannot sit on that style. None: Q reads D's pass.
  q_augment: Callable[[jax.Array, jax.Array], jax.Array] | None = None
  noise_rngs: bool = False       # G draws randomness (StyleGAN): pass it a "noise" key
  pack: int = 1                  # > 1: D sees groups of `pack` real or fake examples (PacGAN)
  reuse_fake: bool = False       # G's update reuses the fake batch (and G's forward) of the last D update
  g_topk: float = 1.0            # < 1: G's loss keeps the top share of its batch by D's score (Sinha et al. 2020)
  g_topk_steps: int = 0          # G updates over which that share falls linearly from 1 to g_topk

  @property
  def batch_multiple(self) -> int:
    """Real examples consumed per step, in units of the update batch size."""
    return self.n_critic

  def step_phase(self, step: int):
    """What about step `step` (a host int) the compiled step may fix: which lazy penalties are due.

    None when every step is alike. `jgan.train.run.make_step_fn` compiles one step per phase
    it meets (`with_phase`), so a lazy R1 costs nothing on the steps it skips.
    """
    return regularizers.due_at(self.d_penalties, step)

  def with_phase(self, phase) -> "GAN":
    """This task with `step_phase`'s answer fixed at trace time."""
    return dataclasses.replace(self, penalties_due=phase)

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

  def shown_labels(self, num: int) -> jax.Array:
    """The labels `generate` uses by default, int (num,): 0, 1, ..., K-1, 0, 1, ... (one class per column
    of a K-column grid); with several codes, `spread_codes`, so that every code varies in a grid."""
    if self.code_groups > 1:
      base = round(self.num_classes ** (1.0 / self.code_groups))
      return spread_codes(num, base, self.code_groups)
    return jnp.arange(num, dtype=jnp.int32) % max(self.num_classes, 1)

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
      labels: int (B,) classes of a conditional G; default `shown_labels` (0, 1, ..., K-1, 0, 1, ...).
      key: randomness of a G that draws it (StyleGAN per-layer noise); without it that noise is 0.
    """
    chex.assert_shape(z, (None, self.latent_dim))
    params = state.ema_params.get("g", state.params["g"]) if not train else state.params["g"]
    if labels is None:
      labels = self.shown_labels(z.shape[0])
    return self.apply_g(params, state.batch_stats["g"], z, labels, train, key)

  def preview(self, state: GANState, key: jax.Array, batch: dict) -> jax.Array:
    """Samples for the progress grid: one per row of `batch` (only its size is used)."""
    z = self.latents(key, batch["x"].shape[0])
    state = self.sampling_state(state, rng.named(key, "recalibrate"))
    return self.generate(state, z, key=rng.named(key, "noise"))[0]

  def sampling_state(self, state: GANState, key: jax.Array, num: int = RECALIBRATION_BATCH) -> GANState:
    """The state to sample from: with EMA weights and a BatchNorm G, G's running statistics
    recomputed for the EMA weights (those in `state` belong to the raw G's weights).

    The statistics are the batch statistics of the EMA G, in training mode, on `num`
    latents drawn from `key` ("standing statistics", as BigGAN's sampling does). Flax's
    BatchNorm updates a running statistic r to m r + (1 - m) b from a batch statistic b;
    two passes on the same latents from r = 0 and r = 1 give f0 = (1 - m) b and
    f1 = m + (1 - m) b, hence b = f0 / (1 - (f1 - f0)), for any momentum m.
    Without EMA or BatchNorm in G the state is returned as it is.
    """
    stats = state.batch_stats["g"]
    if not state.ema_params or not _has_batch_norm(stats):
      return state
    z = self.latents(rng.named(key, "latent"), num)
    labels = self.fake_labels(rng.named(key, "labels"), num)
    params = state.ema_params["g"]
    run = lambda start: self.apply_g(params, start, z, labels, True, rng.named(key, "noise"))[1]
    zeros, ones = run(_fill_bn(stats, 0.0)), run(_fill_bn(stats, 1.0))
    recalibrated = jax.tree_util.tree_map_with_path(
        lambda path, f0, f1, old: f0 / (1.0 - (f1 - f0)) if _is_bn_leaf(path) else old, zeros, ones, stats)
    return state.replace(batch_stats={**state.batch_stats, "g": recalibrated})

  def _q_loss(self, class_out, fake_y, z):
    """The class (ACGAN) or code (InfoGAN) loss of D's head on fakes made from z (B, latent_dim) and fake_y."""
    loss = _class_xent(self._class_logits(class_out), fake_y, self.code_groups)
    if self.info_continuous:
      loss = loss + _continuous_nll(*self._continuous_codes(class_out, z))
    return loss

  def _class_logits(self, class_out):
    """D's class head without the continuous codes' columns."""
    return class_out[:, :-self.info_continuous] if self.info_continuous else class_out

  def _continuous_codes(self, class_out, z):
    """(Q's predicted continuous codes, the codes: z's first entries), both (B, info_continuous)."""
    return class_out[:, -self.info_continuous:], z[:, :self.info_continuous]

  def _augment(self, x, key):
    return x if self.augment is None else self.augment(x, key)

  def _d_update(self, state: GANState, real: jax.Array, labels: jax.Array, key: jax.Array,
                keep_for_g: bool = False):
    """One D update; with `keep_for_g` it also returns (fake batch, its labels, G's pullback) for G's update."""
    z = self.latents(rng.named(key, "d_latent"), real.shape[0])
    fake_y = self.fake_labels(rng.named(key, "d_labels"), real.shape[0])
    generate = lambda g_params: self.apply_g(g_params, state.batch_stats["g"], z, fake_y, True,
                                             rng.named(key, "d_noise"))
    if keep_for_g:
      # G's forward, kept with its pullback: G's update below backpropagates D's verdict on
      # this very batch through it instead of running G again (as the PyTorch DCGAN loop does).
      fake, g_pullback, g_stats = jax.vjp(generate, state.params["g"], has_aux=True)
    else:
      fake, g_stats = generate(state.params["g"])
    generated = fake
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
        if self.q_augment is not None:   # from here on fake_cls, and so q_code_acc, is Q's reading of its view
          fake_cls = self._q_view(d_params, d_stats, fake, fake_y, rng.named(key, "augment_q"))
        class_loss = self._q_loss(fake_cls, fake_y, z)
        if not self.info_code:
          class_loss = class_loss + _class_xent(real_cls, labels)
        loss = loss + self.acgan_weight * class_loss
      if self.d_penalties:
        d_apply = lambda p, x: split_logits(self.apply_d(p, state.batch_stats["d"], x, labels, True)[0])[0]
        loss = loss + regularizers.total(
            self.d_penalties, d_apply, d_params, real, fake,
            [rng.named(key, f"penalty{i}") for i in range(len(self.d_penalties))], state.step, self.penalties_due)
      return loss, (d_stats, real_logits, fake_logits, real_cls, fake_cls)

    (loss, (d_stats, real_logits, fake_logits, real_cls, fake_cls)), grads = jax.value_and_grad(
        loss_fn, has_aux=True)(state.params["d"])
    state = optim.apply_gradients(state, "d", grads, self.d_optimizer, clip=self.d_clip)
    state = state.replace(batch_stats={**state.batch_stats, "g": g_stats, "d": d_stats})
    metrics = {
        "d_loss": loss,
        "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),   # D(x)
        "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),   # D(G(z)) before D's update
        "d_grad_norm": optax.tree.norm(grads),
    }
    if self.info_code:
      metrics["q_code_acc"] = _code_accuracy(self._class_logits(fake_cls), fake_y, self.code_groups)  # Q reads G's code
      if self.info_continuous:   # how well Q reads the continuous codes: 0 is perfect, 1 a guess of 0
        predicted, codes = self._continuous_codes(fake_cls, z)
        metrics["q_continuous_mse"] = jnp.mean(jnp.square(predicted - codes))
    elif real_cls is not None:
      metrics["d_class_acc"] = jnp.mean(jnp.argmax(real_cls, -1) == labels)
    if keep_for_g:
      return state, metrics, (generated, fake_y, z, g_pullback)
    return state, metrics

  def _update_ema(self, state: GANState) -> GANState:
    """EMA after G update number t = state.step (0-based), with decay min(ema_decay, (1 + t) / (10 + t)).

    The warm-up (as TensorFlow's ExponentialMovingAverage with num_updates) keeps the
    random init from lingering: with a constant 0.999 the average would still hold
    0.999**300 = 74% of the init weights after 300 steps. It also caps the decay below `ema_decay` until
    t >= (10 ema_decay - 1) / (1 - ema_decay) (8,990 for 0.999); `ema_warmup=False` uses `ema_decay` from the
    start instead.
    """
    if self.ema_decay <= 0:
      return state
    t = state.step.astype(jnp.float32)
    decay = jnp.minimum(self.ema_decay, ema_warmup_cap(t)) if self.ema_warmup else jnp.float32(self.ema_decay)
    return state.replace(ema_params={"g": ema_update(state.ema_params["g"], state.params["g"], decay)})

  def _g_loss(self, d_params, d_stats, fake, fake_y, z, key, step):
    """G's loss on its samples `fake` = G(z, fake_y) (before DiffAugment and packing) against D;
    (loss, fake logits)."""
    fake = pack_inputs(self._augment(fake, rng.named(key, "augment_g")), self.pack)
    # D's running statistics are D's own business: this pass does not update them.
    fake_logits, fake_cls = split_logits(self.apply_d(d_params, d_stats, fake, fake_y, True)[0])
    if self.g_topk < 1:
      fraction = losses.top_k_fraction(step, self.g_topk, self.g_topk_steps)
      loss = losses.top_k_generator_loss(self.g_loss, fake_logits, fraction)
    else:
      loss = self.g_loss(fake_logits)
    if self.acgan_weight > 0:
      if self.q_augment is not None:
        fake_cls = self._q_view(d_params, d_stats, fake, fake_y, rng.named(key, "augment_q_g"))
      loss = loss + self.acgan_weight * self._q_loss(fake_cls, fake_y, z)
    return loss, fake_logits

  def _q_view(self, d_params, d_stats, fake, fake_y, key):
    """Q's logits on its augmented view of `fake`, the images D judges (after DiffAugment, if any); D's running
    statistics untouched."""
    return split_logits(self.apply_d(d_params, d_stats, self.q_augment(fake, key), fake_y, True)[0])[1]

  def _finish_g_update(self, state: GANState, loss, grads, fake_logits, g_stats):
    state = optim.apply_gradients(state, "g", grads, self.g_optimizer)
    state = self._update_ema(state.replace(batch_stats={**state.batch_stats, "g": g_stats}))
    metrics = {"g_loss": loss, "g_grad_norm": optax.tree.norm(grads),
               "d_fake_after": jnp.mean(jax.nn.sigmoid(fake_logits))}
    return state, metrics

  def _g_update(self, state: GANState, real: jax.Array, key: jax.Array):
    """G's update on fresh latents; `real` (the last critic slice) only fixes the batch size here."""
    batch_size = real.shape[0]
    z = self.latents(rng.named(key, "g_latent"), batch_size)
    fake_y = self.fake_labels(rng.named(key, "g_labels"), batch_size)

    def loss_fn(g_params):
      fake, g_stats = self.apply_g(g_params, state.batch_stats["g"], z, fake_y, True, rng.named(key, "g_noise"))
      loss, fake_logits = self._g_loss(state.params["d"], state.batch_stats["d"], fake, fake_y, z, key, state.step)
      return loss, (g_stats, fake_logits)

    (loss, (g_stats, fake_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["g"])
    return self._finish_g_update(state, loss, grads, fake_logits, g_stats)

  def _g_update_reusing(self, state: GANState, kept, key: jax.Array):
    """G's update on the batch D just saw: dL/dfake against the updated D, pulled back through G's forward."""
    fake, fake_y, z, g_pullback = kept
    (loss, fake_logits), grad_fake = jax.value_and_grad(
        lambda x: self._g_loss(state.params["d"], state.batch_stats["d"], x, fake_y, z, key, state.step),
        has_aux=True)(fake)
    grads, = g_pullback(grad_fake)
    return self._finish_g_update(state, loss, grads, fake_logits, state.batch_stats["g"])

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
    chex.assert_rank(batch["label"], 1)
    chex.assert_equal_shape_prefix((real, batch["label"]), 1)
    if real.shape[0] % self.n_critic:
      raise ValueError(f"a batch of {real.shape[0]} does not split into n_critic={self.n_critic} slices")
    batch_size = real.shape[0] // self.n_critic
    # Row j * n_critic + i feeds critic update i. Splitting along the second axis
    # keeps every device's rows on that device when the batch is sharded.
    real = real.reshape(batch_size, self.n_critic, *real.shape[1:])
    labels = batch["label"].reshape(batch_size, self.n_critic)
    d_metrics, kept = None, None
    for i in range(self.n_critic):  # n_critic is small and static; unrolled on purpose
      d_key = jax.random.fold_in(rng.named(key, "d_step"), i)
      if self.reuse_fake and i == self.n_critic - 1:
        state, d_metrics, kept = self._d_update(state, real[:, i], labels[:, i], d_key, keep_for_g=True)
      else:
        state, d_metrics = self._d_update(state, real[:, i], labels[:, i], d_key)
    if kept is not None:
      state, g_metrics = self._g_update_reusing(state, kept, key)
    else:
      state, g_metrics = self._g_update(state, real[:, -1], key)
    return state.replace(step=state.step + 1), {**d_metrics, **g_metrics}


# ---------------------------------------------------------------- config -> task

# The train fields of the adversarial game, read by every task built on GAN (gan, bigan).
GAME_FIELDS = frozenset({
    "model.latent_dim", "train.loss", "train.n_critic", "train.label_smoothing", "train.optimizer", "train.g_lr",
    "train.d_lr", "train.b1", "train.b2", "train.lr_schedule", "train.lr_final", "train.clip", "train.ema_decay",
    "train.ema_warmup"})


def validate_optimization(config) -> None:
  """The optimizer, loss and penalty fields that every adversarial task reads (the repair tasks too)."""
  t = config.train
  base.positive(t.g_lr, "config.train.g_lr")
  base.positive(t.d_lr, "config.train.d_lr")
  for name in ("g_lr", "d_lr"):
    if not jnp.isfinite(t[name]):
      raise UserError(f"config.train.{name}={t[name]!r} must be finite")
  for name in ("b1", "b2"):
    if not 0 <= t[name] < 1:
      raise UserError(f"config.train.{name}={t[name]!r} must be in [0, 1)")
  if t.optimizer not in optim.OPTIMIZERS:
    raise UserError(f"config.train.optimizer={t.optimizer!r}: use one of {', '.join(optim.OPTIMIZERS)}")
  if t.lr_schedule not in optim.LR_SCHEDULES:
    raise UserError(f"config.train.lr_schedule={t.lr_schedule!r}: use one of {', '.join(optim.LR_SCHEDULES)}")
  if not 0 <= t.lr_final <= 1:
    raise UserError(f"config.train.lr_final={t.lr_final!r} must be in [0, 1]")
  losses.get_losses(t.loss)
  if not 0 <= t.label_smoothing < 1:
    raise UserError(f"config.train.label_smoothing={t.label_smoothing!r} must be in [0, 1)")
  if t.label_smoothing > 0 and t.loss not in losses.SMOOTHABLE:
    raise UserError(f"config.train.label_smoothing applies to the {', '.join(losses.SMOOTHABLE)} losses, "
                    f"not {t.loss!r}: set it to 0")
  for name in ("clip", "gp_weight", "r1_gamma"):
    if not t[name] >= 0:
      raise UserError(f"config.train.{name}={t[name]!r} must be >= 0")
  base.positive(t.r1_every, "config.train.r1_every", integer=True)


def validate_gan(config) -> None:
  t, m = config.train, config.model
  validate_optimization(config)
  base.positive(t.n_critic, "config.train.n_critic", integer=True)
  base.positive(m.latent_dim, "config.model.latent_dim", integer=True)
  if not 0 <= t.ema_decay < 1:
    raise UserError(f"config.train.ema_decay={t.ema_decay!r} must be in [0, 1) (0 = off)")
  if not t.acgan_weight >= 0:
    raise UserError(f"config.train.acgan_weight={t.acgan_weight!r} must be >= 0")
  images = config.data.source not in ("ring8", "grid25")
  pack = t.pack
  base.positive(pack, "config.train.pack", integer=True)
  if t.batch_size % pack:
    raise UserError(f"config.train.batch_size={t.batch_size} must be a multiple of config.train.pack={pack}")
  if pack > 1 and m.num_classes:
    raise UserError("config.train.pack (PacGAN) needs an unconditional GAN: set config.train.pack=1")
  if t.gp_weight > 0 and m.name == "dcgan" and m.d_batch_norm:
    raise UserError("config.train.gp_weight needs a D without BatchNorm (per-example gradients): "
                    "set config.model.d_batch_norm=False")
  if augment.parse_policy(t.augment) and not images:
    raise UserError("config.train.augment (DiffAugment) works on images, not on 2D points: set it to ''")
  if not isinstance(m.num_classes, int) or m.num_classes < 0:
    raise UserError(f"config.model.num_classes={m.num_classes!r} must be an integer >= 0")
  if m.num_classes and not factory.spec(m.name).conditional:
    conditional = sorted(n for n, s in factory.MODELS.items() if s.conditional)
    raise UserError(f"config.model.num_classes: model {m.name!r} is unconditional; use one of {', '.join(conditional)}")
  if m.acgan and not m.num_classes:
    raise UserError("config.model.acgan needs class labels: set config.model.num_classes")
  if isinstance(m.info_codes, bool) or not isinstance(m.info_codes, int) or m.info_codes < 0:
    raise UserError(f"config.model.info_codes={m.info_codes!r} must be an integer >= 0 (0 = off)")
  if m.info_codes == 1:
    raise UserError("config.model.info_codes=1 is a code with one value, which carries nothing: use 2 or more, or 0")
  if m.info_codes and m.num_classes:
    raise UserError("config.model.info_codes (InfoGAN) and config.model.num_classes (labels) both use G's label "
                    "input: set one of them to 0")
  if m.info_codes and not factory.spec(m.name).conditional:
    conditional = sorted(n for n, s in factory.MODELS.items() if s.conditional)
    raise UserError(f"config.model.info_codes: model {m.name!r} has no code input; use one of {', '.join(conditional)}")
  if isinstance(m.info_groups, bool) or not isinstance(m.info_groups, int) or m.info_groups < 1:
    raise UserError(f"config.model.info_groups={m.info_groups!r} must be an integer >= 1")
  if m.info_groups > 1 and not m.info_codes:
    raise UserError("config.model.info_groups counts InfoGAN codes: set config.model.info_codes, or leave it at 1")
  if m.info_codes and m.info_codes ** m.info_groups >= 2 ** 31:
    raise UserError(f"config.model.info_codes={m.info_codes} and info_groups={m.info_groups} give "
                    f"{m.info_codes}**{m.info_groups} code combinations, more than one int32 label holds: use fewer")
  if m.info_groups > 1 and m.name != "dcgan":
    raise UserError(f"config.model.info_groups > 1 needs model 'dcgan' (model {m.name!r} reads one code): "
                    "set config.model.info_groups=1")
  if m.info_codes and pack > 1:
    raise UserError("config.train.pack (PacGAN) scores groups, but InfoGAN's Q reads one code per example: "
                    "set config.train.pack=1 or config.model.info_codes=0")
  if isinstance(m.info_continuous, bool) or not isinstance(m.info_continuous, int) or m.info_continuous < 0:
    raise UserError(f"config.model.info_continuous={m.info_continuous!r} must be an integer >= 0 (0 = off)")
  if m.info_continuous and not m.info_codes:
    raise UserError("config.model.info_continuous adds InfoGAN's continuous codes to its categorical code: "
                    "set config.model.info_codes too (10 for digits), or info_continuous=0")
  if m.info_continuous > m.latent_dim:
    raise UserError(f"config.model.info_continuous={m.info_continuous} codes are entries of z: "
                    f"use at most config.model.latent_dim={m.latent_dim}")
  if t.info_augment and not m.info_codes:
    raise UserError("config.train.info_augment augments the view InfoGAN's Q reads: set config.model.info_codes, "
                    "or leave it empty")
  augment.parse_policy(t.info_augment, "config.train.info_augment")
  if not t.info_weight >= 0:
    raise UserError(f"config.train.info_weight={t.info_weight!r} must be >= 0")
  if t.info_weight != 1.0 and not m.info_codes:
    raise UserError("config.train.info_weight weighs InfoGAN's code term: set config.model.info_codes, "
                    "or leave it at 1.0")
  if not 0 < t.g_topk <= 1:
    raise UserError(f"config.train.g_topk={t.g_topk!r} must be in (0, 1] (1 = off)")
  if not isinstance(t.g_topk_steps, int) or t.g_topk_steps < 0:
    raise UserError(f"config.train.g_topk_steps={t.g_topk_steps!r} must be an integer >= 0")
  if t.acgan_weight != 1.0 and not m.acgan:
    raise UserError("config.train.acgan_weight weighs an ACGAN head: set config.model.acgan=True, or leave it at 1.0")
  if m.name == "stylegan" or m.get("minibatch_std"):
    base.positive(m.mbstd_group, "config.model.mbstd_group", integer=True)
    scored = t.batch_size // t.pack   # D scores one input per pack
    if scored % min(m.mbstd_group, scored):
      raise UserError(f"config.train.batch_size={t.batch_size} must make D batches (batch_size / train.pack) that "
                      f"are a multiple of config.model.mbstd_group={m.mbstd_group}")


def _augmenter(policy: str, field: str = "config.train.augment"):
  """fn(x, key) -> x applying a DiffAugment policy string, or None for ""."""
  names = augment.parse_policy(policy, field)
  return functools.partial(augment.diff_augment, policy=names) if names else None


def game_fields(config) -> dict:
  """The GAN fields shared by every task built on it (optimizers, losses, stabilisers)."""
  t, m = config.train, config.model
  d_loss, g_loss = losses.get_losses(t.loss)
  d_optimizer = optim.make_optimizer(t, t.d_lr, t.n_critic, lazy_ratio=optim.lazy_regularization_ratio(t))
  return dict(
      latent_dim=m.latent_dim, g_optimizer=optim.make_optimizer(t, t.g_lr), d_optimizer=d_optimizer,
      d_loss=d_loss, g_loss=g_loss, n_critic=t.n_critic, label_smoothing=t.label_smoothing,
      d_penalties=optim.d_penalties(t), d_clip=t.clip, ema_decay=t.ema_decay, ema_warmup=bool(t.ema_warmup),
      augment=_augmenter(t.augment),
      pack=t.pack)


def make_gan(config, element_shape) -> GAN:
  """The GAN described by `config` for data examples of shape `element_shape`."""
  m = config.model
  generator, discriminator = factory.networks(m, element_shape)
  t = config.train
  class_weight = t.info_weight if m.info_codes else t.acgan_weight if m.acgan else 0.0
  return GAN(generator=generator, discriminator=discriminator, **game_fields(config),
             num_classes=m.num_classes or m.info_codes ** m.info_groups, acgan_weight=class_weight,
             info_code=bool(m.info_codes), code_groups=m.info_groups if m.info_codes else 1,
             info_continuous=m.info_continuous,   # validate_gan: only with info_codes
             noise_rngs=factory.spec(m.name).draws_noise, reuse_fake=config.train.reuse_fake,
             g_topk=config.train.g_topk, g_topk_steps=config.train.g_topk_steps,
             q_augment=_augmenter(t.info_augment, "config.train.info_augment"))


base.register(base.TaskSpec(
    name="gan", build=make_gan, validate=validate_gan,
    fields=GAME_FIELDS | {"train.gp_weight", "train.r1_gamma", "train.r1_every", "train.augment",
                          "train.acgan_weight", "train.info_weight", "train.info_augment", "train.pack",
                          "train.reuse_fake", "train.g_topk", "train.g_topk_steps"},
    conditional=True))
