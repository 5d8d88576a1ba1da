"""A StyleGAN2-style model (Karras et al. 2020, arXiv:1912.04958) on the embedded MNIST at 32 px:
mapping network, modulated/demodulated convs, per-layer noise, style mixing (p 0.9), skip
G and residual D with minibatch stddev; non-saturating loss with lazy R1 (gamma 1, every
16 steps: StyleGAN2 sec. 3.1), Adam(2e-3, 0, 0.99), EMA of G. A 4-layer mapping network and
narrow layers fit a CPU; --config.model.truncation=0.7 truncates at sampling.
Variants: "" and "smoke".
"""
from jgan import config as config_lib


def get_config(arg: str = ""):
  config = config_lib.base_config()
  config.data.resolution = 32
  config.model.name = "stylegan"
  config.model.g_width = config.model.d_width = 16
  config.model.max_mult = 4
  config.model.latent_dim = config.model.w_dim = 128
  config.model.mapping_layers = 4
  config.train.r1_gamma = 1.0
  config.train.r1_every = 16
  config.train.g_lr = config.train.d_lr = 2e-3
  config.train.b1, config.train.b2 = 0.0, 0.99
  config.train.ema_decay = 0.999
  return config_lib.variant(arg, "stylegan", {"smoke": _smoke}, config)


def _smoke(config) -> None:
  config_lib.smoke(config)
  config.data.resolution = 16
  config.model.max_mult = 2
  config.model.w_dim = 16
  config.model.mapping_layers = 2
  config.train.r1_every = 2
