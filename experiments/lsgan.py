"""Train an LSGAN (Mao et al. 2017): least-squares loss.

    python -m experiments.lsgan --workdir=runs/lsgan [--config.x=v]
    python -m experiments.lsgan --config=experiments/configs/lsgan.py:smoke --workdir=/tmp/lsgan-smoke
"""
from experiments import common

if __name__ == "__main__":
  common.main("lsgan")
