"""LSGAN (Mao et al. 2017, arXiv:1611.04076): least-squares loss (a=0, b=c=1) on the DCGAN
networks, Adam(2e-4, 0.5) as in the paper. Variants: "" and "smoke".
"""
from jgan import config as config_lib


def get_config(arg: str = ""):
  config = config_lib.base_config()
  config.train.loss = "least_squares"
  return config_lib.variant(arg, "lsgan", {"smoke": config_lib.smoke}, config)
