"""Applying a trained CycleGAN to your own images.

    from jgan.infer import translate
    model = translate.load("runs/cyclegan")            # newest checkpoint of a run
    out = model.translate(images, "a2b")               # uint8/float (B, H, W, C) -> the same, through G
    out = model.translate(images, "b2a")               # through F

The generators are fully convolutional: any H and W work. An image is padded by reflection
to a multiple of 4 (and to at least MIN_SIDE pixels a side) for the network, and the output
cropped back to the input's size.

Large images (a side above `tile_above` pixels, 1024 by default) run in tiles of fixed shape, so memory
stays bounded whatever the size (`translate_tiled`). Tiling a network with instance norms is not just cutting
the image: every norm uses its whole feature map's mean and variance, which no tile sees. So the tiles are
run L + 1 times for L norms: pass k freezes, in every norm, the statistics that pass k - 1 accumulated over
the whole image (each tile contributing only the pixels it keeps), which makes the first k + 1 norms' statistics
exact (a norm's input depends only on the norms before it). The last pass, with every statistic exact, gives
the output. With each tile read with `overlap` >= the generator's receptive radius of context (the default),
tiled and whole-image outputs agree to float rounding (tests/test_cyclegan.py). The price is L + 1
passes (12 for the digits default, 24 for the paper's 9-block G) over tiles that overlap.

Float images are in [-1, 1], uint8 in [0, 255]; outputs come back in the input's kind. Images of another
channel count than the model's are a one-line error (`jgan.infer.repair.read_image` converts files on reading).
"""
from __future__ import annotations

import numpy as np
from flax import traverse_util

from jgan.core.errors import UserError
from jgan.infer.sampling import restore_state
from jgan.tasks import element_shape, make_task
from jgan.tasks.cyclegan import DIRECTIONS
from jgan.train import workdir as workdir_lib

MIN_SIDE = 8   # the generator's reflection padding at H/4 needs 2 pixels there
TILE_ABOVE = 1024   # images with a side above this many pixels are translated in tiles
TILE = 256          # kept side of a tile (a multiple of 4)


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


def tile_windows(size: int, tile: int, overlap: int) -> list[tuple[int, int, int]]:
  """Along one side of `size` pixels: (window start, kept start, kept end), kept bounds relative to the window.

  Every window is min(size, tile + 2 overlap) long and lies inside the image (windows at the image's edges
  shift inwards, so the network's own padding there is the whole image's); kept ranges tile [0, size) once.
  All multiples of 4 when size, tile and overlap are, so the network's stride-2 grid stays aligned."""
  window = tile + 2 * overlap
  if size <= window:
    return [(0, 0, size)]
  out = []
  for start in range(0, size, tile):
    window_start = min(max(start - overlap, 0), size - window)
    out.append((window_start, start - window_start, min(start + tile, size) - window_start))
  return out


def kept_moments(x, bounds, window: tuple[int, int], shift):
  """Sums over the kept pixels of a tile batch's norm input, for whole-image statistics.

  x: (T, h, w, C) float32, a norm's input for T windows of window = (H, W) input pixels (h = H / stride).
  bounds: (T, 4) int [row start, row end, col start, col end) of each tile's kept pixels, in window input
    pixels (multiples of the stride; an empty range for padding tiles).
  shift: (1, 1, 1, C) or scalar subtracted first (the previous estimate of the mean: smaller round-off).
  Returns {"n": (), "s1": (C,), "s2": (C,)}: count, sum and sum of squares of x - shift over kept pixels."""
  import jax.numpy as jnp
  rows = jnp.arange(x.shape[1]) * (window[0] // x.shape[1])
  cols = jnp.arange(x.shape[2]) * (window[1] // x.shape[2])
  in_rows = (rows >= bounds[:, 0:1]) & (rows < bounds[:, 1:2])
  in_cols = (cols >= bounds[:, 2:3]) & (cols < bounds[:, 3:4])
  mask = (in_rows[:, :, None] & in_cols[:, None, :]).astype(jnp.float32)
  d = x - shift
  return {"n": jnp.sum(mask) * jnp.ones(()), "s1": jnp.einsum("thw,thwc->c", mask, d),
          "s2": jnp.einsum("thw,thwc->c", mask, d * d)}


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
    self._tile_pass = jax.jit(self._tile_pass_impl, static_argnums=(0, 1))

  def _tile_pass_impl(self, direction: str, window: tuple[int, int], params, tiles, code, stats, bounds):
    """One pass over a batch of tiles: (outputs (T, H, W, C), {norm path: kept_moments}); stats None: each
    tile's own statistics (the first pass), else {path: {"mean", "var"}} frozen in every norm."""
    module = self.task.generator
    variables = {"params": params["g" if direction == "a2b" else "f"]}
    if stats is not None:
      variables["norm_stats"] = stats
    inputs = (tiles,) if code is None else (tiles, code)
    out, sown = module.apply(variables, *inputs, mutable=["norm_inputs"])
    if self.task.code_dim:
      out = out[0]
    frozen = {} if stats is None else traverse_util.flatten_dict(stats)
    moments = {}
    for key, (x,) in traverse_util.flatten_dict(sown["norm_inputs"]).items():   # key: (..., "InstanceNorm_k", "x")
      path = key[:-1]
      moments[path] = kept_moments(x, bounds, window, frozen.get(path + ("mean",), 0.0))
    return out, moments

  def translate(self, images, direction: str = "a2b", batch_size: int = 16, seed: int | None = None,
                tile_above: int = TILE_ABOVE, tile: int = TILE, overlap: int | None = None,
                tile_batch: int = 4) -> np.ndarray:
    """(B, H, W, C) uint8 [0, 255] or float [-1, 1], any H, W -> the same shape and kind.

    seed: for a G with codes (config.model.code_dim > 0), a2b draws image i's code from jax.random.key(seed)
    (one draw for the whole batch, so a result does not depend on batch_size); None uses the zero code.
    Images with a side above `tile_above` pixels run one at a time through `translate_tiled` (tile, overlap,
    tile_batch: its arguments; overlap defaults to the generator's receptive radius: tiled == whole).
    """
    import jax
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
    if max(height, width) > tile_above:
      result = np.concatenate([
          self.translate_tiled(pad_reflect(floats[i:i + 1], pad_h, pad_w), direction,
                               None if codes is None else codes[i:i + 1], tile, overlap, tile_batch)
          [:, pad_h[0]:pad_h[0] + height, pad_w[0]:pad_w[0] + width] for i in range(len(floats))])
    else:
      result = self._translate_whole(floats, direction, codes, batch_size, pad_h, pad_w)
    return np.clip(np.round((result + 1.0) * 127.5), 0, 255).astype(np.uint8) if as_uint8 else result

  def _translate_whole(self, floats, direction, codes, batch_size, pad_h, pad_w) -> np.ndarray:
    """Float (B, H, W, C) -> the same, whole images in batches of batch_size."""
    import jax.numpy as jnp
    height, width = floats.shape[1:3]
    out = []
    for i in range(0, len(floats), batch_size):
      x = pad_reflect(floats[i:i + batch_size], pad_h, pad_w)
      code = None if codes is None else codes[i:i + batch_size]
      y = np.asarray(self._translate(self.state.params, jnp.asarray(x), direction, code))
      out.append(y[:, pad_h[0]:pad_h[0] + height, pad_w[0]:pad_w[0] + width])
    return np.concatenate(out)

  def translate_tiled(self, image: np.ndarray, direction: str, code=None, tile: int = TILE,
                      overlap: int | None = None, tile_batch: int = 4) -> np.ndarray:
    """One float image (1, H, W, C) in [-1, 1], H and W multiples of 4 -> (1, H, W, C), in tiles of fixed
    shape (tile_batch, min(H, tile + 2 overlap), min(W, tile + 2 overlap), C); the module docstring explains
    the passes. code: (1, code_dim) for a2b with a code, else None."""
    import jax.numpy as jnp
    overlap = self.task.generator.receptive_radius if overlap is None else overlap
    if tile < 4 or tile % 4 or overlap < 0 or overlap % 4 or tile_batch < 1:
      raise UserError(f"tile={tile}, overlap={overlap}, tile_batch={tile_batch}: tile and overlap must be "
                      "multiples of 4 (tile >= 4), tile_batch >= 1")
    _, height, width, channels = image.shape
    if height % 4 or width % 4:
      raise ValueError(f"translate_tiled needs H and W divisible by 4, got {(height, width)}")
    rows, cols = tile_windows(height, tile, overlap), tile_windows(width, tile, overlap)
    window = (min(height, tile + 2 * overlap), min(width, tile + 2 * overlap))
    places = [(r, c) for r in rows for c in cols]
    codes = None if code is None else jnp.repeat(jnp.asarray(code, jnp.float32), tile_batch, axis=0)

    def one_pass(stats):
      out = np.zeros((height, width, channels), np.float32)
      totals: dict = {}
      for start in range(0, len(places), tile_batch):
        chunk = places[start:start + tile_batch]
        tiles = np.stack([image[0, r[0]:r[0] + window[0], c[0]:c[0] + window[1]] for r, c in chunk])
        bounds = np.array([[r[1], r[2], c[1], c[2]] for r, c in chunk], np.int32)
        if len(chunk) < tile_batch:  # same shape every call: one compile, fixed memory; copies keep nothing
          tiles = np.concatenate([tiles, np.repeat(tiles[-1:], tile_batch - len(chunk), axis=0)])
          bounds = np.concatenate([bounds, np.zeros((tile_batch - len(chunk), 4), np.int32)])
        result, moments = self._tile_pass(direction, window, self.state.params, jnp.asarray(tiles), codes,
                                          stats, jnp.asarray(bounds))
        result = np.asarray(result)
        for i, (r, c) in enumerate(chunk):
          out[r[0] + r[1]:r[0] + r[2], c[0] + c[1]:c[0] + c[2]] = result[i, r[1]:r[2], c[1]:c[2]]
        for path, m in moments.items():
          acc = totals.setdefault(path, {k: np.zeros(np.shape(v), np.float64) for k, v in m.items()})
          for k, v in m.items():
            acc[k] += np.asarray(v, np.float64)
      return out, totals

    def whole_image_stats(totals, stats):
      frozen = {} if stats is None else traverse_util.flatten_dict(stats)
      new = {}
      for path, acc in totals.items():
        shift = np.asarray(frozen.get(path + ("mean",), 0.0), np.float64).reshape(-1)
        mean_d = acc["s1"] / acc["n"]
        var = np.maximum(acc["s2"] / acc["n"] - mean_d ** 2, 0.0)
        new[path + ("mean",)] = jnp.asarray((shift + mean_d).reshape(1, 1, 1, -1), jnp.float32)
        new[path + ("var",)] = jnp.asarray(var.reshape(1, 1, 1, -1), jnp.float32)
      return traverse_util.unflatten_dict(new)

    out, totals = one_pass(None)
    stats = None
    for _ in range(len(totals)):   # pass k makes the first k + 1 norms' statistics exact
      stats = whole_image_stats(totals, stats)
      out, totals = one_pass(stats)
    return out[None]


def load(workdir: str, step: int | None = None) -> Translator:
  return Translator(workdir, step)
