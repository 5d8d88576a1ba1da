"""WGAN-GP (Gulrajani et al. 2017, arXiv:1704.00028): Wasserstein loss with a gradient penalty
(lambda 10, one interpolation coefficient per example), a critic without BatchNorm,
Adam(1e-4, b1 0, b2 0.9), 5 critic updates per G update (the paper's Algorithm 1).
Variants: "" and "smoke".
"""
from experiments.configs import wgan
from jgan import config as config_lib


def get_config(arg: str = ""):
  config = config_lib.base_config()
  config.model.d_batch_norm = False
  config.train.loss = "wasserstein"
  config.train.gp_weight = 10.0
  config.train.g_lr = config.train.d_lr = 1e-4
  config.train.b1, config.train.b2 = 0.0, 0.9
  config.train.n_critic = 5
  return config_lib.variant(arg, "wgan_gp", {"smoke": wgan.smoke}, config)
