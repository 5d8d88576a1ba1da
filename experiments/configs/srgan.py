"""SRResNet then SRGAN super-resolution, on the embedded MNIST digits by default (7 -> 28 at x4).

    python -m experiments.srgan --workdir=runs/srgan
    python -m experiments.srgan --config=experiments/configs/srgan.py:smoke --workdir=/tmp/smoke
    # CIFAR-10, 8 -> 32 at x4; the source may be a folder, a zip or the tfds name `cifar10`:
    python -m experiments.srgan --config=experiments/configs/srgan.py:cifar --workdir=runs/srgan_cifar \
        --config.data.source=../shared/data/cifar10-jpeg.zip
    # pixel loss only (SRResNet): --config.train.pretrain_steps equal to --config.train.num_steps

Variants (the text after ':'): "" (MNIST 28x28), "smoke" (tiny, a few steps),
"cifar" (CIFAR-10 32x32 RGB). The first `train.pretrain_steps` steps train
SRResNet on the pixel loss; the rest are SRGAN steps (adversarial +
feature-matching perceptual term).
"""
import ml_collections

from experiments.configs import inpaint
from jgan import config as config_lib


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = config_lib.base_config()
  config.task = "superres"
  config.model.name = "srresnet"
  config.model.g_width = 32
  config.model.num_blocks = 4
  config.model.d_width = 32
  config.train.batch_size = 32
  config.train.num_steps = 3000
  config.train.pretrain_steps = 1500   # SRResNet (pixel loss) steps before the SRGAN steps
  config.train.recon_loss = "l2"       # SRResNet's MSE
  config.train.adv_weight = 1e-3       # SRGAN's weight of the adversarial term (Ledig et al. 2017, eq. 3)
  config.train.feature_weight = 0.1    # weight of the feature-matching perceptual term
  config.train.g_lr = 1e-3
  config.train.b1 = 0.9
  config.log.num_samples = 16

  if arg == "smoke":
    config.model.num_blocks = 1
  return inpaint.apply_variant(config, arg, "srgan")
