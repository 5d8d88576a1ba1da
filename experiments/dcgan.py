"""Train a DCGAN: python -m experiments.dcgan --workdir=runs/dcgan [--config=...:smoke] [--config.x=v]."""
from absl import flags
from ml_collections import config_flags

from jgan import cli
from jgan.train.run import train

_CONFIG = config_flags.DEFINE_config_file("config", "experiments/configs/dcgan.py", "Experiment config.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "runs/dcgan", "Run directory (resumed if it holds a run).")


def main(argv):
  del argv
  train(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  cli.run(main)
