"""SNGAN (Miyato et al. 2018, arXiv:1802.05957): the ResNet G and D, spectral norm on every D
layer, hinge loss. Adam(b1 0, b2 0.9) with TTUR rates (G 1e-4, D 4e-4; Heusel et al. 2017)
and one D step per G step instead of the paper's 5, to fit a CPU budget; EMA of G for
sampling. --config.data.resolution=32/64 with an RGB source gives the paper's settings.
Variants: "" and "smoke".
"""
from jgan import config as config_lib


def get_config(arg: str = ""):
  config = config_lib.base_config()
  config.model.name = "resnet"
  config.model.spectral_norm = True
  config.model.max_mult = 1          # SNGAN's constant-width ResNet
  config.model.g_width = config.model.d_width = 64
  config.model.latent_dim = 128
  config.train.loss = "hinge"
  config.train.g_lr, config.train.d_lr = 1e-4, 4e-4
  config.train.b1, config.train.b2 = 0.0, 0.9
  config.train.ema_decay = 0.999
  return config_lib.variant(arg, "sngan", {"smoke": config_lib.smoke}, config)
