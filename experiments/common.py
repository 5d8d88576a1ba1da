"""The shared body of the `python -m experiments.<name>` training entry points.

    python -m experiments.<name> --workdir=runs/<name> [--config=experiments/configs/<name>.py:smoke] [--config.x=v]

Each entry point is `common.main("<name>")`: the config file of the same name,
the workdir runs/<name> by default, and jgan.train.run.train, the one loop every
family shares. `after(config, workdir, state)` runs extra reporting once training ends.
"""
from __future__ import annotations

from typing import Any, Callable

from absl import flags
from ml_collections import config_flags

from jgan.core import cli


def main(name: str, after: Callable[[Any, str, Any], None] | None = None) -> None:
  config = config_flags.DEFINE_config_file("config", f"experiments/configs/{name}.py", "Experiment config.",
                                           lock_config=True)
  workdir = flags.DEFINE_string("workdir", f"runs/{name}", "Run directory (resumed if it holds a run).")

  def run(argv):
    del argv
    from jgan.train.run import train  # after flag parsing: a bad flag costs no JAX import
    state = train(config.value, workdir.value)
    if after is not None:
      after(config.value, workdir.value, state)
  cli.run(run)
