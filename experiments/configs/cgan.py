"""A class-conditional GAN: the SNGAN ResNet with conditional BatchNorm in G and a projection
discriminator (Miyato & Koyama 2018, arXiv:1802.05637), on the embedded MNIST's 10 labels.
--config.model.acgan=True swaps the projection for an ACGAN auxiliary classifier (Odena et
al. 2017). Sampling takes labels: GAN.generate(state, z, labels=...); the sample grid shows
class k in column k. Variants: "" and "smoke".
"""
from experiments.configs import sngan


def get_config(arg: str = ""):
  config = sngan.get_config(arg)
  config.model.num_classes = 10
  return config
