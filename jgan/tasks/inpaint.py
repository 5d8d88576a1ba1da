"""Inpainting as a task of the training loop: G fills holes, a PatchGAN judges (Yu et al. 2019; Pathak et al. 2016).

The holes (`jgan.objectives.masks`) are drawn inside the step from its key, so
the data pipeline is the plain one; see `jgan.tasks.repair` for the two phases.
"""
from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from jgan.objectives import masks as masks_lib
from jgan.tasks import base
from jgan.tasks.repair import (
  REPAIR_FIELDS,
  RepairTask,
  batch_psnr,
  check,
  composite,
  preview_count,
  quadruples,
  recon_error,
  repair_fields,
  validate_repair,
)
from jgan.tasks.state import GANState

PREVIEW_AREA = 0.25


@dataclasses.dataclass(frozen=True)
class InpaintTask(RepairTask):
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
    return jnp.mean(weights * recon_error(self.recon_loss, raw, x)) / jnp.mean(weights)

  def quality(self, out, x, damaged):
    return batch_psnr(out, x, damaged["mask"])  # inside the hole: the rest is the input, exactly

  def inpaint(self, state: GANState, image: jax.Array, mask: jax.Array) -> jax.Array:
    """image (B, H, W, C) in [-1, 1], mask (B, H, W, 1) in {0, 1} -> completed (B, H, W, C);
    H, W multiples of 4 (see `jgan.infer.repair` for any size)."""
    damaged = {"image": jnp.where(mask > 0.5, 0.0, image), "mask": mask}
    return composite(jnp.clip(self.raw(state.params["g"], damaged), -1, 1), image, mask)

  def preview(self, state: GANState, key: jax.Array, batch: dict) -> jax.Array:
    """Rows of (input with grey hole, mask, output, truth); mask kinds cycle over the examples."""
    x = batch["x"][:preview_count(batch["x"].shape[0])]
    num, height, width, channels = x.shape
    kinds = masks_lib.KINDS
    mask = jnp.stack([masks_lib.make_mask(jax.random.fold_in(key, i), kinds[i % len(kinds)], height, width,
                                          PREVIEW_AREA) for i in range(num)])
    out = self.inpaint(state, x, mask)
    shown_input = jnp.where(mask > 0.5, 0.0, x)
    shown_mask = jnp.broadcast_to(mask * 2.0 - 1.0, x.shape)
    return quadruples(shown_input, shown_mask, out, x)


# ---------------------------------------------------------------- config -> task

def make_inpaint(config, element_shape) -> InpaintTask:
  common = repair_fields(config, element_shape, "gated_inpaint")
  r = config.repair
  kinds = tuple(r.mask_kinds)
  check(len(kinds) > 0 and all(k in masks_lib.KINDS for k in kinds),
         f"config.repair.mask_kinds={kinds!r}: choose from {', '.join(masks_lib.KINDS)}")
  check(0 < r.min_area <= r.max_area <= masks_lib.MAX_AREA,
         f"config.repair.min_area={r.min_area!r}, max_area={r.max_area!r}: need 0 < min_area <= max_area <= "
         f"{masks_lib.MAX_AREA}")
  hole_weight = config.train.hole_weight
  check(hole_weight > 0, f"config.train.hole_weight={hole_weight!r} must be positive")
  return InpaintTask(**common, mask_kinds=kinds, min_area=float(r.min_area), max_area=float(r.max_area),
                     hole_weight=float(hole_weight))


base.register(base.TaskSpec(
    name="inpaint", build=make_inpaint, validate=validate_repair,
    fields=REPAIR_FIELDS | {"train.hole_weight", "repair.mask_kinds", "repair.min_area", "repair.max_area"}))
