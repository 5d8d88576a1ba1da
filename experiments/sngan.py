"""Train an SNGAN (Miyato et al. 2018): ResNet, hinge loss, spectral norm.

    python -m experiments.sngan --workdir=runs/sngan [--config.x=v]
    python -m experiments.sngan --config=experiments/configs/sngan.py:smoke --workdir=/tmp/sngan-smoke
"""
from experiments import common

if __name__ == "__main__":
  common.main("sngan")
