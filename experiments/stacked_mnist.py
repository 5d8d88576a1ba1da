"""Train a GAN on Stacked MNIST (1000 modes), then count the modes of 26,000 samples.

    python -m experiments.stacked_mnist --workdir=runs/stacked_mnist
    python -m experiments.stacked_mnist --config=experiments/configs/stacked_mnist.py:dcgan --workdir=runs/sm_dcgan

Writes workdir/stacked_mnist.json: {"modes": modes hit of 1000, "kl": KL(mode histogram || uniform), ...}.
"""
from experiments import common


def report(config, workdir, state):
  del state
  from jgan.bench import stacked
  stacked.report(config, workdir)


if __name__ == "__main__":
  common.main("stacked_mnist", after=report)
