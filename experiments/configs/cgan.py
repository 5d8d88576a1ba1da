"""A class-conditional GAN on the embedded MNIST's 10 labels; sampling takes labels
(GAN.generate(state, z, labels=...)) and the sample grid shows class k in column k.

""       : conditional DCGAN. G reads [z, embed(y)] (cGAN, Mirza & Osindero 2014, with a
           learned embedding); D adds the projection term <embed(y), h> (Miyato & Koyama
           2018, arXiv:1802.05637). Non-saturating loss, Adam(2e-4, 0.5), as DCGAN.
"sngan"  : the SNGAN ResNet with conditional BatchNorm in G (plus the label embedding next
           to z) and a spectrally normalised projection D, hinge loss (the setting of
           Miyato & Koyama; slower to train on a CPU).
"smoke", "sngan_smoke": tiny versions for tests.
--config.model.acgan=True swaps the projection for an ACGAN auxiliary classifier (Odena et al. 2017).
"""
from experiments.configs import sngan
from jgan import config as config_lib


def get_config(arg: str = ""):
  if arg not in ("", "smoke", "sngan", "sngan_smoke"):
    raise ValueError(f"unknown cgan config variant {arg!r}: use '', 'smoke', 'sngan' or 'sngan_smoke'")
  smoke = "smoke" if arg.endswith("smoke") else ""
  if arg.startswith("sngan"):
    config = sngan.get_config(smoke)
  else:   # the plain DCGAN (without the unconditional main job's recipe), made conditional
    config = config_lib.variant(smoke, "cgan", {"smoke": config_lib.smoke}, config_lib.base_config())
  config.model.num_classes = 10
  config.model.acgan = False
  # dcgan: 0 means an embedding of num_classes entries; resnet: conditional BN plus this embedding.
  config.model.label_embed_dim = 0 if not arg.startswith("sngan") else 32
  return config
