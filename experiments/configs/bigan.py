"""BiGAN (Donahue et al. 2017, arXiv:1605.09782) on the embedded MNIST: the DCGAN generator,
a convolutional encoder E and a joint discriminator D(x, z); latent size 50 as in the paper's
MNIST model. After training, the experiment prints the reconstruction error of G(E(x)) and a
linear probe on E(x) beside raw pixels and a random-init E.
--config.model.stochastic_encoder=True makes it ALI (Dumoulin et al. 2017). Variants: "" and "smoke".
"""
from experiments.configs import dcgan


def get_config(arg: str = ""):
  config = dcgan.get_config(arg)
  config.task = "bigan"
  config.model.latent_dim = 16 if arg == "smoke" else 50
  config.model.d_hidden = (64,) if arg == "smoke" else (512,)  # joint D's hidden width
  return config
