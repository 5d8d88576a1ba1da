"""LSGAN (Mao et al. 2017, arXiv:1611.04076): least-squares loss (a=0, b=c=1) on the DCGAN
networks, Adam(2e-4, 0.5) as in the paper. Variants: "" and "smoke".

The default uses the dcgan main job's nets for 28 px digits (`dcgan.digit_nets`: width 32 and a
hidden dense layer of 512 in G and D) and its learning rate, 1e-3 for G and D. Seed 0, 4,000 steps,
FID in lenet-mnist space: the DCGAN-64 nets 51.6 (precision 0.41, recall 0.70), these nets at 2e-4
14.0 (0.68, 0.62), at 1e-3 7.5 (0.79, 0.71).
"""
from experiments.configs import dcgan
from jgan import config as config_lib


def get_config(arg: str = ""):
  config = config_lib.base_config()
  config.train.loss = "least_squares"
  if arg == "":
    dcgan.digit_nets(config)
    config.train.g_lr = 1e-3             # the main job's 5x learning rate carries over: FID 14.0 -> 7.5
    config.train.d_lr = 1e-3
  return config_lib.variant(arg, "lsgan", {"smoke": config_lib.smoke}, config)
