"""Presets of `python -m experiments.bench`.

  default: the default `experiments.dcgan` model (DCGAN-28 on the embedded MNIST, width 64), batch 64
  paper64: DCGAN-64 as in pytorch/examples (nz 100, 64 filters, 5 layers), MNIST resized to 64x64x3
  main:    the main job's model and recipe (`experiments/configs/dcgan.py`: width 32, dense layers, lazy R1,
           the InfoGAN code), jgan's rows only: the baselines implement the plain DCGAN
  gpu:     paper64 at batch 64 and 256, float32 and bfloat16, 20 steps per call in a lax.scan,
           data on the device: the rows of the GPU speed table (`python -m experiments.bench_gpu` runs
           them with 1 and 20 steps per call, beside PyTorch)
"""
import ml_collections

from experiments.configs import dcgan
from jgan import config as config_lib


def get_config(arg: str = "default") -> ml_collections.ConfigDict:
  if arg in ("paper64", "gpu"):
    config = dcgan.get_config("paper")
    config.data.channels = 3
  elif arg == "main":
    config = dcgan.get_config("")
  elif arg in ("", "default"):   # the plain DCGAN (width 64), the model the baselines implement
    config = config_lib.base_config()
  else:
    raise ValueError(f"unknown bench preset {arg!r}: use 'default', 'paper64', 'main' or 'gpu'")
  config.log.tensorboard = False
  config.bench = ml_collections.ConfigDict()
  config.bench.batch_sizes = (64,)
  config.bench.precisions = ("float32",)
  config.bench.placements = ("device", "host")
  config.bench.steps = 30        # timed steps per row and round (3 windows)
  config.bench.warmup = 5
  config.bench.rounds = 3        # every row timed once per round, rows interleaved; the median is reported
  config.bench.torch = True
  config.bench.plain_flax = True
  config.bench.fresh_z = True    # also time train.reuse_fake=False (a second G forward per step)
  if arg == "main":
    config.bench.torch = config.bench.plain_flax = False
    config.bench.steps = 96      # 6 due lazy-R1 steps (every 16) in each round's 3 windows
  if arg == "gpu":
    config.bench.batch_sizes = (64, 256)
    config.bench.precisions = ("float32", "bfloat16")
    config.bench.placements = ("device",)
    config.bench.steps = 400
    config.bench.warmup = 40
    config.bench.rounds = 1
    config.bench.torch = False
    config.bench.fresh_z = False
    config.train.steps_per_call = 20
    config.train.scan_rolled = True
  return config
