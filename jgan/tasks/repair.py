"""What the image-repair tasks "inpaint" and "superres" share: two-phase training of a repairer.

Both follow the task contract (`jgan.tasks.base.Task`: init / train_step /
preview, pure, jitted by the loop) and keep a `jgan.tasks.state.GANState` with
networks "g" (the repairer) and "d" (its critic). This module holds what they
share; `inpaint.py` and `superres.py` define the damage. The damage is made *inside* the step,
on the device, from the step's key: the hole masks of inpainting
(`jgan.objectives.masks`) and the low-resolution input of super-resolution
(bicubic, antialiased downscaling of the real batch), so the data pipeline
stays the plain one of every GAN.

Two phases, chosen per step from the step counter inside one compiled step
(so a resume lands in the right phase; see `_gated_step` for why not lax.cond):

  step < train.pretrain_steps  reconstruction loss only (SRResNet's MSE
      training; inpainting's L1 warm-up); D is not touched.
  afterwards                   one D update, then G on
      recon + adv_weight * adversarial (+ feature_weight * feature matching for SR).

SRGAN (Ledig et al. 2017, arXiv:1609.04802) initialises the GAN from the
pixel-trained SRResNet: that is the first phase here. Its perceptual term uses
VGG features; offline we match D's own intermediate features between SR and
HR instead (paired feature matching; `nets.SRDiscriminator`).
"""
from __future__ import annotations

import dataclasses

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jgan.core import rng
from jgan.core.errors import UserError
from jgan.metrics.image import psnr
from jgan.models import factory
from jgan.objectives import losses, regularizers
from jgan.objectives.losses import DLoss, GLoss
from jgan.tasks.gan import validate_optimization
from jgan.tasks.state import GANState, apply_net, init_net, split_logits
from jgan.train import optim

PREVIEW_AREA = 0.25


def composite(raw: jax.Array, image: jax.Array, mask: jax.Array) -> jax.Array:
  """Output pixels = G's inside the hole, the input's everywhere else (exactly: a select, not a blend).

  raw, image: (B, H, W, C); mask: (B, H, W, 1), 1 = hole.
  """
  return jnp.where(mask > 0.5, raw, image)


def downscale(x: jax.Array, scale: int) -> jax.Array:
  """(B, H, W, C) -> (B, H/scale, W/scale, C): antialiased bicubic (MATLAB imresize-like), the
  degradation of the SR literature."""
  batch, height, width, channels = x.shape
  return jax.image.resize(x, (batch, height // scale, width // scale, channels), "bicubic", antialias=True)


def recon_error(name: str, a: jax.Array, b: jax.Array) -> jax.Array:
  diff = a - b
  return jnp.abs(diff) if name == "l1" else jnp.square(diff)


def batch_psnr(a: jax.Array, b: jax.Array, weights: jax.Array | None = None) -> jax.Array:
  """Mean over the batch of PSNR in dB of `a` (clipped to [-1, 1]) against `b`, over `weights`'
  pixels when given; capped at 100 dB so the training metric stays finite."""
  return jnp.mean(psnr(jnp.clip(a, -1, 1), b, 2.0, weights=weights, mse_floor=4e-10))


def preview_count(num: int) -> int:
  """Examples in a preview grid: (2j)^2 of them make 4j columns, so every row holds whole
  input/mask/output/truth quadruples."""
  for count in (36, 16, 4):
    if num >= count:
      return count
  return 1


def quadruples(*columns: jax.Array) -> jax.Array:
  """Interleaves equally long image batches: a0 b0 c0 d0 a1 b1 ... -> (4N, H, W, C)."""
  stacked = jnp.stack(columns, axis=1)
  return stacked.reshape(-1, *stacked.shape[2:])


@dataclasses.dataclass(frozen=True)
class RepairTask:
  """Shared two-phase training of a repairer G against a critic D. Subclasses define the damage."""
  generator: nn.Module
  discriminator: nn.Module
  g_optimizer: optax.GradientTransformation
  d_optimizer: optax.GradientTransformation
  d_loss: DLoss
  g_loss: GLoss
  recon_loss: str = "l1"
  adv_weight: float = 1e-2
  pretrain_steps: int = 0
  num_steps: int = 0          # the run's length: a run that never leaves pretraining skips D
  label_smoothing: float = 0.0
  d_penalties: tuple = ()     # gradient penalty / R1 terms (jgan.train.optim.d_penalties)
  d_clip: float = 0.0         # > 0: WGAN weight clipping of D

  @property
  def batch_multiple(self) -> int:
    return 1

  # Subclass hooks ---------------------------------------------------------
  def damage(self, x: jax.Array, key: jax.Array) -> dict:
    raise NotImplementedError

  def g_inputs(self, damaged: dict) -> tuple:
    raise NotImplementedError

  def d_inputs(self, image: jax.Array, damaged: dict) -> tuple:
    raise NotImplementedError

  def finish(self, raw: jax.Array, damaged: dict) -> jax.Array:
    """G's raw output -> the repaired image D judges and users get."""
    raise NotImplementedError

  def recon(self, raw: jax.Array, x: jax.Array, damaged: dict) -> jax.Array:
    raise NotImplementedError

  def g_adversarial(self, d_params, out: jax.Array, x: jax.Array, damaged: dict) -> tuple[jax.Array, dict]:
    logits = split_logits(self._critic(d_params, out, damaged))[0]
    loss = self.adv_weight * self.g_loss(logits)
    return loss, {"adv": loss, "d_fake_after": jnp.mean(jax.nn.sigmoid(logits))}

  def quality(self, out: jax.Array, x: jax.Array, damaged: dict) -> jax.Array:
    return batch_psnr(out, x)

  # Plumbing ---------------------------------------------------------------
  def _critic(self, d_params, image, damaged):
    return apply_net(self.discriminator, d_params, {}, *self.d_inputs(image, damaged), train=True)[0]

  def raw(self, g_params, damaged: dict) -> jax.Array:
    return apply_net(self.generator, g_params, {}, *self.g_inputs(damaged), train=False)[0]

  def init(self, root_key: jax.Array, example_x: jax.Array) -> GANState:
    init_key = rng.named(root_key, "init")
    damaged = self.damage(example_x[:1], rng.named(init_key, "damage"))
    g_params, g_stats = init_net(self.generator, rng.named(init_key, "g"), *self.g_inputs(damaged))
    d_params, d_stats = init_net(self.discriminator, rng.named(init_key, "d"), *self.d_inputs(example_x[:1], damaged))
    return GANState.fresh(root_key, {"g": g_params, "d": d_params}, {"g": g_stats, "d": d_stats},
                          {"g": self.g_optimizer, "d": self.d_optimizer})

  def _g_update(self, state: GANState, x: jax.Array, damaged: dict, adversarial: bool, adv_scale=1.0):
    def loss_fn(g_params):
      raw = self.raw(g_params, damaged)
      out = self.finish(raw, damaged)
      recon = self.recon(raw, x, damaged)
      terms = {"recon": recon}
      loss = recon
      if adversarial:
        extra, more = self.g_adversarial(state.params["d"], out, x, damaged)
        loss = loss + adv_scale * extra
        terms.update({k: adv_scale * v for k, v in more.items()})
      return loss, (terms, out)

    (loss, (terms, out)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["g"])
    state = optim.apply_gradients(state, "g", grads, self.g_optimizer)
    metrics = {"g_loss": loss, "g_grad_norm": optax.tree.norm(grads),
               "psnr": self.quality(jax.lax.stop_gradient(out), x, damaged), **terms}
    return state, metrics

  def _d_update(self, state: GANState, x: jax.Array, damaged: dict, key: jax.Array):
    fake = jax.lax.stop_gradient(self.finish(self.raw(state.params["g"], damaged), damaged))
    d_apply = lambda p, image: split_logits(self._critic(p, image, damaged))[0]

    def loss_fn(d_params):
      real_logits, fake_logits = d_apply(d_params, x), d_apply(d_params, fake)
      loss = self.d_loss(real_logits, fake_logits, self.label_smoothing)
      if self.d_penalties:
        loss = loss + regularizers.total(self.d_penalties, d_apply, d_params, x, fake,
                                         [rng.named(key, f"penalty{i}") for i in range(len(self.d_penalties))],
                                         state.step)
      return loss, (real_logits, fake_logits)

    (loss, (real_logits, fake_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["d"])
    state = optim.apply_gradients(state, "d", grads, self.d_optimizer, clip=self.d_clip)
    return state, {"d_loss": loss, "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
                   "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)), "d_grad_norm": optax.tree.norm(grads)}

  def _adversarial_step(self, state, x, damaged, key):
    state, d_metrics = self._d_update(state, x, damaged, key)
    state, g_metrics = self._g_update(state, x, damaged, adversarial=True)
    return state, {**d_metrics, **g_metrics, "phase": jnp.ones((), jnp.float32)}

  def _pretrain_step(self, state, x, damaged, key):
    del key
    state, g_metrics = self._g_update(state, x, damaged, adversarial=False)
    zero = jnp.zeros((), jnp.float32)
    filler = {"d_loss": zero, "d_real": zero, "d_fake": zero, "d_grad_norm": zero, "adv": zero,
              **{k: zero for k in self._extra_adv_metrics()}}
    return state, {**filler, **g_metrics, "phase": zero}

  def _extra_adv_metrics(self) -> tuple[str, ...]:
    return ("d_fake_after",)

  def _gated_step(self, state, x, damaged, key):
    """Both phases in one program without lax.cond: the adversarial step always runs, and
    before `pretrain_steps` its D update is discarded and its adversarial terms weigh 0.

    Why not lax.cond: on XLA:CPU the convolutions inside a conditional's branches
    lose the fast path; measured on the 2-core CPU, one CIFAR inpainting step took
    31 s under cond against 0.7 s straight. The price here is D's compute during
    pretraining (about +50% per step then).
    """
    on = (state.step >= self.pretrain_steps).astype(jnp.float32)
    new_state, d_metrics = self._d_update(state, x, damaged, key)
    keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(on > 0, a, b), new, old)
    state = state.replace(params={**state.params, "d": keep(new_state.params["d"], state.params["d"])},
                          opt_state={**state.opt_state, "d": keep(new_state.opt_state["d"], state.opt_state["d"])})
    state, g_metrics = self._g_update(state, x, damaged, adversarial=True, adv_scale=on)
    d_metrics = {k: v * on for k, v in d_metrics.items()}
    return state, {**d_metrics, **g_metrics, "phase": on}

  def train_step(self, state: GANState, batch: dict, key: jax.Array) -> tuple[GANState, dict]:
    """One step. batch {"x": float32 (B, H, W, C) in [-1, 1], ...}; key: this step's key."""
    x = batch["x"]
    chex.assert_rank(x, 4)
    damaged = self.damage(x, rng.named(key, "damage"))
    d_key = rng.named(key, "d")
    if self.pretrain_steps <= 0:
      state, metrics = self._adversarial_step(state, x, damaged, d_key)
    elif self.pretrain_steps >= self.num_steps:  # SRResNet-only run: no D compute at all
      state, metrics = self._pretrain_step(state, x, damaged, d_key)
    else:
      state, metrics = self._gated_step(state, x, damaged, d_key)
    return state.replace(step=state.step + 1), metrics


# ---------------------------------------------------------------- config -> task

# The fields every repair task reads itself (beyond its model's).
REPAIR_FIELDS = frozenset({
    "train.loss", "train.label_smoothing", "train.optimizer", "train.g_lr", "train.d_lr", "train.b1", "train.b2",
    "train.lr_schedule", "train.lr_final", "train.clip", "train.gp_weight", "train.r1_gamma", "train.r1_every",
    "train.pretrain_steps", "train.recon_loss", "train.adv_weight"})


def check(condition: bool, message: str) -> None:
  if not condition:
    raise UserError(message)


def validate_repair(config) -> None:
  t = config.train
  validate_optimization(config)
  check(isinstance(t.pretrain_steps, int) and t.pretrain_steps >= 0,
        f"config.train.pretrain_steps={t.pretrain_steps!r} must be a non-negative integer")
  check(t.recon_loss in ("l1", "l2"), f"config.train.recon_loss={t.recon_loss!r}: use 'l1' or 'l2'")
  check(t.adv_weight >= 0, f"config.train.adv_weight={t.adv_weight!r} must be >= 0")


def repair_fields(config, element_shape, model_name: str) -> dict:
  """The RepairTask fields of `config` for a task whose repairer is model `model_name`."""
  t, m = config.train, config.model
  check(len(element_shape) == 3, f"config.task={config.task!r} needs images, but the data has shape {element_shape}")
  check(m.name == model_name, f"config.model.name={m.name!r}: task {config.task!r} uses model {model_name!r}")
  d_loss, g_loss = losses.get_losses(t.loss)
  generator, discriminator = factory.networks(m, element_shape)
  d_optimizer = optim.make_optimizer(t, t.d_lr, lazy_ratio=optim.lazy_regularization_ratio(t))
  return dict(generator=generator, discriminator=discriminator, g_optimizer=optim.make_optimizer(t, t.g_lr),
              d_optimizer=d_optimizer, d_loss=d_loss, g_loss=g_loss, recon_loss=t.recon_loss,
              adv_weight=float(t.adv_weight), pretrain_steps=t.pretrain_steps, num_steps=t.num_steps,
              label_smoothing=t.label_smoothing, d_penalties=optim.d_penalties(t), d_clip=t.clip)
