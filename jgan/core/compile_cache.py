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
recently used entries go first). A folder that cannot be created or written
turns the cache off with one warning; the run goes on.
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
  if "JAX_COMPILATION_CACHE_MAX_SIZE" not in environ:
    jax.config.update("jax_compilation_cache_max_size", MAX_BYTES)
  return path
