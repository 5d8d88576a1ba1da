"""Hole masks for inpainting: float32 (..., H, W, 1) with 1 = missing pixel (to fill), 0 = known.

Three kinds, each a pure, jit-able function of a PRNG key (the same key gives
the same mask, on any backend and inside or outside jit):

  center   one centred rectangle of area `area` (each side rounded to whole
           pixels, so the fraction is exact only when it can be); no randomness.
  boxes    axis-aligned rectangles of random size and place, the "random block"
           masks of context encoders (Pathak et al. 2016, arXiv:1604.07379,
           sec. 3.3), added one after another until their union covers `area`.
  strokes  free-form brush strokes: random-walk polylines drawn with a round
           brush (Yu et al. 2019, arXiv:1806.03589, "free-form mask
           generation"), added one after another the same way.

Hitting the area exactly. Every pixel gets an *order score*: the index of the
first shape that covers it plus its position inside that shape in [0, 1)
(row-major inside a box, arc length along a stroke). The hole is the
round(area * H * W) pixels of smallest score (a stable sort breaks ties by
pixel index). So shapes join in order and the last one is cut short: a box
loses its bottom rows, a stroke its tail. With the default shape counts the
union of all shapes covers well over half of any image, so for area <= 0.5 the
hole has exactly round(area * H * W) pixels; pixels no shape covers are never
taken, so a larger area could fall short (`area_fraction` tells).

Batches: example i of `make_masks(key, ...)` uses fold_in(key, i), so an
example's mask does not depend on the batch size.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

KINDS = ("center", "boxes", "strokes")
MAX_AREA = 0.5          # beyond this `boxes`/`strokes` may not reach the requested area
NUM_BOXES = 24
BOX_SIDE = (0.15, 0.45)   # box side as a fraction of the image side
NUM_STROKES = 24
STROKE_VERTICES = 6       # per stroke: 5 segments
STROKE_LENGTH = (0.1, 0.3)  # segment length as a fraction of the short side
STROKE_RADIUS = (0.04, 0.1)  # brush radius as a fraction of the short side (at least 1 pixel)
MAX_TURN = 0.6 * math.pi  # largest change of direction between two segments


def _take_first(scores: jax.Array, area) -> jax.Array:
  """(H, W) order scores -> (H, W) bool: the round(area*H*W) pixels of smallest finite score."""
  height, width = scores.shape
  count = jnp.round(jnp.asarray(area, jnp.float32) * height * width).astype(jnp.int32)
  flat = scores.reshape(-1)
  order = jnp.argsort(flat, stable=True)
  rank = jnp.zeros(flat.shape, jnp.int32).at[order].set(jnp.arange(flat.size, dtype=jnp.int32))
  return ((rank < count) & jnp.isfinite(flat)).reshape(height, width)


def _center(key: jax.Array, height: int, width: int, area) -> jax.Array:
  del key
  side = jnp.sqrt(jnp.asarray(area, jnp.float32))
  box_h = jnp.clip(jnp.round(side * height), 0, height)
  box_w = jnp.clip(jnp.round(side * width), 0, width)
  top = jnp.floor((height - box_h) / 2)
  left = jnp.floor((width - box_w) / 2)
  ys = jnp.arange(height)[:, None]
  xs = jnp.arange(width)[None, :]
  return (ys >= top) & (ys < top + box_h) & (xs >= left) & (xs < left + box_w)


def _box_scores(key: jax.Array, height: int, width: int) -> jax.Array:
  k_h, k_w, k_top, k_left = jax.random.split(key, 4)
  lo, hi = BOX_SIDE
  box_h = jnp.clip(jnp.round(jax.random.uniform(k_h, (NUM_BOXES,), minval=lo, maxval=hi) * height), 1, height)
  box_w = jnp.clip(jnp.round(jax.random.uniform(k_w, (NUM_BOXES,), minval=lo, maxval=hi) * width), 1, width)
  top = jnp.floor(jax.random.uniform(k_top, (NUM_BOXES,)) * (height - box_h + 1))
  left = jnp.floor(jax.random.uniform(k_left, (NUM_BOXES,)) * (width - box_w + 1))
  top, left, box_h, box_w = (a[:, None, None] for a in (top, left, box_h, box_w))
  ys = jnp.arange(height, dtype=jnp.float32)[None, :, None]
  xs = jnp.arange(width, dtype=jnp.float32)[None, None, :]
  inside = (ys >= top) & (ys < top + box_h) & (xs >= left) & (xs < left + box_w)
  within = ((ys - top) * box_w + (xs - left)) / (box_h * box_w)  # row-major position in [0, 1)
  index = jnp.arange(NUM_BOXES, dtype=jnp.float32)[:, None, None]
  return jnp.min(jnp.where(inside, index + within, jnp.inf), axis=0)


def _stroke_scores(key: jax.Array, height: int, width: int) -> jax.Array:
  short = min(height, width)
  k_start, k_angle, k_turn, k_len, k_rad = jax.random.split(key, 5)
  segments = STROKE_VERTICES - 1
  start = jax.random.uniform(k_start, (NUM_STROKES, 2)) * jnp.array([height, width], jnp.float32)
  heading = jax.random.uniform(k_angle, (NUM_STROKES, 1), maxval=2 * math.pi)
  turns = jax.random.uniform(k_turn, (NUM_STROKES, segments), minval=-MAX_TURN, maxval=MAX_TURN)
  angles = heading + jnp.cumsum(turns, axis=1) - turns[:, :1]  # the first segment keeps the heading
  lengths = jax.random.uniform(k_len, (NUM_STROKES, segments), minval=STROKE_LENGTH[0],
                               maxval=STROKE_LENGTH[1]) * short
  steps = jnp.stack([jnp.sin(angles), jnp.cos(angles)], -1) * lengths[..., None]   # (S, segments, 2) as (dy, dx)
  vertices = jnp.concatenate([start[:, None], start[:, None] + jnp.cumsum(steps, axis=1)], axis=1)
  # Keep the walk on the image: a stroke that leaves it would waste its length.
  vertices = jnp.clip(vertices, 0.0, jnp.array([height - 1, width - 1], jnp.float32))
  radius = jnp.maximum(1.0, jax.random.uniform(k_rad, (NUM_STROKES,), minval=STROKE_RADIUS[0],
                                               maxval=STROKE_RADIUS[1]) * short)
  a = vertices[:, :-1, None, None, :]                       # (S, segments, 1, 1, 2)
  ab = (vertices[:, 1:] - vertices[:, :-1])[:, :, None, None, :]
  ys, xs = jnp.meshgrid(jnp.arange(height, dtype=jnp.float32), jnp.arange(width, dtype=jnp.float32), indexing="ij")
  p = jnp.stack([ys, xs], -1)                               # (H, W, 2)
  t = jnp.clip(jnp.sum((p - a) * ab, -1) / jnp.maximum(jnp.sum(ab * ab, -1), 1e-6), 0.0, 1.0)
  distance = jnp.linalg.norm(p - (a + t[..., None] * ab), axis=-1)        # (S, segments, H, W)
  covered = distance <= radius[:, None, None, None]
  position = (jnp.arange(segments, dtype=jnp.float32)[None, :, None, None] + t) / segments  # [0, 1] along the stroke
  index = jnp.arange(NUM_STROKES, dtype=jnp.float32)[:, None, None, None]
  # 0.999 keeps a stroke's end before the next stroke's start in the order.
  score = jnp.where(covered, index + 0.999 * position, jnp.inf)
  return jnp.min(score, axis=(0, 1))


def make_mask(key: jax.Array, kind: str, height: int, width: int, area) -> jax.Array:
  """One mask, float32 (H, W, 1) in {0, 1}; `area` (a float, may be traced) is the hole fraction."""
  if kind == "center":
    hole = _center(key, height, width, area)
  elif kind == "boxes":
    hole = _take_first(_box_scores(key, height, width), area)
  elif kind == "strokes":
    hole = _take_first(_stroke_scores(key, height, width), area)
  else:
    raise ValueError(f"unknown mask kind {kind!r}: choose one of {', '.join(KINDS)}")
  return hole.astype(jnp.float32)[..., None]


def _as_key(key_or_seed) -> jax.Array:
  if isinstance(key_or_seed, int):
    return jax.random.key(key_or_seed)
  return key_or_seed


def make_masks(key_or_seed, kind: str, batch: int, height: int, width: int, area: float) -> jax.Array:
  """`batch` masks of one kind: float32 (batch, H, W, 1); example i keyed by fold_in(key, i)."""
  key = _as_key(key_or_seed)
  keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(jnp.arange(batch))
  return jax.vmap(lambda k: make_mask(k, kind, height, width, area))(keys)


def random_masks(key_or_seed, kinds, batch: int, height: int, width: int,
                 min_area: float, max_area: float) -> jax.Array:
  """Training masks: per example a kind drawn uniformly from `kinds` and an area uniform in
  [min_area, max_area]. float32 (batch, H, W, 1)."""
  key = _as_key(key_or_seed)
  kinds = tuple(kinds)

  def one(i):
    k = jax.random.fold_in(key, i)
    k_kind, k_area, k_shape = jax.random.split(k, 3)
    area = jax.random.uniform(k_area, (), minval=min_area, maxval=max_area)
    choice = jax.random.randint(k_kind, (), 0, len(kinds))
    # All kinds are computed and one is selected: under vmap a switch would do the same.
    candidates = jnp.stack([make_mask(k_shape, kind, height, width, area) for kind in kinds])
    return candidates[choice]
  return jax.vmap(one)(jnp.arange(batch))


def area_fraction(masks: jax.Array) -> jax.Array:
  """(B, H, W, 1) masks -> (B,) fraction of pixels in the hole."""
  return jnp.mean(masks, axis=(1, 2, 3))
