"""Checkpoints through orbax's CheckpointManager, with nothing ever lost.

* Saves are asynchronous: orbax copies the arrays to host memory before `save`
  returns (so the next step may donate the device buffers) and writes in the
  background. Each save lands in a temporary folder renamed into place when
  complete, so a kill mid-save leaves the previous checkpoint intact; leftover
  temporary folders are removed on the next start (cleanup_tmp_directories).
* Only the newest `keep` checkpoints are kept (orbax LatestN).
* `restore_latest` walks back from the newest step when one is unreadable
  (a truncated copy, a disk that filled up), saying which step it skipped.
* Arrays are restored with the shardings of the *current* mesh, so a run saved
  on 4 devices resumes on 1 and vice versa.
"""
from __future__ import annotations

import logging
import os
from typing import Any

import jax
import orbax.checkpoint as ocp

from jgan.core.errors import UserError

log = logging.getLogger(__name__)


class Checkpointer:
  def __init__(self, directory: str, keep: int = 3, use_async: bool = True):
    self.directory = os.path.abspath(directory)
    options = ocp.CheckpointManagerOptions(
        preservation_policy=ocp.checkpoint_managers.LatestN(keep),
        enable_async_checkpointing=use_async,
        cleanup_tmp_directories=True,
        create=True)
    self.manager = ocp.CheckpointManager(self.directory, options=options)

  def steps(self) -> list[int]:
    return sorted(self.manager.all_steps())

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state: Any) -> None:
    """Starts saving `state` as `step` (returns once the arrays are on the host)."""
    if step in self.manager.all_steps():
      return
    self.manager.save(step, args=ocp.args.StandardSave(state), force=True)

  def restore(self, step: int, abstract_state: Any) -> Any:
    return self.manager.restore(step, args=ocp.args.StandardRestore(abstract_state))

  def restore_latest(self, abstract_state: Any) -> Any | None:
    """The newest readable checkpoint as a state like `abstract_state`, or None if there is none."""
    steps = self.steps()
    errors = []
    for step in reversed(steps):
      try:
        return self.restore(step, abstract_state)
      except Exception as e:  # orbax raises many types for damaged files
        errors.append(f"step {step}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        log.warning("checkpoint step %d in %s is unreadable (%s); trying an older one", step, self.directory, e)
        print(f"warning: checkpoint step {step} in {self.directory} is unreadable; trying an older one", flush=True)
    if steps:
      raise UserError(f"no readable checkpoint in {self.directory} ({'; '.join(errors)}): "
                      "it may not belong to this config; use a new --workdir")
    return None

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.wait_until_finished()
    self.manager.close()


def abstract_like(tree: Any, sharding) -> Any:
  """ShapeDtypeStructs of `tree` (arrays or ShapeDtypeStructs) placed with `sharding`."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)
