"""Super-resolution as a task of the training loop: SRResNet, then SRGAN (Ledig et al. 2017, arXiv:1609.04802).

The low-resolution input is made inside the step (antialiased bicubic
downscaling of the real batch); see `jgan.tasks.repair` for the two phases.
"""
from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp

from jgan.models.repair import bicubic_upscale
from jgan.tasks import base
from jgan.tasks.repair import (
  REPAIR_FIELDS,
  RepairTask,
  check,
  downscale,
  preview_count,
  quadruples,
  recon_error,
  repair_fields,
  validate_repair,
)
from jgan.tasks.state import GANState


@dataclasses.dataclass(frozen=True)
class SuperResTask(RepairTask):
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
    return jnp.mean(recon_error(self.recon_loss, raw, x))

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
    x = batch["x"][:preview_count(batch["x"].shape[0])]
    low = downscale(x, self.scale)
    nearest = jnp.repeat(jnp.repeat(low, self.scale, axis=1), self.scale, axis=2)
    bicubic = jnp.clip(bicubic_upscale(low, self.scale), -1, 1)
    return quadruples(jnp.clip(nearest, -1, 1), bicubic, self.upscale(state, low), x)


# ---------------------------------------------------------------- config -> task

def make_superres(config, element_shape) -> SuperResTask:
  common = repair_fields(config, element_shape, "srresnet")
  feature_weight = config.train.feature_weight
  check(feature_weight >= 0, f"config.train.feature_weight={feature_weight!r} must be >= 0")
  vgg = None
  weights = config.model.vgg_weights
  if weights:
    from jgan.features import vgg as vgg_lib
    vgg = vgg_lib.load_extractor(weights, config.model.vgg_layer, element_shape[-1])
  return SuperResTask(**common, scale=config.model.scale, feature_weight=float(feature_weight), vgg=vgg)


base.register(base.TaskSpec(name="superres", build=make_superres, validate=validate_repair,
                            fields=REPAIR_FIELDS | {"train.feature_weight"}))
