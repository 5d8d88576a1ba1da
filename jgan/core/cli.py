"""Shared plumbing of the `python -m experiments.*` entry points.

`run(main)` runs an absl main so that a user's mistake (a bad flag, an unknown
config field, a missing folder, ...) prints one line `error: ...` and exits
with status 2, never a traceback; Ctrl-C after a checkpoint exits with 130.
"""
from __future__ import annotations

import sys
from typing import Callable

from absl import app, flags, logging

from jgan.core.errors import UserError


def _parse_flags(argv):
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    # absl's message for an unknown --config.x names the field; keep its first line.
    message = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)
  except (ValueError, KeyError, AttributeError, TypeError) as e:
    # ml_collections' config_flags raise these while loading/overriding a config.
    print(f"error: bad --config: {str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__}",
          file=sys.stderr)
    sys.exit(2)


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
  from jgan.train.hooks import NonFiniteError
  from jgan.train.loop import Interrupted

  def wrapped(argv):
    # orbax and tfds log every file operation at INFO; keep the console for progress lines.
    logging.set_verbosity(logging.WARNING)
    try:
      maybe_initialize_distributed()
      return main(argv)
    except NonFiniteError as e:
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
  app.run(wrapped, flags_parser=_parse_flags)
