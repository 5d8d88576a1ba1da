"""BiGAN (Donahue et al. 2017, arXiv:1605.09782) on the embedded MNIST: the DCGAN generator,
a convolutional encoder E and a joint discriminator D(x, z); latent size 50 as in the paper's
MNIST model. After training, the experiment prints the reconstruction error of G(E(x)) and a
linear probe on E(x) beside raw pixels and a random-init E.
--config.model.stochastic_encoder=True makes it ALI (Dumoulin et al. 2017). Variants: "" and "smoke".
"""
from jgan import config as config_lib


def get_config(arg: str = ""):
  config = config_lib.base_config()
  config.task = "bigan"
  config.model.latent_dim = 50
  config.model.d_hidden = (512,)      # the joint D's hidden width
  return config_lib.variant(arg, "bigan", {"smoke": _smoke}, config)


def _smoke(config) -> None:
  config_lib.smoke(config)
  config.model.d_hidden = (64,)
