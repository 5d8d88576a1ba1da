"""Shared plumbing of the `python -m experiments.*` entry points.

`run(main)` runs an absl main so that a user's mistake (a bad flag, an unknown
config field, a missing folder, ...) prints one line `error: ...` and exits
with status 2, never a traceback; Ctrl-C after a checkpoint exits with 130.
"""
from __future__ import annotations

import errno
import os
import re
import sys
import traceback
from typing import Callable

from absl import app, flags, logging

from jgan.core import compile_cache
from jgan.core.errors import UserError

# Errors of the machine, not of jgan: a full disk, a read-only or forbidden folder. One line, exit 2.
_ENVIRONMENT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}


def describe_os_error(e: OSError) -> str:
  """`<what failed>: <path>` and, for a full disk, what to do."""
  what = e.strerror or os.strerror(e.errno or 0)
  path = f": {e.filename}" if e.filename else ""
  hint = ""
  if e.errno in (errno.ENOSPC, errno.EDQUOT):
    hint = " (free some space and rerun the same command: finished checkpoints and samples are kept)"
  return f"{what}{path}{hint}"


def _reason(e: BaseException) -> str:
  """One line for an error raised while parsing flags or loading a config file.

  ml_collections puts the whole traceback of a failing get_config() into the message
  ("...: Error whilst parsing config file:\n\nTraceback ..."): its last line says why.
  """
  text = str(e).strip()
  if not text:
    return type(e).__name__
  lines = [line.strip() for line in text.splitlines() if line.strip()]
  if lines[0].startswith("Configuration is not available because of an earlier failure to load"):
    return f"cannot load the config file: {lines[-1]}"  # config_flags' deferred error for a missing file
  if "Traceback (most recent call last)" in text or "Error whilst parsing config file" in lines[0]:
    head = lines[0].replace("Error whilst parsing config file:", "").strip().rstrip(":")
    last = re.sub(r"^(ValueError|TypeError): ", "", lines[-1])
    return f"{head}: {last}" if head else last
  return lines[0]


def _config_load_error(flag_values) -> str | None:
  """The reason a config file flag could not load its file, or None.

  config_flags defers a missing or unreadable config file: the flag's value is a
  placeholder that raises on first use, deep inside the run.
  """
  for name in flag_values:
    value = flag_values[name].value
    if type(value).__name__ == "_ErrorConfig":
      error = object.__getattribute__(value, "_error")
      lines = [line.strip() for line in str(error).splitlines() if line.strip()]
      return f"--{name}: cannot load the config file: " + (lines[-1] if lines else type(error).__name__)
  return None


def _parse_flags(argv):
  try:
    remaining = flags.FLAGS(argv)
  except flags.Error as e:
    # absl's message for an unknown --config.x names the field; keep its first line.
    print(f"error: {_reason(e)}", file=sys.stderr)
    sys.exit(2)
  except (ValueError, KeyError, AttributeError, TypeError, OSError) as e:
    # ml_collections' config_flags raise these while loading/overriding a config.
    problem = _config_load_error(flags.FLAGS)  # an override of a config file that did not load
    inner = e.args[0] if e.args and isinstance(e.args[0], BaseException) else e
    if isinstance(inner, KeyError) and inner.args:
      reason = f"unknown config field {str(inner.args[0]).strip(chr(39) + chr(34))!r}"
    else:
      reason = _reason(inner)
    print(f"error: {problem or f'bad --config: {reason}'}", file=sys.stderr)
    sys.exit(2)
  except Exception as e:  # noqa: BLE001 - a config file that fails to import (SyntaxError, NameError, ...)
    where = traceback.extract_tb(e.__traceback__)[-1] if e.__traceback__ else None
    at = f" ({where.filename}:{where.lineno})" if where and not isinstance(e, SyntaxError) else ""
    print(f"error: bad --config: {type(e).__name__}: {_reason(e)}{at}", file=sys.stderr)
    sys.exit(2)
  problem = _config_load_error(flags.FLAGS)
  if problem:
    print(f"error: {problem}", file=sys.stderr)
    sys.exit(2)
  return remaining


def maybe_initialize_distributed() -> None:
  """Joins a multi-host job when launched as one (before any JAX computation).

  `jax.distributed.initialize()` finds the coordinator itself on Cloud TPU pods and
  under SLURM; elsewhere set JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and
  JAX_PROCESS_ID on every host. A single-host run does nothing here.
  """
  import os
  multi_host = (os.environ.get("JAX_COORDINATOR_ADDRESS")
                or int(os.environ.get("SLURM_NTASKS", "1") or 1) > 1
                or "," in os.environ.get("TPU_WORKER_HOSTNAMES", ""))
  if multi_host:
    import jax
    jax.distributed.initialize()
    print(f"process {jax.process_index()}/{jax.process_count()}: {jax.local_device_count()} local of "
          f"{jax.device_count()} devices", flush=True)


def run(main: Callable) -> None:
  from jgan.train.hooks import DivergenceError
  from jgan.train.loop import Interrupted

  def wrapped(argv):
    # orbax and tfds log every file operation at INFO; keep the console for progress lines.
    logging.set_verbosity(logging.WARNING)
    try:
      maybe_initialize_distributed()
      compile_cache.enable()  # before the first compilation: a rerun or a resume reads the step back
      return main(argv)
    except DivergenceError as e:  # non-finite values or a blow-up the run could not recover from
      print(f"error: {e}", file=sys.stderr)
      sys.exit(3)
    except UserError as e:
      print(f"error: {e}", file=sys.stderr)
      sys.exit(2)
    except Interrupted as e:
      print(str(e), file=sys.stderr)
      sys.exit(130)
    except KeyboardInterrupt:
      print("aborted without saving", file=sys.stderr)
      sys.exit(130)
    except OSError as e:
      if e.errno not in _ENVIRONMENT_ERRNOS:
        raise
      print(f"error: {describe_os_error(e)}", file=sys.stderr)
      sys.exit(2)
  app.run(wrapped, flags_parser=_parse_flags)
