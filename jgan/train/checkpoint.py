"""Checkpoints through orbax's CheckpointManager, with nothing ever lost.

* Saves are asynchronous: orbax copies the arrays to host memory before `save`
  returns (so the next step may donate the device buffers) and writes in the
  background. Each save lands in a temporary folder renamed into place when
  complete, so a kill mid-save leaves the previous checkpoint intact; leftover
  temporary folders are removed on the next start (cleanup_tmp_directories).
* Only the newest `keep` checkpoints are kept (orbax LatestN).
* `restore_latest` walks back from the newest step when one is unreadable
  (a truncated copy, a disk that filled up), printing one line per step it
  skips. With `move_aside=True` (training) each skipped step is renamed to
  `<step>.unreadable-<n>` (kept for inspection, never deleted) so that the run
  writes that step again; `save` does the same for an existing step that it
  cannot read.
* A save that fails (a full disk) raises a one-line `UserError` naming the
  step, the reason and the newest complete checkpoint, which stays intact.
* Arrays are restored with the shardings of the *current* mesh, so a run saved
  on 4 devices resumes on 1 and vice versa.

orbax reports a failed background write or an unreadable file with error logs
and tracebacks from its threads before the error reaches the caller; the
Checkpointer keeps those off the console (the caller gets one line) and drops
the "Event loop is closed" noise that tensorstore callbacks print afterwards.
"""
from __future__ import annotations

import contextlib
import errno
import glob
import json
import logging
import os
import re
import shutil
import sys
import threading
import traceback
from typing import Any

import jax
import orbax.checkpoint as ocp

from jgan.core.errors import UserError
from jgan.core.sharding import barrier, is_main_process

log = logging.getLogger(__name__)

UNREADABLE_INFIX = ".unreadable-"
_REASON_CHARS = 160


def _first_line(error: BaseException, limit: int = _REASON_CHARS) -> str:
  text = str(error).strip()
  first = text.splitlines()[0] if text else ""
  first = first.split(" [source locations=")[0].split(" [tensorstore_spec=")[0]
  if len(first) > limit:
    first = first[:limit - 3].rstrip() + "..."
  return f"{type(error).__name__}: {first}" if first else type(error).__name__


def classify_error(error: BaseException) -> tuple[str, str]:
  """(kind, one-line reason) for an orbax/tensorstore failure; kind is "space", "access", "damaged",
  "mismatch" (the arrays on disk are not those of the requested state) or "other"."""
  text = str(error)
  code = getattr(error, "errno", None)
  if "No space left on device" in text or "os_error_code='28'" in text or code in (errno.ENOSPC, errno.EDQUOT):
    return "space", "no space left on device"
  if code in (errno.EACCES, errno.EPERM, errno.EROFS):
    return "access", os.strerror(code).lower()
  if ("Structure mismatch" in text or "not compatible with the stored shape" in text
      or "tree structures do not match" in text or "not found in metadata" in text):
    return "mismatch", f"its arrays are not those of this model ({_first_line(error, 100)})"
  if ("DATA_LOSS" in text or isinstance(error, (UnicodeDecodeError, json.JSONDecodeError, EOFError, FileNotFoundError))
      or re.search(r"\b(OUT_OF_RANGE|INVALID_ARGUMENT|NOT_FOUND|FAILED_PRECONDITION)\b.*Error reading", text)
      or "corrupt" in text.lower() or "checksum" in text.lower()):
    where = re.search(r'Error reading "([^"]+)"', text)
    detail = f"cannot read {where.group(1)}" if where else _first_line(error, 100)
    return "damaged", f"damaged or missing files: {detail}"
  return "other", _first_line(error)


def describe_error(error: BaseException) -> str:
  """A short, one-line account of why orbax/tensorstore failed (their messages carry multi-KB specs)."""
  return classify_error(error)[1]


class _OrbaxConsoleFilter(logging.Filter):
  """Drops orbax's error records that the Checkpointer reports itself as one line.

  Always: records with a traceback through orbax (a background thread's failure,
  re-raised on the caller's thread; asyncio's "Future exception was never
  retrieved" for a write that failed with it), and asyncio's records of an
  unawaited tensorstore error. While restore attempts are under
  way: every orbax warning or error (the restore's exception says the same).
  """

  def __init__(self):
    super().__init__()
    self.restoring = 0

  def filter(self, record: logging.LogRecord) -> bool:
    if record.levelno < logging.WARNING:
      return True
    from_orbax = _ORBAX_PATH in record.pathname.replace(os.sep, "/")
    if from_orbax and self.restoring:
      return False
    if record.exc_info and record.exc_info[2] is not None:
      frames = traceback.extract_tb(record.exc_info[2])
      if from_orbax or any(_ORBAX_PATH in frame.filename.replace(os.sep, "/") for frame in frames):
        return False
    if record.name.startswith("asyncio") and _names_tensorstore(record):
      # A tensorstore read/write future whose error nobody awaited, garbage-collected at any later time
      # (even after the restore that raised the same error returned): its traceback holds no orbax frame.
      return False
    return True


def _names_tensorstore(record: logging.LogRecord) -> bool:
  error = record.exc_info[1] if record.exc_info else None
  return "tensorstore" in str(record.msg) or "tensorstore" in str(error)


_ORBAX_PATH = "/orbax/checkpoint/"
_FILTER = _OrbaxConsoleFilter()
_INSTALL_LOCK = threading.Lock()
_installed = False


def _quiet_event_loop_noise(unraisable) -> bool:
  exc = unraisable.exc_value
  return isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed"


def _install_console_filters() -> None:
  """Once per process: the orbax log filter and an unraisable hook that drops closed-event-loop callbacks."""
  global _installed
  with _INSTALL_LOCK:
    if _installed:
      return
    for name in ("absl", "asyncio"):
      logging.getLogger(name).addFilter(_FILTER)
    previous = sys.unraisablehook

    def hook(unraisable):
      # tensorstore completes the futures of an aborted read/write after orbax closed their event loop.
      if not _quiet_event_loop_noise(unraisable):
        previous(unraisable)
    sys.unraisablehook = hook
    _installed = True


@contextlib.contextmanager
def _restoring():
  _FILTER.restoring += 1
  try:
    yield
  finally:
    _FILTER.restoring -= 1


class Checkpointer:
  def __init__(self, directory: str, keep: int = 3, use_async: bool = True):
    _install_console_filters()
    self.directory = os.path.abspath(directory)
    options = ocp.CheckpointManagerOptions(
        preservation_policy=ocp.checkpoint_managers.LatestN(keep),
        enable_async_checkpointing=use_async,
        cleanup_tmp_directories=True,
        create=True)
    with _restoring():  # reading the steps' metadata logs an error for a damaged one; restore says it once
      try:
        self.manager = ocp.CheckpointManager(self.directory, options=options)
      except OSError as e:
        raise UserError(f"cannot open the checkpoint folder {self.directory}: {describe_error(e)}") from None
    # orbax removes leftover temporary folders in a background thread; wait for it here, so that no exit
    # path (an error right after this) leaves it running into interpreter shutdown.
    self._await_cleanup()
    self._written: set[int] = set()   # steps this Checkpointer saved (saving one again is a no-op)
    self._pending: int | None = None  # the step of the save in flight
    self._last: int | None = None     # the step of the newest save started
    self._reported = False            # a failed save was raised already
    self._closed = False

  def _await_cleanup(self) -> None:
    wait = getattr(self.manager, "_maybe_await_cleanup_tmp_directory", None)
    if wait is not None:
      try:
        wait()
      except Exception as e:  # a leftover it could not remove: the next start tries again
        log.warning("could not remove temporary checkpoint folders in %s: %s", self.directory, describe_error(e))

  def steps(self) -> list[int]:
    return sorted(self.manager.all_steps())

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def _newest_complete(self, below: int | None = None) -> str:
    steps = [s for s in self.steps() if below is None or s < below]
    return f"the newest complete checkpoint, step {steps[-1]}, is intact" if steps else "no checkpoint was written yet"

  def _save_failed(self, step: int, error: BaseException) -> UserError:
    self._reported = True
    self._remove_partial(step)
    return UserError(f"could not write checkpoint step {step} to {self.directory}: {describe_error(error)}; "
                     f"{self._newest_complete(below=step)} (free space or fix the folder, then rerun to resume)")

  def _remove_partial(self, step: int) -> None:
    """Deletes what a failed save left of `step` (its temporary folder), freeing the space it took."""
    if not is_main_process():
      return
    for path in glob.glob(os.path.join(glob.escape(self.directory), f"{step}.orbax-checkpoint-tmp*")):
      shutil.rmtree(path, ignore_errors=True)

  def _check_previous_save(self) -> None:
    """Raises the failure of the save in flight, if it failed (waits for it)."""
    if self._pending is None:
      return
    step, self._pending = self._pending, None
    try:
      self.manager.wait_until_finished()
      check = getattr(self.manager, "check_for_errors", None)
      if check is not None:
        check()
    except Exception as e:
      self._written.discard(step)
      raise self._save_failed(step, e) from None

  def save(self, step: int, state: Any) -> None:
    """Starts saving `state` as `step` (returns once the arrays are on the host).

    Saving a step this Checkpointer already saved does nothing. A step already on
    disk from before that cannot be read back is moved aside and written again.
    """
    if step in self._written:
      return
    if step in self.manager.all_steps():
      if self._readable(step, state):
        return
      self.move_aside(step, "it cannot be read back")
    self._check_previous_save()
    try:
      self.manager.save(step, args=ocp.args.StandardSave(state), force=True)
    except Exception as e:
      raise self._save_failed(step, e) from None
    self._written.add(step)
    self._pending = self._last = step

  def _readable(self, step: int, like: Any) -> bool:
    """Whether checkpoint `step` reads back as a state like `like` (as saved, when `like` has odd leaves)."""
    try:
      abstract = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=getattr(x, "sharding", None)),
                              like)
    except (AttributeError, TypeError):
      abstract = None
    try:
      self._restore_quietly(step, abstract)
      return True
    except Exception:  # noqa: BLE001 - any failure to read it back means it is not a usable checkpoint
      return False

  def move_aside(self, step: int, reason: str) -> str | None:
    """Renames the folder of `step` to `<step>.unreadable-<n>` (kept, never deleted); returns the new path."""
    source = os.path.join(self.directory, str(step))
    target = None
    if is_main_process() and os.path.isdir(source):
      n = 1
      while os.path.exists(os.path.join(self.directory, f"{step}{UNREADABLE_INFIX}{n}")):
        n += 1
      target = os.path.join(self.directory, f"{step}{UNREADABLE_INFIX}{n}")
      os.rename(source, target)
      print(f"warning: checkpoint step {step} in {self.directory} is unreadable ({reason}); moved it to {target} "
            f"and will write step {step} again", flush=True)
    barrier(f"jgan_checkpoint_moved_aside_{step}")   # every process reloads only after process 0 renamed it
    self.manager.reload()
    return target

  def restore(self, step: int, abstract_state: Any) -> Any:
    return self.manager.restore(step, args=ocp.args.StandardRestore(abstract_state))

  def _restore_quietly(self, step: int, abstract_state: Any) -> Any:
    with _restoring():
      return self.restore(step, abstract_state)

  def restore_latest(self, abstract_state: Any, move_aside: bool = False) -> Any | None:
    """The newest readable checkpoint as a state like `abstract_state`, or None if there is none.

    Prints one line per unreadable step it skips; with `move_aside` those steps are also
    renamed to `<step>.unreadable-<n>` so that training writes them again.
    """
    steps = self.steps()
    skipped: list[tuple[int, str, str]] = []
    for step in reversed(steps):
      try:
        state = self._restore_quietly(step, abstract_state)
      except Exception as e:  # orbax raises many types for damaged files
        skipped.append((step, *classify_error(e)))
        log.debug("checkpoint step %d in %s is unreadable", step, self.directory, exc_info=True)
        continue
      for bad, _, reason in skipped:
        if move_aside:
          self.move_aside(bad, f"{reason}; resuming from step {step}")
        else:
          print(f"warning: checkpoint step {bad} in {self.directory} is unreadable ({reason}); using step {step}",
                flush=True)
      return state
    if steps:
      found = "; ".join(f"step {step}: {reason}" for step, _, reason in skipped)
      kinds = {kind for _, kind, _ in skipped}
      if kinds == {"mismatch"}:
        todo = ("they were written for another model or another jgan version: use a new --workdir (or the jgan "
                "version that wrote them)")
      elif kinds == {"damaged"}:
        todo = "every one is damaged: move the checkpoints folder away to start over, or use a new --workdir"
      else:
        todo = "move the checkpoints folder away to start over, or use a new --workdir"
      raise UserError(f"none of the {len(steps)} checkpoints in {self.directory} can be read ({found}); {todo}")
    return None

  def wait(self) -> None:
    self._check_previous_save()

  def close(self) -> None:
    """Waits for the save in flight and shuts orbax's threads down, also when that save failed
    (then raises its one-line UserError, after everything is shut down)."""
    if self._closed:
      return
    self._closed = True
    error = None
    try:
      self._check_previous_save()
    except UserError as e:
      error = e
    try:
      self.manager.close()
    except Exception as e:  # the failed save again: orbax re-raises it until its threads are gone
      _close_internals(self.manager)
      if error is None and not self._reported:
        error = self._save_failed(self._last if self._last is not None else -1, e)
    if error is not None:
      raise error

  def __enter__(self) -> Checkpointer:
    return self

  def __exit__(self, *exc) -> None:
    if exc[0] is None:
      self.close()
    else:  # an error is on its way already: shut down without replacing it
      try:
        self.close()
      except UserError:
        pass


def _close_internals(manager) -> None:
  """What CheckpointManager.close does after waiting, for a manager whose last save failed."""
  for name in ("_checkpointer", "_non_blocking_metadata_store", "_blocking_metadata_store", "_checkpoint_deleter"):
    part = getattr(manager, name, None)
    if part is None:
      continue
    try:
      if name == "_checkpointer" and hasattr(part, "_async_manager"):
        part._async_manager._exception = None  # already reported
      part.close()
    except Exception:  # noqa: BLE001 - best effort: the error was reported already
      pass


def abstract_like(tree: Any, sharding) -> Any:
  """ShapeDtypeStructs of `tree` (arrays or ShapeDtypeStructs) placed with `sharding`."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding), tree)
