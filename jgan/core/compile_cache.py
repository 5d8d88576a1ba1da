"""JAX's persistent compilation cache, on by default for every `python -m experiments.*` run.

Every run pays XLA compilation before its first step (tens of seconds on a CPU
for the default DCGAN step), and a resumed run used to pay it again. With the
cache, a program compiled once on this machine (same jax/jaxlib, same device,
same shapes and config) is read back from disk instead.

Where it lives (first match wins):
  JGAN_COMPILATION_CACHE=off (or 0, false, no)  no cache
  JGAN_COMPILATION_CACHE=/some/dir              that folder
  JAX_COMPILATION_CACHE_DIR=/some/dir           JAX's own setting, left as it is
  otherwise                                     $XDG_CACHE_HOME/jgan/xla (~/.cache/jgan/xla)

The folder is only a cache: deleting it (`rm -rf ~/.cache/jgan/xla`) at any time
costs one recompilation and nothing else. It is capped at MAX_BYTES (least
recently used entries go first; the cap needs the `filelock` package, a
dependency). A folder that cannot be created or written turns the cache off
with one warning; the run goes on.
"""
from __future__ import annotations

import os
import sys

ENV = "JGAN_COMPILATION_CACHE"
OFF_VALUES = ("0", "off", "false", "no", "none")
# Programs that compile faster than this are not worth a file read (the step
# compiles in seconds; tiny helper programs in milliseconds).
MIN_COMPILE_SECONDS = 0.2
MAX_BYTES = 4 * 1024 ** 3


def default_dir(environ=os.environ) -> str:
  base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
  return os.path.join(base, "jgan", "xla")


def resolve(environ=os.environ) -> str | None:
  """The cache folder this process should use, or None for no cache (see the module docstring)."""
  value = environ.get(ENV, "").strip()
  if value.lower() in OFF_VALUES:
    return None
  if value:
    return os.path.abspath(os.path.expanduser(value))
  if environ.get("JAX_COMPILATION_CACHE_DIR"):
    return environ["JAX_COMPILATION_CACHE_DIR"]
  return default_dir(environ)


def enable(environ=os.environ) -> str | None:
  """Points JAX at the cache folder (call before the first compilation); returns it, or None when off."""
  import jax
  path = resolve(environ)
  if path is None:
    return None
  try:
    os.makedirs(path, exist_ok=True)
    if not os.access(path, os.W_OK | os.X_OK):
      raise PermissionError(f"not writable: {path}")
  except OSError as e:
    print(f"warning: compilation cache off ({e}); set {ENV}=<writable folder> or {ENV}=off", file=sys.stderr)
    return None
  jax.config.update("jax_compilation_cache_dir", path)
  # JAX's own environment settings, when a user gave them, win over ours.
  if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in environ:
    jax.config.update("jax_persistent_cache_min_compile_time_secs", MIN_COMPILE_SECONDS)
  if "JAX_COMPILATION_CACHE_MAX_SIZE" not in environ and _has_filelock():
    backfill_access_times(path)
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
  return path


# JAX's size-capped cache (jax._src.lru_cache) stores entry KEY as KEY-cache plus KEY-atime, the last use in
# nanoseconds as 8 little-endian bytes.
CACHE_SUFFIX, ATIME_SUFFIX = "-cache", "-atime"


def backfill_access_times(path: str) -> int:
  """Gives every entry of the cache folder that has no access-time file one (its file's mtime); returns how many.

  An uncapped cache (JAX's default, or jgan without `filelock`) writes entries without access times, and the
  capped cache's eviction reads the access time of EVERY entry before each write: one entry without it makes
  every later write fail ("Error writing persistent compilation cache entry ... -atime"), so a cache made
  before the cap was on would never take a new program again."""
  added = 0
  try:
    names = set(os.listdir(path))
  except OSError:
    return 0
  for name in names:
    if not name.endswith(CACHE_SUFFIX):
      continue
    atime = name[:-len(CACHE_SUFFIX)] + ATIME_SUFFIX
    if atime in names:
      continue
    try:
      stamp = os.stat(os.path.join(path, name)).st_mtime_ns
      with open(os.path.join(path, atime), "wb") as f:
        f.write(stamp.to_bytes(8, "little"))
      added += 1
    except OSError:   # removed meanwhile by another process's eviction, or a read-only entry: nothing to fix
      continue
  return added


def _has_filelock() -> bool:
  """JAX's size cap locks the folder with the `filelock` package (a jgan dependency); without it every cache
  READ fails ("Please install the `filelock` package"), so an install that lacks it keeps an uncapped cache
  that works rather than a capped one that is never read."""
  import importlib.util
  return importlib.util.find_spec("filelock") is not None
