"""Train an inpainter: python -m experiments.inpaint --workdir=DIR [--config=...:smoke|cifar] [--config.x=v]."""
from absl import flags
from ml_collections import config_flags

from jgan import cli
from jgan.train.run import train

_CONFIG = config_flags.DEFINE_config_file("config", "experiments/configs/inpaint.py", "Experiment config.",
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string("workdir", "runs/inpaint", "Run directory (resumed if it holds a run).")


def main(argv):
  del argv
  train(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
  cli.run(main)
