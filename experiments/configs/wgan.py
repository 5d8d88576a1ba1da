"""WGAN (Arjovsky et al. 2017, arXiv:1701.07875): the DCGAN networks as a critic, Wasserstein
loss, weight clipping to [-0.01, 0.01], RMSProp 5e-5, 5 critic updates per G update (the
paper's Algorithm 1 defaults). Variants: "" and "smoke".
"""
from jgan import config as config_lib


def get_config(arg: str = ""):
  config = config_lib.base_config()
  config.train.loss = "wasserstein"
  config.train.optimizer = "rmsprop"
  config.train.g_lr = config.train.d_lr = 5e-5
  config.train.clip = 0.01
  config.train.n_critic = 5
  return config_lib.variant(arg, "wgan", {"smoke": smoke}, config)


def smoke(config) -> None:
  config_lib.smoke(config)
  config.train.n_critic = 2   # still several critic steps, half the compile
