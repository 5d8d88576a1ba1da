"""Applying a trained CycleGAN to your own images.

    from jgan.infer import translate
    model = translate.load("runs/cyclegan")            # newest checkpoint of a run
    out = model.translate(images, "a2b")               # uint8/float (B, H, W, C) -> the same, through G
    out = model.translate(images, "b2a")               # through F

The generators are fully convolutional: any H and W work. An image is padded by reflection
to a multiple of 4 (and to at least MIN_SIDE pixels a side) for the network, and the output
cropped back to the input's size. Float images are in [-1, 1], uint8 in [0, 255]; outputs come
back in the input's kind. Images of another channel count than the model's are a one-line error
(`jgan.infer.repair.read_image` converts files on reading).
"""
from __future__ import annotations

import numpy as np

from jgan.core.errors import UserError
from jgan.infer.sampling import restore_state
from jgan.tasks import element_shape, make_task
from jgan.tasks.cyclegan import DIRECTIONS
from jgan.train import workdir as workdir_lib

MIN_SIDE = 8   # the generator's reflection padding at H/4 needs 2 pixels there


def check_direction(direction: str) -> str:
  if direction not in DIRECTIONS:
    raise UserError(f"--direction={direction!r}: use a2b (G: domain A -> B) or b2a (F: domain B -> A)")
  return direction


def pad_amounts(size: int) -> tuple[int, int]:
  """(before, after) padding of a side of `size` pixels: to a multiple of 4 and at least MIN_SIDE."""
  target = max(MIN_SIDE, -(-size // 4) * 4)
  extra = target - size
  return extra // 2, extra - extra // 2


def pad_reflect(x: np.ndarray, pad_h: tuple[int, int], pad_w: tuple[int, int]) -> np.ndarray:
  """Reflection padding of (B, H, W, C), repeated where the pad exceeds the image (tiny images)."""
  while pad_h[0] or pad_h[1] or pad_w[0] or pad_w[1]:
    step_h = tuple(min(p, x.shape[1] - 1) for p in pad_h)
    step_w = tuple(min(p, x.shape[2] - 1) for p in pad_w)
    if not any(step_h + step_w):  # a 1-pixel side: reflection cannot grow it
      return np.pad(x, ((0, 0), pad_h, pad_w, (0, 0)), mode="edge")
    x = np.pad(x, ((0, 0), step_h, step_w, (0, 0)), mode="reflect")
    pad_h = (pad_h[0] - step_h[0], pad_h[1] - step_h[1])
    pad_w = (pad_w[0] - step_w[0], pad_w[1] - step_w[1])
  return x


class Translator:
  """The two generators of a trained CycleGAN run."""

  def __init__(self, workdir: str, step: int | None = None):
    import jax
    self.workdir = workdir
    self.config = workdir_lib.load_config(workdir)
    task_name = self.config.get("task", "gan")
    if task_name != "cyclegan":
      raise UserError(f"{workdir} holds a {task_name!r} run, not a cyclegan one (train with experiments.cyclegan)")
    shape = element_shape(self.config.data)
    self.channels = shape[-1]
    self.task = make_task(self.config, shape)
    self.state = restore_state(workdir, self.task, self.config, step)
    self.step = int(self.state.step)
    self._translate = jax.jit(self.task.translate, static_argnums=2)

  def translate(self, images, direction: str = "a2b", batch_size: int = 16, seed: int | None = None) -> np.ndarray:
    """(B, H, W, C) uint8 [0, 255] or float [-1, 1], any H, W -> the same shape and kind.

    seed: for a G with codes (config.model.code_dim > 0), a2b draws image i's code from jax.random.key(seed)
    (one draw for the whole batch, so a result does not depend on batch_size); None uses the zero code.
    """
    import jax
    import jax.numpy as jnp
    check_direction(direction)
    original = np.asarray(images)
    if original.ndim != 4:
      raise UserError(f"images must be a batch (B, H, W, C), got shape {original.shape}")
    if original.shape[-1] != self.channels:
      raise UserError(f"images have {original.shape[-1]} channels but the model in {self.workdir} works on "
                      f"{self.channels}: convert them (jgan.infer.repair.read_image does) first")
    as_uint8 = original.dtype == np.uint8
    floats = original.astype(np.float32) * (2.0 / 255.0) - 1.0 if as_uint8 else original.astype(np.float32)
    _, height, width, _ = floats.shape
    pad_h, pad_w = pad_amounts(height), pad_amounts(width)
    codes = None
    if seed is not None and direction == "a2b" and self.task.code_dim:
      codes = self.task.draw_codes(jax.random.key(seed), len(floats))
    out = []
    for i in range(0, len(floats), batch_size):
      x = pad_reflect(floats[i:i + batch_size], pad_h, pad_w)
      code = None if codes is None else codes[i:i + batch_size]
      y = np.asarray(self._translate(self.state.params, jnp.asarray(x), direction, code))
      out.append(y[:, pad_h[0]:pad_h[0] + height, pad_w[0]:pad_w[0] + width])
    result = np.concatenate(out)
    return np.clip(np.round((result + 1.0) * 127.5), 0, 255).astype(np.uint8) if as_uint8 else result


def load(workdir: str, step: int | None = None) -> Translator:
  return Translator(workdir, step)
