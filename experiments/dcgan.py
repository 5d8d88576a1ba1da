"""Train a DCGAN (Radford et al. 2016), by default on the embedded MNIST digits.

    python -m experiments.dcgan --workdir=runs/dcgan [--config=experiments/configs/dcgan.py:smoke] [--config.x=v]
"""
from experiments import common

if __name__ == "__main__":
  common.main("dcgan")
