"""One PRNG discipline for the whole library.

A run has one integer seed (config.seed). Every purpose gets its own stream,
derived by name, and every training step folds its step number into the
training stream, so keys are never reused and a resumed run draws exactly what
an uninterrupted one would.

    root = jax.random.key(seed)
    init_key   = named(root, "init")
    step_key   = jax.random.fold_in(named(root, "train"), step)
    d_latent   = named(step_key, "d_latent")
"""
from __future__ import annotations

import zlib

import jax


def name_to_int(name: str) -> int:
  """A stable 31-bit integer for a purpose name (Python's hash() is salted per process)."""
  return zlib.crc32(name.encode("utf-8")) & 0x7FFFFFFF


def named(key: jax.Array, name: str) -> jax.Array:
  """The sub-key of `key` reserved for `name`."""
  return jax.random.fold_in(key, name_to_int(name))


def step_key(root: jax.Array, step) -> jax.Array:
  """The key of training step `step` (an int or a traced scalar)."""
  return jax.random.fold_in(named(root, "train"), step)
