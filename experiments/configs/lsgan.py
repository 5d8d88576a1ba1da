"""LSGAN (Mao et al. 2017, arXiv:1611.04076): least-squares loss (a=0, b=c=1) on the DCGAN
networks, Adam(2e-4, 0.5) as in the paper. Variants: "" and "smoke".
"""
from experiments.configs import dcgan


def get_config(arg: str = ""):
  config = dcgan.get_config(arg)
  config.train.loss = "least_squares"
  return config
