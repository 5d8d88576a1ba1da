"""Train SRResNet, then SRGAN: python -m experiments.srgan --workdir=DIR [--config=...:smoke|cifar] [--config.x=v]."""
from experiments import common

if __name__ == "__main__":
  common.main("srgan")
