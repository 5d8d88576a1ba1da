"""WGAN-GP (Gulrajani et al. 2017, arXiv:1704.00028): Wasserstein loss with a gradient penalty
(lambda 10, one interpolation coefficient per example), a critic without BatchNorm,
Adam(1e-4, b1 0, b2 0.9), 5 critic updates per G update (the paper's Algorithm 1).
Variants: "" and "smoke".
"""
from experiments.configs import dcgan


def get_config(arg: str = ""):
  config = dcgan.get_config(arg)
  config.model.d_batch_norm = False
  config.train.loss = "wasserstein"
  config.train.gp_weight = 10.0
  config.train.g_lr = config.train.d_lr = 1e-4
  config.train.b1, config.train.b2 = 0.0, 0.9
  config.train.n_critic = 2 if arg == "smoke" else 5   # smoke: still several critic steps, half the compile
  return config
