"""Train a CycleGAN: python -m experiments.cyclegan --workdir=DIR [--config=...:smoke|horse2zebra] [--config.x=v]."""
from experiments import common

if __name__ == "__main__":
  common.main("cyclegan")
