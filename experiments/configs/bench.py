"""Presets of `python -m experiments.bench`.

  default: the default `experiments.dcgan` model (DCGAN-28 on the embedded MNIST, width 64), batch 64
  paper64: DCGAN-64 as in pytorch/examples (nz 100, 64 filters, 5 layers), MNIST resized to 64x64x3
"""
import ml_collections

from experiments.configs import dcgan


def get_config(arg: str = "default") -> ml_collections.ConfigDict:
  config = dcgan.get_config("paper" if arg == "paper64" else "")
  if arg == "paper64":
    config.data.channels = 3
  elif arg not in ("", "default"):
    raise ValueError(f"unknown bench preset {arg!r}: use 'default' or 'paper64'")
  config.log.tensorboard = False
  config.bench = ml_collections.ConfigDict()
  config.bench.batch_sizes = (64,)
  config.bench.precisions = ("float32",)
  config.bench.placements = ("device", "host")
  config.bench.steps = 60
  config.bench.warmup = 5
  config.bench.torch = True
  config.bench.plain_flax = True
  return config
