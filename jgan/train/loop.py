"""The one training loop, shared by every GAN family.

It knows nothing about GANs: it runs a jitted `step_fn(state, feed, step) ->
(state, metrics)` from `start` to `num_steps`, asks the feeder for each step's
input, calls the hooks, and turns Ctrl-C / SIGTERM into "checkpoint, then
exit". Everything else (logging, samples, checkpoints, evaluation, EMA
snapshots) is a hook.
"""
from __future__ import annotations

import signal
import threading
from typing import Any, Callable, Sequence

from jgan.train.hooks import Hook


class Interrupted(Exception):
  """Raised after the loop saved a checkpoint in response to SIGINT/SIGTERM."""

  def __init__(self, step: int):
    super().__init__(f"interrupted: saved a checkpoint at step {step}; rerun the same command to resume")
    self.step = step


class _StopRequest:
  """First SIGINT/SIGTERM: finish the current step, checkpoint, stop. Second: stop at once."""

  def __init__(self):
    self.requested = False
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread():
      for sig in (signal.SIGINT, signal.SIGTERM):
        self._previous[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame):
    if self.requested:
      raise KeyboardInterrupt
    self.requested = True
    print("\nstopping: saving a checkpoint after this step (Ctrl-C again to abort without saving)", flush=True)

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)
    return False


def run_loop(state: Any, step_fn: Callable[[Any, Any, int], tuple[Any, dict]], next_feed: Callable[[int], Any],
             start: int, num_steps: int, hooks: Sequence[Hook],
             save: Callable[[int, Any], None] | None = None, steps_per_call: int = 1) -> Any:
  """Runs steps start+1 .. num_steps, `steps_per_call` per call of `step_fn`; returns the final state.

  Args:
    state: the training state at step `start`.
    step_fn: (state, feed, step) -> (state, metrics), jitted with the state donated; step is the state's.
    next_feed: step -> the input of the call starting at `step` (batches, or the on-device dataset).
    hooks: called after each step where due.
    save: (step, state) -> None, used to checkpoint on interruption.
  """
  for hook in hooks:
    hook.start(start)
  with _StopRequest() as stop:
    for step in range(start, num_steps, steps_per_call):
      state, metrics = step_fn(state, next_feed(step), step)
      done = step + steps_per_call
      for hook in hooks:
        if hook.due(done, num_steps):
          hook(done, state, metrics)
      if stop.requested and done < num_steps:
        if save is not None:
          save(done, state)
        raise Interrupted(done)
  return state
