"""Two unpaired image domains for one run (CycleGAN): `config.data.source_a` and `config.data.source_b`.

    source = open_unpaired(config.data, seed)       # an UnpairedSource (a Source of domain A, plus B)
    feeder = make_feeder(source, config.data, B, mesh, seed)   # -> UnpairedFeeder (via source.make_feeder)

A domain is named by one string:
  * `mnist10k_a` / `mnistm10k_b`, the built-in digit domains (`jgan.data.synthetic`), optionally
    `NAME:SPLIT` with SPLIT train | test | all (default: config.data.split);
  * `cifar_photo_a` / `cifar_styled_b`, CIFAR-10 photos and stylised photos read from
    config.data.style_root (`jgan.data.stylise`), optionally `NAME:SPLIT` with SPLIT train | test;
  * a folder or a .zip of images (its `config.data.split` subfolder when present);
  * a tensorflow-datasets name, optionally `NAME:SPLIT`, e.g. `cycle_gan/horse2zebra:trainA`.
Both domains are read at config.data.resolution and config.data.channels.

Batches: {"x": domain A (B, H, W, C), "x_b": domain B (B, H, W, C), "label": A's labels}, each
sharded over the mesh like any batch. The two domains are drawn by two ordinary feeders
(`jgan.data.pipeline`), each with its own permutation per epoch: A's keyed by the run's seed
(exactly the batches a GAN on A alone would see), B's by `domain_seed(seed)`. So the pairing of
A and B examples changes every epoch, and the batch of step s is still a function of (seed, s):
resuming is exact. Both feeders live on the device, or both on the host (one of them too big for
the device puts both on the host), so a step's input has one kind.

`UnpairedSource.read(indices)` (what the sample grid and the checks read) returns A's examples at
`indices` and B's at `indices % len(B)` under "x_b".
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import types
import zlib
from typing import Any

import jax
import numpy as np

from jgan.core.errors import UserError
from jgan.data import pipeline, sources, stylise, synthetic


def data_like(data_config, **changes):
  """A copy of config.data (a ConfigDict or namespace) with `changes`, as a namespace."""
  fields = {k: data_config[k] for k in data_config.keys()} if hasattr(data_config, "keys") else vars(data_config)
  return types.SimpleNamespace(**{**fields, **changes})


def _builtin_source(name: str, split: str, data_config) -> sources.Source:
  if split not in synthetic.SPLITS:
    raise UserError(f"built-in domain {name!r} has no split {split!r}: use {name}:train, {name}:test or "
                    f"{name}:all")
  images, labels = synthetic.load_domain(name, split)
  resolution, channels = data_config.resolution, data_config.channels
  fitted = np.stack([sources.fit_array(image, resolution, channels) for image in images])

  def read(indices: np.ndarray) -> dict:
    indices = np.asarray(indices)
    return {"x": fitted[indices], "label": labels[indices]}
  return sources.Source(name=f"{name}:{split}", length=len(fitted), element_shape=fitted.shape[1:],
                        dtype=np.dtype(np.uint8), num_classes=10, read=read,
                        fingerprint=synthetic.fingerprint(name, split))


def style_root(path: str) -> str:
  """config.data.style_root as given when it exists; a relative path that does not exist from the working
  folder is also looked up from the folder holding the jgan package (its default, ../shared/..., is relative
  to a checkout), so the style task runs from any folder of a checkout. Otherwise `path` unchanged (the
  source then says it is missing)."""
  if os.path.exists(path) or os.path.isabs(path):
    return path
  checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  candidate = os.path.normpath(os.path.join(checkout, path))
  return candidate if os.path.exists(candidate) else path


def _style_source(name: str, split: str, data_config) -> sources.Source:
  if split not in stylise.SPLITS:
    raise UserError(f"built-in domain {name!r} has no split {split!r}: use {name}:train or {name}:test")
  if data_config.channels != 3:
    raise UserError(f"built-in domain {name!r} is RGB: set config.data.channels=3 (got {data_config.channels})")
  limit = data_config.domain_limit
  if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
    raise UserError(f"config.data.domain_limit={limit!r} must be an integer >= 0 (0 = the whole domain)")
  photos = sources.open_source(data_like(data_config, source=style_root(data_config.style_root), split=split))
  indices = stylise.domain_indices(name, split, photos.length, limit)
  styled = name == stylise.DOMAINS[1]

  def read(which: np.ndarray) -> dict:
    records = photos.read(indices[np.asarray(which)])
    return {"x": stylise.stylise(records["x"]) if styled else records["x"], "label": records["label"]}
  text = f"{name}:{split}:{limit}:{photos.fingerprint}:{stylise.PERMUTATION_SEED}"
  return sources.Source(name=f"{name}:{split}", length=len(indices), element_shape=photos.element_shape,
                        dtype=np.dtype(np.uint8), num_classes=photos.num_classes, read=read,
                        fingerprint=hashlib.sha256(text.encode()).hexdigest()[:16])


def open_domain(spec: str, data_config, which: str = "config.data.source_a") -> sources.Source:
  """The Source named by `spec` (see the module docstring); `which` names the field in errors."""
  spec = str(spec)
  if not spec:
    raise UserError(f"{which} is empty: name a built-in domain ({', '.join(synthetic.DOMAINS)}), a folder, "
                    "a .zip or a tfds dataset")
  name, _, split = spec.partition(":")
  if name in synthetic.DOMAINS:
    return _builtin_source(name, split or data_config.split, data_config)
  if name in stylise.DOMAINS:
    return _style_source(name, split or data_config.split, data_config)
  path = os.path.expanduser(spec)
  if os.path.exists(path) or spec.startswith(("/", ".", "~")) or spec.lower().endswith(".zip"):
    return sources.open_source(data_like(data_config, source=spec))
  return sources.open_tfds_source(data_like(data_config, source=name, split=split or data_config.split))


def domain_seed(seed: int) -> int:
  """The seed of domain B's shuffling: a fixed function of the run's seed, unrelated to A's order."""
  return zlib.crc32(f"jgan-domain-b:{seed}".encode()) & 0x7FFFFFFF


@dataclasses.dataclass
class UnpairedSource(sources.Source):
  """Domain A as a Source (name, length, shape, labels are A's), with domain B beside it."""
  a: Any = None
  b: Any = None

  def make_feeder(self, data_config, batch_size: int, mesh, seed: int) -> "UnpairedFeeder":
    return UnpairedFeeder(self, data_config, batch_size, mesh, seed)


def open_unpaired(data_config, seed: int = 0) -> UnpairedSource:
  """Domains `data_config.source_a` and `data_config.source_b` as one UnpairedSource."""
  del seed  # the built-in domains are fixed; the shuffles are keyed in the feeder
  a = open_domain(data_config.source_a, data_config, "config.data.source_a")
  b = open_domain(data_config.source_b, data_config, "config.data.source_b")
  for which, source in (("source_a", a), ("source_b", b)):
    if len(source.element_shape) != 3:
      raise UserError(f"config.data.{which}={source.name!r} holds points, not images")
  if a.element_shape != b.element_shape:
    raise UserError(f"the domains have different shapes: {a.element_shape} ({a.name}) and {b.element_shape} "
                    f"({b.name})")

  def read(indices: np.ndarray) -> dict:
    indices = np.asarray(indices)
    records = a.read(indices)
    return {"x": records["x"], "label": records["label"], "x_b": b.read(indices % b.length)["x"]}
  return UnpairedSource(name=f"{a.name} <-> {b.name}", length=a.length, element_shape=a.element_shape,
                        dtype=a.dtype, num_classes=a.num_classes, read=read,
                        fingerprint=f"{a.fingerprint}+{b.fingerprint}", a=a, b=b)


class UnpairedFeeder:
  """Two feeders, one per domain, behind the one feeder contract (see the module docstring)."""

  def __init__(self, source: UnpairedSource, data_config, batch_size: int, mesh, seed: int):
    placement = data_config.placement
    if placement == "auto":
      size = sum(s.length * int(np.prod(s.element_shape)) * s.dtype.itemsize for s in (source.a, source.b))
      placement = "device" if size <= data_config.device_max_bytes else "host"
    if placement not in ("device", "host"):
      raise UserError(f"config.data.placement={placement!r}: use 'auto', 'device' or 'host'")
    self.source = source
    self.seed, self.seed_b = seed, domain_seed(seed)
    if placement == "device":
      self.a = pipeline.DeviceFeeder(source.a, batch_size, mesh, seed)
      self.b = pipeline.DeviceFeeder(source.b, batch_size, mesh, self.seed_b)
    else:
      self.a = pipeline.HostFeeder(source.a, batch_size, mesh, seed, data_config.prefetch)
      self.b = pipeline.HostFeeder(source.b, batch_size, mesh, self.seed_b, data_config.prefetch)
    self.per_step_feed = self.a.per_step_feed

  def next_feed(self, step: int, count: int = 1) -> Any:
    return {"a": self.a.next_feed(step, count), "b": self.b.next_feed(step, count)}

  def make_batch(self, feed: Any, step: jax.Array, root_key: jax.Array) -> dict:
    """The step's batch; `root_key` (the run's) orders A, the key of `domain_seed` orders B."""
    a = self.a.make_batch(feed["a"], step, root_key)
    b = self.b.make_batch(feed["b"], step, jax.random.key(self.seed_b))
    return {"x": a["x"], "label": a["label"], "x_b": b["x"]}

  def close(self) -> None:
    self.a.close()
    self.b.close()
