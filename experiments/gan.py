"""Train the 2014 GAN (Goodfellow et al.): MLP G and D.

    python -m experiments.gan --workdir=runs/gan [--config.x=v]
    python -m experiments.gan --config=experiments/configs/gan.py:smoke --workdir=/tmp/gan-smoke
"""
from experiments import common

if __name__ == "__main__":
  common.main("gan")
