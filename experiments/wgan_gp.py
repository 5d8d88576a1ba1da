"""Train a WGAN-GP (Gulrajani et al. 2017): gradient penalty 10, 5 critic steps.

    python -m experiments.wgan_gp --workdir=runs/wgan_gp [--config.x=v]
    python -m experiments.wgan_gp --config=experiments/configs/wgan_gp.py:smoke --workdir=/tmp/wgan_gp-smoke
"""
from experiments import common

if __name__ == "__main__":
  common.main("wgan_gp")
