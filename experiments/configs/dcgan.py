"""DCGAN (Radford et al. 2016) on the embedded MNIST digits, sized for a 2-core CPU.

    python -m experiments.dcgan --workdir=runs/dcgan
    python -m experiments.dcgan --config=experiments/configs/dcgan.py:smoke --workdir=/tmp/smoke
    python -m experiments.dcgan --config.data.source=cifar10 --config.data.resolution=32 \
        --config.data.channels=3 --config.model.g_width=64 --config.model.d_width=64

Variants (the text after ':'): "" (default), "smoke" (a tiny model, a few steps),
"paper" (the 64x64 pytorch/examples model: width 64, nz 100).
"""
import ml_collections

from jgan.eval.hook import eval_config
from jgan.tasks import build


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0

  config.data = ml_collections.ConfigDict()
  config.data.source = "mnist10k"      # tfds name, folder, .zip, ring8, grid25
  config.data.split = "train"
  config.data.resolution = 28
  config.data.channels = 1
  config.data.data_dir = ""            # tfds data dir; "" = tfds's default (~/tensorflow_datasets)
  config.data.placement = "auto"       # device | host | auto (device when it fits device_max_bytes)
  config.data.device_max_bytes = 2 * 1024**3
  config.data.prefetch = 2
  config.data.num_points = 100_000     # toy 2D sets only

  config.model = ml_collections.ConfigDict()
  config.model.name = "dcgan"
  config.model.latent_dim = 100
  config.model.g_width = 64
  config.model.d_width = 64
  config.model.max_mult = 8
  config.model.d_batch_norm = True
  config.model.g_hidden = (256, 512)   # mlp only
  config.model.d_hidden = (512, 256)   # mlp only
  config.model.dtype = "float32"       # compute dtype; bfloat16 keeps float32 params
  # GAN-family switches (jgan.tasks.build.MODEL_DEFAULTS documents each); off for DCGAN.
  for name, value in build.MODEL_DEFAULTS.items():
    config.model[name] = value

  config.train = ml_collections.ConfigDict()
  config.train.batch_size = 64
  config.train.num_steps = 4000
  config.train.loss = "non_saturating"
  config.train.n_critic = 1
  config.train.label_smoothing = 0.0   # one-sided: real target = 1 - label_smoothing
  config.train.g_lr = 2e-4
  config.train.d_lr = 2e-4
  config.train.b1 = 0.5
  config.train.b2 = 0.999
  config.train.num_devices = 0         # 0 = every local device
  # Stabilisers (jgan.tasks.build.TRAIN_DEFAULTS documents each); off for DCGAN.
  for name, value in build.TRAIN_DEFAULTS.items():
    config.train[name] = value
  config.train.steps_per_call = 1      # >1: that many steps per jitted call
  config.train.scan_rolled = False     # True: steps run in a lax.scan loop (GPU/TPU), bit-identical for every k

  config.log = ml_collections.ConfigDict()
  config.log.every_steps = 100
  config.log.sample_every_steps = 500
  config.log.num_samples = 100
  config.log.checkpoint_every_steps = 500
  config.log.keep_checkpoints = 3
  config.log.tensorboard = True

  # FID & co. every eval.every_steps (0 = off), e.g. --config.eval.every_steps=1000
  # --config.eval.metrics=fid,kid,pr; the best checkpoint by eval.best_metric goes to workdir/best/.
  config.eval = eval_config()

  if arg == "smoke":
    config.model.latent_dim = 16
    config.model.g_width = 8
    config.model.d_width = 8
    config.train.batch_size = 16
    config.train.num_steps = 6
    config.log.every_steps = 2
    config.log.sample_every_steps = 3
    config.log.num_samples = 16
    config.log.checkpoint_every_steps = 3
  elif arg == "paper":
    config.data.resolution = 64
    config.model.g_width = 64
    config.model.d_width = 64
  elif arg:
    raise ValueError(f"unknown dcgan config variant {arg!r}: use '', 'smoke' or 'paper'")
  return config
