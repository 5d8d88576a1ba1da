"""Train an inpainter: python -m experiments.inpaint --workdir=DIR [--config=...:smoke|cifar] [--config.x=v]."""
from experiments import common

if __name__ == "__main__":
  common.main("inpaint")
