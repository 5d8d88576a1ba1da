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

from experiments.configs import dcgan


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = dcgan.get_config()
  config.task = "inpaint"
  config.model.name = "gated_inpaint"
  config.model.g_width = 32
  config.model.d_width = 32
  config.model.dilations = (2, 4)      # dilation rates of the bottleneck gated convs (at H/4)

  config.repair = ml_collections.ConfigDict()
  config.repair.mask_kinds = ("center", "boxes", "strokes")   # one drawn per training example
  config.repair.min_area = 0.1         # hole fraction per example, uniform in [min_area, max_area]
  config.repair.max_area = 0.4         # at most 0.5

  config.train.batch_size = 32
  config.train.num_steps = 3000
  config.train.pretrain_steps = 500    # L1-only warm-up before the adversarial term joins
  config.train.recon_loss = "l1"       # l1 | l2
  config.train.hole_weight = 6.0       # recon weight of hole pixels vs known ones (Liu et al. 2018)
  config.train.adv_weight = 0.01       # weight of G's adversarial loss against the recon loss
  config.train.g_lr = 1e-3
  config.train.d_lr = 2e-4
  config.train.b1 = 0.5
  config.log.num_samples = 16          # 16 examples: an 8x8 grid of (input, mask, output, truth)

  return apply_variant(config, arg, "inpaint")


def apply_variant(config, arg: str, name: str):
  """The variants every image-repair config shares: "" (MNIST), "smoke", "cifar"."""
  if arg == "smoke":
    config.model.g_width = 8
    config.model.d_width = 8
    config.train.batch_size = 8
    config.train.num_steps = 6
    config.train.pretrain_steps = 3
    config.log.every_steps = 2
    config.log.sample_every_steps = 3
    config.log.num_samples = 4
    config.log.checkpoint_every_steps = 3
  elif arg == "cifar":
    config.data.source = "../shared/data/cifar10-jpeg.zip"
    config.data.resolution = 32
    config.data.channels = 3
  elif arg:
    raise ValueError(f"unknown {name} config variant {arg!r}: use '', 'smoke' or 'cifar'")
  return config
