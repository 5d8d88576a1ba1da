"""The image-repair training tasks, "inpaint" and "superres", served by the generic loop.

Both follow the task contract of `jgan.tasks.build.TASKS` (init / train_step /
preview, pure, jitted by the loop) and keep a `jgan.tasks.gan.GANState` with networks
"g" (the repairer) and "d" (its critic). The damage is made *inside* the step,
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
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jgan.core import rng
from jgan.core.errors import UserError
from jgan.models.repair import InpaintGenerator, PatchDiscriminator, SRDiscriminator, SRResNet, bicubic_upscale
from jgan.objectives import losses
from jgan.objectives import masks as masks_lib
from jgan.objectives.losses import DLoss, GLoss
from jgan.tasks import build
from jgan.tasks.gan import GANState, apply_net, init_net

SCALES = (2, 4, 8)
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


def _recon_error(name: str, a: jax.Array, b: jax.Array) -> jax.Array:
  diff = a - b
  return jnp.abs(diff) if name == "l1" else jnp.square(diff)


def _psnr(a: jax.Array, b: jax.Array, weights: jax.Array | None = None) -> jax.Array:
  """Mean over the batch of PSNR in dB for images in [-1, 1] (peak-to-peak 2), optionally over weighted pixels."""
  sq = jnp.square(jnp.clip(a, -1, 1) - b)
  if weights is None:
    mse = jnp.mean(sq, axis=(1, 2, 3))
  else:
    w = jnp.broadcast_to(weights, sq.shape)
    mse = jnp.sum(sq * w, axis=(1, 2, 3)) / jnp.maximum(jnp.sum(w, axis=(1, 2, 3)), 1.0)
  return jnp.mean(10.0 * jnp.log10(4.0 / jnp.maximum(mse, 1e-10)))


def _preview_count(num: int) -> int:
  """Examples in a preview grid: (2j)^2 of them make 4j columns, so every row holds whole
  input/mask/output/truth quadruples."""
  for count in (36, 16, 4):
    if num >= count:
      return count
  return 1


def _quadruples(*columns: jax.Array) -> jax.Array:
  """Interleaves equally long image batches: a0 b0 c0 d0 a1 b1 ... -> (4N, H, W, C)."""
  stacked = jnp.stack(columns, axis=1)
  return stacked.reshape(-1, *stacked.shape[2:])


@dataclasses.dataclass(frozen=True)
class _RepairTask:
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
    logits = self._logits(self._critic(d_params, out, damaged))
    loss = self.adv_weight * self.g_loss(logits)
    return loss, {"adv": loss, "d_fake_after": jnp.mean(jax.nn.sigmoid(logits))}

  def quality(self, out: jax.Array, x: jax.Array, damaged: dict) -> jax.Array:
    return _psnr(out, x)

  # Plumbing ---------------------------------------------------------------
  @staticmethod
  def _logits(d_out):
    return d_out[0] if isinstance(d_out, (tuple, list)) else d_out

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
    updates, g_opt = self.g_optimizer.update(grads, state.opt_state["g"], state.params["g"])
    state = state.replace(params={**state.params, "g": optax.apply_updates(state.params["g"], updates)},
                          opt_state={**state.opt_state, "g": g_opt})
    metrics = {"g_loss": loss, "g_grad_norm": optax.global_norm(grads),
               "psnr": self.quality(jax.lax.stop_gradient(out), x, damaged), **terms}
    return state, metrics

  def _d_update(self, state: GANState, x: jax.Array, damaged: dict):
    fake = jax.lax.stop_gradient(self.finish(self.raw(state.params["g"], damaged), damaged))

    def loss_fn(d_params):
      real_logits = self._logits(self._critic(d_params, x, damaged))
      fake_logits = self._logits(self._critic(d_params, fake, damaged))
      return self.d_loss(real_logits, fake_logits, self.label_smoothing), (real_logits, fake_logits)

    (loss, (real_logits, fake_logits)), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params["d"])
    updates, d_opt = self.d_optimizer.update(grads, state.opt_state["d"], state.params["d"])
    state = state.replace(params={**state.params, "d": optax.apply_updates(state.params["d"], updates)},
                          opt_state={**state.opt_state, "d": d_opt})
    return state, {"d_loss": loss, "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
                   "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)), "d_grad_norm": optax.global_norm(grads)}

  def _adversarial_step(self, state, x, damaged):
    state, d_metrics = self._d_update(state, x, damaged)
    state, g_metrics = self._g_update(state, x, damaged, adversarial=True)
    return state, {**d_metrics, **g_metrics, "phase": jnp.ones((), jnp.float32)}

  def _pretrain_step(self, state, x, damaged):
    state, g_metrics = self._g_update(state, x, damaged, adversarial=False)
    zero = jnp.zeros((), jnp.float32)
    filler = {"d_loss": zero, "d_real": zero, "d_fake": zero, "d_grad_norm": zero, "adv": zero,
              **{k: zero for k in self._extra_adv_metrics()}}
    return state, {**filler, **g_metrics, "phase": zero}

  def _extra_adv_metrics(self) -> tuple[str, ...]:
    return ("d_fake_after",)

  def _gated_step(self, state, x, damaged):
    """Both phases in one program without lax.cond: the adversarial step always runs, and
    before `pretrain_steps` its D update is discarded and its adversarial terms weigh 0.

    Why not lax.cond: on XLA:CPU the convolutions inside a conditional's branches
    lose the fast path; measured on the 2-core CPU, one CIFAR inpainting step took
    31 s under cond against 0.7 s straight. The price here is D's compute during
    pretraining (about +50% per step then).
    """
    on = (state.step >= self.pretrain_steps).astype(jnp.float32)
    new_state, d_metrics = self._d_update(state, x, damaged)
    keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(on > 0, a, b), new, old)
    state = state.replace(params={**state.params, "d": keep(new_state.params["d"], state.params["d"])},
                          opt_state={**state.opt_state, "d": keep(new_state.opt_state["d"], state.opt_state["d"])})
    state, g_metrics = self._g_update(state, x, damaged, adversarial=True, adv_scale=on)
    d_metrics = {k: v * on for k, v in d_metrics.items()}
    return state, {**d_metrics, **g_metrics, "phase": on}

  def train_step(self, state: GANState, batch: dict, key: jax.Array) -> tuple[GANState, dict]:
    """One step. batch {"x": float32 (B, H, W, C) in [-1, 1], ...}; key: this step's key."""
    x = batch["x"]
    damaged = self.damage(x, rng.named(key, "damage"))
    if self.pretrain_steps <= 0:
      state, metrics = self._adversarial_step(state, x, damaged)
    elif self.pretrain_steps >= self.num_steps:  # SRResNet-only run: no D compute at all
      state, metrics = self._pretrain_step(state, x, damaged)
    else:
      state, metrics = self._gated_step(state, x, damaged)
    return state.replace(step=state.step + 1), metrics


@dataclasses.dataclass(frozen=True)
class InpaintTask(_RepairTask):
  """Inpainting: G(image with holes, mask) -> completion, composited so only hole pixels change.

  Reconstruction: per-pixel L1 (or L2) of G's raw output against the truth,
  hole pixels weighted `hole_weight`, known ones 1 (Liu et al. 2018 weight the
  hole 6x); the adversarial term comes from a PatchGAN on (composite, mask).
  """
  mask_kinds: tuple[str, ...] = masks_lib.KINDS
  min_area: float = 0.1
  max_area: float = 0.4
  hole_weight: float = 6.0

  def damage(self, x, key):
    _, height, width, _ = x.shape
    mask = masks_lib.random_masks(key, self.mask_kinds, x.shape[0], height, width, self.min_area, self.max_area)
    return {"image": jnp.where(mask > 0.5, 0.0, x), "mask": mask}

  def g_inputs(self, damaged):
    return damaged["image"], damaged["mask"]

  def d_inputs(self, image, damaged):
    return image, damaged["mask"]

  def finish(self, raw, damaged):
    return composite(raw, damaged["image"], damaged["mask"])

  def recon(self, raw, x, damaged):
    weights = 1.0 + (self.hole_weight - 1.0) * damaged["mask"]
    return jnp.mean(weights * _recon_error(self.recon_loss, raw, x)) / jnp.mean(weights)

  def quality(self, out, x, damaged):
    return _psnr(out, x, damaged["mask"])  # inside the hole: the rest is the input, exactly

  def inpaint(self, state: GANState, image: jax.Array, mask: jax.Array) -> jax.Array:
    """image (B, H, W, C) in [-1, 1], mask (B, H, W, 1) in {0, 1} -> completed (B, H, W, C);
    H, W multiples of 4 (see `jgan.infer.repair` for any size)."""
    damaged = {"image": jnp.where(mask > 0.5, 0.0, image), "mask": mask}
    return composite(jnp.clip(self.raw(state.params["g"], damaged), -1, 1), image, mask)

  def preview(self, state: GANState, key: jax.Array, batch: dict) -> jax.Array:
    """Rows of (input with grey hole, mask, output, truth); mask kinds cycle over the examples."""
    x = batch["x"][:_preview_count(batch["x"].shape[0])]
    num, height, width, channels = x.shape
    kinds = masks_lib.KINDS
    mask = jnp.stack([masks_lib.make_mask(jax.random.fold_in(key, i), kinds[i % len(kinds)], height, width,
                                          PREVIEW_AREA) for i in range(num)])
    out = self.inpaint(state, x, mask)
    shown_input = jnp.where(mask > 0.5, 0.0, x)
    shown_mask = jnp.broadcast_to(mask * 2.0 - 1.0, x.shape)
    return _quadruples(shown_input, shown_mask, out, x)


@dataclasses.dataclass(frozen=True)
class SuperResTask(_RepairTask):
  """Super-resolution x`scale`: G(downscale(x)) -> x; SRResNet, then SRGAN.

  Adversarial phase G loss: recon + adv_weight * g_loss(D(SR)) + feature_weight *
  mean_l |D_l(SR) - D_l(HR)| over D's feature maps (or VGG's when `vgg` is given).
  """
  scale: int = 4
  feature_weight: float = 1.0
  vgg: Any = None   # optional (apply_fn, params) of a frozen VGG feature extractor, see jgan.features.vgg

  def damage(self, x, key):
    del key  # the degradation is deterministic
    return {"low": downscale(x, self.scale)}

  def g_inputs(self, damaged):
    return (damaged["low"],)

  def d_inputs(self, image, damaged):
    return (image,)

  def finish(self, raw, damaged):
    return raw

  def recon(self, raw, x, damaged):
    return jnp.mean(_recon_error(self.recon_loss, raw, x))

  def _extra_adv_metrics(self):
    return ("d_fake_after", "features")

  def g_adversarial(self, d_params, out, x, damaged):
    logits, fake_features = self._critic(d_params, out, damaged)
    if self.vgg is not None:
      apply_fn, vgg_params = self.vgg
      fake_features, real_features = apply_fn(vgg_params, out), apply_fn(vgg_params, x)
    else:
      _, real_features = self._critic(d_params, x, damaged)
    real_features = jax.lax.stop_gradient(real_features)
    matching = sum(jnp.mean(jnp.abs(f - r)) for f, r in zip(fake_features, real_features)) / len(fake_features)
    adv = self.adv_weight * self.g_loss(logits)
    return adv + self.feature_weight * matching, {"adv": adv, "features": matching,
                                                  "d_fake_after": jnp.mean(jax.nn.sigmoid(logits))}

  def upscale(self, state: GANState, low: jax.Array) -> jax.Array:
    """low (B, h, w, C) in [-1, 1] -> (B, scale*h, scale*w, C) in [-1, 1]."""
    return jnp.clip(self.raw(state.params["g"], {"low": low}), -1.0, 1.0)

  def preview(self, state: GANState, key: jax.Array, batch: dict) -> jax.Array:
    """Rows of (low-res input shown nearest-upscaled, bicubic, output, truth)."""
    del key
    x = batch["x"][:_preview_count(batch["x"].shape[0])]
    low = downscale(x, self.scale)
    nearest = jnp.repeat(jnp.repeat(low, self.scale, axis=1), self.scale, axis=2)
    bicubic = jnp.clip(bicubic_upscale(low, self.scale), -1, 1)
    return _quadruples(jnp.clip(nearest, -1, 1), bicubic, self.upscale(state, low), x)


# ---------------------------------------------------------------- config -> task

def _check(condition: bool, message: str) -> None:
  if not condition:
    raise UserError(message)


def _optimizers(t):
  return optax.adam(t.g_lr, b1=t.b1, b2=t.b2), optax.adam(t.d_lr, b1=t.b1, b2=t.b2)


def _common(config, element_shape, model_name: str) -> dict:
  t, m = config.train, config.model
  _check(len(element_shape) == 3, f"config.task={config.task!r} needs images, but the data has shape {element_shape}")
  _check(m.name == model_name, f"config.model.name={m.name!r}: task {config.task!r} uses model {model_name!r}")
  _check(t.n_critic == 1, f"config.train.n_critic={t.n_critic}: the repair tasks take one D step per G step")
  pretrain = t.get("pretrain_steps", 0)
  _check(isinstance(pretrain, int) and pretrain >= 0,
         f"config.train.pretrain_steps={pretrain!r} must be a non-negative integer")
  recon = t.get("recon_loss", "l1")
  _check(recon in ("l1", "l2"), f"config.train.recon_loss={recon!r}: use 'l1' or 'l2'")
  adv = t.get("adv_weight", 1e-2)
  _check(adv >= 0, f"config.train.adv_weight={adv!r} must be >= 0")
  g_opt, d_opt = _optimizers(t)
  d_loss, g_loss = losses.get_losses(t.loss)
  generator, discriminator = build.MODELS[m.name](m, element_shape, build._dtype(m.dtype))
  return dict(generator=generator, discriminator=discriminator, g_optimizer=g_opt, d_optimizer=d_opt,
              d_loss=d_loss, g_loss=g_loss, recon_loss=recon, adv_weight=float(adv), pretrain_steps=pretrain,
              num_steps=t.num_steps, label_smoothing=t.label_smoothing)


def _gated_inpaint_models(model_config, element_shape, dtype):
  _check(element_shape[0] % 4 == 0 and element_shape[1] % 4 == 0,
         f"config.data.resolution={element_shape[0]}: the inpainting generator needs a multiple of 4")
  g = InpaintGenerator(channels=element_shape[-1], width=model_config.g_width,
                       dilations=tuple(model_config.get("dilations", (2, 4))), dtype=dtype)
  d = PatchDiscriminator(width=model_config.d_width, dtype=dtype)
  return g, d


def _srresnet_models(model_config, element_shape, dtype):
  scale = model_config.get("scale", 4)
  _check(scale in SCALES, f"config.model.scale={scale!r}: choose one of {', '.join(map(str, SCALES))}")
  _check(element_shape[0] % scale == 0 and element_shape[1] % scale == 0,
         f"config.data.resolution={element_shape[0]} is not a multiple of config.model.scale={scale}")
  blocks = model_config.get("num_blocks", 8)
  _check(isinstance(blocks, int) and blocks >= 0, f"config.model.num_blocks={blocks!r} must be an integer >= 0")
  g = SRResNet(channels=element_shape[-1], scale=scale, width=model_config.g_width, num_blocks=blocks,
               bicubic_skip=model_config.get("bicubic_skip", True), dtype=dtype)
  stages = max(1, min(3, (element_shape[0] // 4).bit_length() - 1))  # down to >= 4x4 before the dense layer
  d = SRDiscriminator(width=model_config.d_width, num_stages=stages, dtype=dtype)
  return g, d


def make_inpaint(config, element_shape) -> InpaintTask:
  common = _common(config, element_shape, "gated_inpaint")
  r = config.repair
  kinds = tuple(r.mask_kinds)
  _check(len(kinds) > 0 and all(k in masks_lib.KINDS for k in kinds),
         f"config.repair.mask_kinds={kinds!r}: choose from {', '.join(masks_lib.KINDS)}")
  _check(0 < r.min_area <= r.max_area <= masks_lib.MAX_AREA,
         f"config.repair.min_area={r.min_area!r}, max_area={r.max_area!r}: need 0 < min_area <= max_area <= "
         f"{masks_lib.MAX_AREA}")
  hole_weight = config.train.get("hole_weight", 6.0)
  _check(hole_weight > 0, f"config.train.hole_weight={hole_weight!r} must be positive")
  return InpaintTask(**common, mask_kinds=kinds, min_area=float(r.min_area), max_area=float(r.max_area),
                     hole_weight=float(hole_weight))


def make_superres(config, element_shape) -> SuperResTask:
  common = _common(config, element_shape, "srresnet")
  feature_weight = config.train.get("feature_weight", 1.0)
  _check(feature_weight >= 0, f"config.train.feature_weight={feature_weight!r} must be >= 0")
  vgg = None
  weights = config.model.get("vgg_weights", "")
  if weights:
    from jgan.features import vgg as vgg_lib
    vgg = vgg_lib.load_extractor(weights, config.model.get("vgg_layer", "conv2_2"), element_shape[-1])
  return SuperResTask(**common, scale=config.model.get("scale", 4), feature_weight=float(feature_weight), vgg=vgg)


build.MODELS["gated_inpaint"] = _gated_inpaint_models
build.MODELS["srresnet"] = _srresnet_models
build.TASKS["inpaint"] = make_inpaint
build.TASKS["superres"] = make_superres
