"""Train a WGAN (Arjovsky et al. 2017): weight clipping, RMSProp, 5 critic steps.

    python -m experiments.wgan --workdir=runs/wgan [--config.x=v]
    python -m experiments.wgan --config=experiments/configs/wgan.py:smoke --workdir=/tmp/wgan-smoke
"""
from experiments import common

if __name__ == "__main__":
  common.main("wgan")
