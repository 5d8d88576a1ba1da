"""Train a StyleGAN2-style generator (Karras et al. 2020) with its residual D.

    python -m experiments.stylegan --workdir=runs/stylegan [--config.x=v]
    python -m experiments.stylegan --config=experiments/configs/stylegan.py:smoke --workdir=/tmp/stylegan-smoke
"""
from experiments import common

if __name__ == "__main__":
  common.main("stylegan")
