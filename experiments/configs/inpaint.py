"""Inpainting with gated convolutions and a PatchGAN, on the embedded MNIST digits by default.

    python -m experiments.inpaint --workdir=runs/inpaint
    python -m experiments.inpaint --config=experiments/configs/inpaint.py:smoke --workdir=/tmp/smoke
    python -m experiments.inpaint --config=experiments/configs/inpaint.py:cifar --workdir=runs/inpaint_cifar \
        --config.data.source=../shared/data/cifar10-jpeg.zip        # or a folder, or tfds `cifar10`

Variants (the text after ':'): "" (MNIST 28x28), "smoke" (tiny, a few steps),
"cifar" (CIFAR-10 32x32 RGB). Based on the dcgan config: data, optimizer and
logging fields mean the same; the repair fields are below.
"""
import ml_collections

from jgan import config as config_lib


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = config_lib.base_config()
  config.task = "inpaint"
  config.model.name = "gated_inpaint"
  config.model.g_width = 32
  config.model.d_width = 32
  config.train.batch_size = 32
  config.train.num_steps = 3000
  config.train.pretrain_steps = 500    # L1-only warm-up before the adversarial term joins
  config.train.g_lr = 1e-3
  config.log.num_samples = 16          # 16 examples: an 8x8 grid of (input, mask, output, truth)
  return apply_variant(config, arg, "inpaint")


def _smoke(config) -> None:
  config_lib.smoke_loop(config)
  config.model.g_width = 8
  config.model.d_width = 8
  config.train.batch_size = 8
  config.train.pretrain_steps = 3
  config.log.num_samples = 4


def _cifar(config) -> None:
  config.data.source = "../shared/data/cifar10-jpeg.zip"
  config.data.resolution = 32
  config.data.channels = 3


def apply_variant(config, arg: str, name: str):
  """The variants every image-repair config shares: "" (MNIST), "smoke", "cifar"."""
  return config_lib.variant(arg, name, {"smoke": _smoke, "cifar": _cifar}, config)
