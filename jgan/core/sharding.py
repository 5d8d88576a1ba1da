"""The device mesh for data parallelism (jit over a Mesh with NamedSharding).

One axis, "data": each device holds a slice of the global batch and a full
replica of the state. This is the modern form of pmap: the same program runs
unchanged on 1 CPU, 8 GPUs or a TPU slice, and multi-host runs simply see more
devices after `jax.distributed.initialize()`.
"""
from __future__ import annotations

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from jgan.core.errors import UserError


def is_main_process() -> bool:
  """Process 0 of a multi-host run: the one that writes logs and pictures and renames files in the shared
  workdir (every process checkpoints: orbax coordinates its own writes). True in a single-process run."""
  return jax.process_index() == 0


def barrier(name: str) -> None:
  """Waits until every process of a multi-host run reaches the barrier `name` (a no-op with one process):
  after process 0 changes files that every process reads next."""
  if jax.process_count() > 1:
    from jax.experimental import multihost_utils
    multihost_utils.sync_global_devices(name)


def make_mesh(num_devices: int = 0) -> Mesh:
  """A 1D mesh over the first `num_devices` devices (0 = all of them)."""
  devices = jax.devices()
  if num_devices:
    if num_devices > len(devices):
      raise UserError(f"config.train.num_devices={num_devices} but only {len(devices)} devices are visible")
    devices = devices[:num_devices]
  return Mesh(np.array(devices), ("data",))


def replicated(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P())


def batch_sharded(mesh: Mesh) -> NamedSharding:
  return NamedSharding(mesh, P("data"))


def shard_batch(x):
  """Constrains `x` (batch on axis 0) to be split over the "data" axis of the mesh set by `jax.set_mesh`.

  Arrays that the step creates itself (latent batches, noise, masks) have no
  input sharding to inherit; without this XLA may compute, e.g., the whole
  generator pass redundantly on every device. Outside a mesh context it is the
  identity, so models and steps also run unsharded (sampling, tests).
  """
  mesh = jax.sharding.get_abstract_mesh()
  if mesh.empty or "data" not in mesh.axis_names:
    return x
  return jax.tree.map(lambda a: jax.lax.with_sharding_constraint(a, P("data")), x)
