"""Stacked MNIST, the standard mode-collapse benchmark: three embedded digits as the RGB channels
(1000 modes), a DCGAN at 28 px, scored on 26,000 samples at the end of the run (modes hit,
KL to uniform over the 1000 modes; VEEGAN/PacGAN protocol).

    python -m experiments.stacked_mnist --workdir=runs/stacked_mnist
    python -m experiments.stacked_mnist --config=experiments/configs/stacked_mnist.py:dcgan   # the plain DCGAN

Variants: "" (jgan's recipe: PacGAN packing of 2, EMA of G), "dcgan" (the plain DCGAN of
the benchmark tables, VEEGAN's anchor: 99 modes, KL 3.4), "smoke".
"""
import ml_collections

from jgan import config as config_lib


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = config_lib.base_config()
  config.data.source = "stacked_mnist"
  config.data.channels = 3
  config.data.num_points = 100_000
  config.model.g_width = 32
  config.model.d_width = 32
  config.train.num_steps = 6000
  config.eval.num_samples = 26_000     # scored at the end of the run (VEEGAN/PacGAN protocol)
  if arg in ("", "smoke"):
    # PacGAN (Lin et al. 2018): D scores pairs, which makes a G that drops modes easy to spot.
    config.train.pack = 2
    config.train.ema_decay = 0.999
  return config_lib.variant(arg, "stacked_mnist", {"smoke": _smoke, "dcgan": lambda c: None}, config)


def _smoke(config) -> None:
  config_lib.smoke(config)
  config.data.num_points = 256
  config.eval.num_samples = 500
