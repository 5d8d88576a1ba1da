"""The 2014 GAN (Goodfellow et al., arXiv:1406.2661): MLP G and D on the embedded MNIST.

G: z (100) -> 256 -> 512 -> 784 (tanh); D: 784 -> 512 -> 256 -> 1 (LeakyReLU standing in
for the paper's maxout). The paper's practical G loss is the non-saturating one
(sec. 3); --config.train.loss=minimax trains the saturating form of the game.
Variants: "" and "smoke".
"""
from jgan import config as config_lib


def get_config(arg: str = ""):
  config = config_lib.base_config()
  config.model.name = "mlp"
  # An MLP step costs ~1/10 of a DCGAN step; 4,000 steps left speckled digits, 20,000
  # (128 epochs of mnist10k, ~2 min on 2 CPU cores) give clean strokes.
  config.train.num_steps = 20000
  return config_lib.variant(arg, "gan", {"smoke": _smoke}, config)


def _smoke(config) -> None:
  config_lib.smoke(config)
  config.model.g_hidden = (32,)
  config.model.d_hidden = (32,)
