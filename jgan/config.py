"""The one config schema: every field of every task, declared once with its default.

Family configs (`experiments/configs/<name>.py`) start from `base_config()` and
override what differs, so a field read anywhere in jgan always exists, and its
default lives here and nowhere else. `with_defaults` fills the fields a config
written by an older jgan lacks (a run's `config.json`), so old runs still load.

Which task and model read which field is declared beside them
(`jgan.tasks.base.TaskSpec.fields`, `jgan.models.factory.ModelSpec.fields`);
`check_honoured` rejects, with one line, a field that differs from its default
but that the chosen task and model would ignore.
"""
from __future__ import annotations

import math
from typing import Callable, Iterable

import ml_collections

from jgan.core.errors import UserError


def _section(**fields) -> ml_collections.ConfigDict:
  return ml_collections.ConfigDict(fields)


def base_config() -> ml_collections.ConfigDict:
  """Every field with its default: the DCGAN main job on the embedded MNIST digits."""
  config = ml_collections.ConfigDict()
  config.seed = 0                        # the one seed: every random stream is a named split of it (jgan.core.rng)
  config.task = "gan"                    # gan | bigan | inpaint | superres | cyclegan (jgan.tasks)

  config.data = _section(
      source="mnist10k",                 # mnist10k (embedded), a tfds name, a folder, a .zip, ring8, grid25,
                                         # stacked_mnist (three embedded digits as RGB: 1000 modes)
      split="train",                     # split of a tfds dataset or subfolder of a folder/zip
      resolution=28,                     # images: short side resized, then centre-cropped to this size (px)
      channels=1,                        # 1 (gray) or 3 (RGB)
      data_dir="",                       # tfds data dir; "" = tfds's default (~/tensorflow_datasets)
      placement="auto",                  # device | host | auto (device when it fits device_max_bytes)
      device_max_bytes=2 * 1024**3,      # largest dataset kept on the device (bytes, uint8 images)
      prefetch=2,                        # host feeder: batches read ahead
      num_points=100_000,                # synthetic sets (ring8, grid25, stacked_mnist): examples drawn
      source_a="mnist10k_a",             # cyclegan: domain A: mnist10k_a | mnistm10k_b (built in) | folder | .zip |
                                         # tfds name, each optionally NAME:SPLIT (cycle_gan/horse2zebra:trainA)
      source_b="mnistm10k_b",            # cyclegan: domain B, named like source_a (jgan.data.unpaired)
      style_root="../shared/data/cifar10-jpeg.zip",  # cyclegan: CIFAR-10 JPEGs (zip or folder with train/, test/)
                                         # of the built-in cifar_photo_a / cifar_styled_b domains (jgan.data.stylise)
      domain_limit=0,                    # cyclegan built-in style domains: images per domain kept (0 = all)
  )

  config.model = _section(
      name="dcgan",                      # dcgan | mlp | resnet | stylegan | gated_inpaint | srresnet | cyclegan
      dtype="float32",                   # compute dtype: float32 | bfloat16 (params stay float32)
      latent_dim=100,                    # size of z
      g_width=64,                        # conv G: channels of the last (full-resolution) block
      d_width=64,                        # conv D: channels of the first block
      max_mult=8,                        # conv nets: channel multiplier cap (width * 2^k <= width * max_mult)
      d_batch_norm=True,                 # dcgan D: BatchNorm after every conv but the first
      dense_hidden=0,                    # dcgan: > 0: a hidden dense layer of this size in G (after z) and D
                                         # (before the logit); InfoGAN's MNIST nets use 1024
      d_instance_norm=True,              # cyclegan D: instance norm on C128-C512, as the paper; False = none
      code_dim=0,                        # cyclegan: >0 gives G a random code and F a code reader (one-to-many A->B)
      input_skip=False,                  # cyclegan: the input image also feeds G's last conv (keeps its colours)
      g_hidden=(256, 512),               # mlp G: hidden sizes
      d_hidden=(512, 256),               # mlp D: hidden sizes; bigan: the joint D's hidden size (first entry)
      spectral_norm=False,               # resnet D: spectral norm on every layer (Miyato et al. 2018)
      num_classes=0,                     # > 0: class-conditional G and D (dcgan, resnet)
      label_embed_dim=0,                 # conditional G: label embedding size concatenated to z
                                         # (dcgan: 0 means num_classes; resnet: 0 means conditional BN only)
      info_codes=0,                      # > 0: InfoGAN (Chen et al. 2016): G also reads a uniform categorical code
                                         # of this many values and D's Q head predicts it (dcgan, resnet; no labels)
      info_groups=1,                     # > 1 (dcgan): that many independent info_codes-way codes, one G input
                                         # and one Q head each (Stacked MNIST: 3 channels x 10 digits)
      info_continuous=0,                 # > 0 (with info_codes): InfoGAN's continuous codes, the first entries of z,
                                         # which Q also predicts back (a unit-variance Gaussian Q; the paper uses 2)
      acgan=False,                       # conditional D as an ACGAN auxiliary classifier instead of projection
      w_dim=128,                         # stylegan: size of w
      mapping_layers=4,                  # stylegan: depth of the mapping network (8 in the paper)
      style_mixing=0.9,                  # stylegan: mixing-regularisation probability
      truncation=1.0,                    # stylegan: psi at sampling; 1 = off
      mbstd_group=4,                     # minibatch-stddev group size (stylegan D; dcgan D with minibatch_std)
      minibatch_std=False,               # dcgan D: append the minibatch-stddev map (ProGAN; stylegan's D always has it)
      stochastic_encoder=False,          # bigan: ALI's reparameterised encoder
      dilations=(2, 4),                  # gated_inpaint: dilation rates of the bottleneck gated convs (at H/4)
      scale=4,                           # srresnet: upscaling factor 2, 4 or 8 (data.resolution a multiple)
      num_blocks=8,                      # srresnet, cyclegan: residual blocks (cyclegan paper: 6 up to 128 px, 9 above)
      bicubic_skip=True,                 # srresnet: predict the residual over bicubic upscaling
      vgg_weights="",                    # srresnet: optional local VGG19 .npz; perceptual term on its features
      vgg_layer="conv2_2",               # srresnet: the VGG layer of that term
  )

  config.train = _section(
      batch_size=64,                     # examples per update (D sees batch_size real + batch_size fake)
      num_steps=4000,                    # generator updates
      num_devices=0,                     # data-parallel devices; 0 = every local device
      steps_per_call=1,                  # steps per jitted call (fewer dispatches)
      scan_rolled=False,                 # steps of a call in a lax.scan (GPU/TPU): bit-identical for every k
      loss="non_saturating",             # minimax | non_saturating | least_squares | wasserstein | hinge
      n_critic=1,                        # D updates per G update
      label_smoothing=0.0,               # one-sided: real target = 1 - label_smoothing
      optimizer="adam",                  # adam | rmsprop (WGAN)
      g_lr=2e-4,                         # G's learning rate (TTUR: differs from d_lr)
      d_lr=2e-4,                         # D's learning rate
      b1=0.5,                            # Adam beta1
      b2=0.999,                          # Adam beta2
      lr_schedule="constant",            # constant | linear | cosine | constant_linear (constant for the first
                                         # half of num_steps, then linear; CycleGAN): decay of both rates
      lr_final=0.0,                      # linear/cosine: the rate reached at num_steps, as a fraction of the first
      clip=0.0,                          # WGAN weight clipping c of D; 0 = off
      gp_weight=0.0,                     # WGAN-GP lambda; 0 = off
      r1_gamma=0.0,                      # R1 gamma; 0 = off
      r1_every=1,                        # lazy R1: every k steps, weight x k (and Adam's lr, betas adjusted)
      lazy_on_device=False,              # lazy R1's due steps chosen by a lax.cond in one executable (as before
                                         # 2026-12-04; the main job's step 1.3x slower on XLA:CPU), not one per phase
      ema_decay=0.0,                     # EMA of G's weights (sampling uses it); 0 = off. Warm-up min(decay,
                                         # (1 + t) / (10 + t)): 0.999 binds from step 8,990 on
      ema_warmup=True,                   # that warm-up (TensorFlow's num_updates rule); False: the decay from step 0
                                         # (the initial weights fade as decay**t: 0.999**6000 = 0.25%)
      augment="",                        # DiffAugment policy, e.g. "color,translation,cutout"; "" = off
      acgan_weight=1.0,                  # weight of ACGAN's class loss when model.acgan
      info_weight=1.0,                   # InfoGAN's lambda: weight of the code's mutual-information term
      info_augment="",                   # InfoGAN: augmentation policy of the view Q reads the codes from
                                         # (e.g. "stroke,affine"; D's verdict stays on plain fakes); "" = off
      pack=1,                            # PacGAN: D scores groups of `pack` examples; 1 = off
      reuse_fake=True,                   # G's update reuses the last D update's fake batch and G forward
                                         # (one G forward per step, as PyTorch's DCGAN loop); False: fresh z
      g_topk=1.0,                        # top-k G update (Sinha et al. 2020): G's loss uses only this share
                                         # of its batch, the samples D scores highest; 1 = off
      g_topk_steps=0,                    # G updates over which that share falls linearly from 1 to g_topk
      pretrain_steps=0,                  # repair: reconstruction-only steps before the adversarial term joins
      recon_loss="l1",                   # repair: l1 | l2
      adv_weight=0.01,                   # repair: weight of G's adversarial loss against the recon loss
      hole_weight=6.0,                   # inpaint: recon weight of hole pixels vs known ones (Liu et al. 2018)
      feature_weight=1.0,                # superres: weight of the feature-matching perceptual term
      cycle_weight=10.0,                 # cyclegan: lambda of both cycle-consistency L1 terms (Zhu et al. 2017)
      identity_weight=0.5,               # cyclegan: identity L1 weight as a fraction of cycle_weight; 0 = off
      pool_size=50,                      # cyclegan: history of generated images per direction for D; 0 = off
      # Divergence (non-finite losses, gradients or parameters; a loss above divergence_loss):
      on_divergence="rollback",          # rollback: restore the last checkpoint, scale both rates, go on | stop
      rollback_lr_factor=0.5,            # rollback: g_lr and d_lr are multiplied by this at each rollback
      max_rollbacks=3,                   # rollback: give up (exit 3) at the divergence after this many rollbacks
      divergence_loss=1e4,               # |d_loss| or |g_loss| above this counts as divergence; 0 = off
  )

  config.repair = _section(
      mask_kinds=("center", "boxes", "strokes"),  # inpaint: hole shapes, one drawn per training example
      min_area=0.1,                      # inpaint: hole fraction per example, uniform in [min_area, max_area]
      max_area=0.4,                      # inpaint: at most 0.5
  )

  config.log = _section(
      every_steps=100,                   # metrics line, metrics.jsonl, TensorBoard
      sample_every_steps=500,            # sample grid samples/step_N.png and latest.png
      num_samples=100,                   # images in the grid
      checkpoint_every_steps=500,        # orbax checkpoint
      keep_checkpoints=3,                # newest checkpoints kept
      tensorboard=True,                  # also write TensorBoard event files
      health_every_steps=100,            # training-health checks of the metrics (jgan.train.health); 0 = off
      health_sample_every_steps=500,     # sample-based checks (diversity, classes, 2D modes); 0 = off
      health_warmup_steps=500,           # sustained and sample-based checks wait this many steps
      report=True,                       # write workdir/report/index.html when a run ends (experiments.report)
  )

  # FID & co. every eval.every_steps (0 = off); the best checkpoint by eval.best_metric goes to workdir/best/.
  config.eval = _section(
      every_steps=0,                     # 0 = no evaluation during training
      metrics="fid",                     # comma-separated: fid,kid,pr,dc,is,class_kl,stacked_mnist
      num_samples=5000,                  # generated images per evaluation
      num_reference=10000,               # training images in the reference set
      extractor="auto",                  # auto (lenet-mnist on MNIST, else inception) | inception | lenet-mnist
      weights="",                        # extractor weights file; "" = the default lookup
      best_metric="fid",                 # keep the best checkpoint by this score; "" = off
      batch_size=0,                      # extraction batch; 0 = the extractor's default
  )
  return config


def variant(arg: str, name: str, variants: dict[str, Callable[[ml_collections.ConfigDict], None]],
            config: ml_collections.ConfigDict) -> ml_collections.ConfigDict:
  """Applies the variant `arg` (the text after ':' in --config=FILE:VARIANT) to `config`.

  `variants` maps each variant name but "" to a function editing the config in place.
  """
  if arg == "":
    return config
  if arg not in variants:
    raise ValueError(f"unknown {name} config variant {arg!r}: use one of {', '.join(repr(v) for v in ['', *variants])}")
  variants[arg](config)
  return config


def smoke_loop(config: ml_collections.ConfigDict) -> None:
  """The loop part of the `smoke` variant: a few small steps, everything logged."""
  config.train.batch_size = 16
  config.train.num_steps = 6
  config.log.every_steps = 2
  config.log.sample_every_steps = 3
  config.log.num_samples = 16
  config.log.checkpoint_every_steps = 3
  config.log.health_every_steps = 2
  config.log.health_sample_every_steps = 6


def smoke(config: ml_collections.ConfigDict) -> None:
  """The shared `smoke` variant (tests, seconds on a CPU): `smoke_loop`, a small z and, for the
  convolutional models, 8-channel nets (MLP configs size their hidden layers themselves)."""
  smoke_loop(config)
  config.model.latent_dim = 16
  if config.model.name != "mlp":
    config.model.g_width = 8
    config.model.d_width = 8


def flatten(tree, prefix: str = "") -> dict:
  """{"a": {"b": 1}} -> {"a.b": 1}; tuples become lists (as in JSON)."""
  out = {}
  for key, value in tree.items():
    if isinstance(value, dict) or isinstance(value, ml_collections.ConfigDict):
      out.update(flatten(value, f"{prefix}{key}."))
    else:
      out[f"{prefix}{key}"] = list(value) if isinstance(value, tuple) else value
  return out


def with_defaults(config) -> ml_collections.ConfigDict:
  """`config` (a ConfigDict or dict, e.g. an older run's config.json) over `base_config()`:
  the fields it lacks get their defaults; fields it has that the schema lacks are kept."""
  merged = base_config()
  items = config.items() if hasattr(config, "items") else config
  for key, value in items:
    if key in merged and isinstance(merged[key], ml_collections.ConfigDict) and hasattr(value, "items"):
      with merged.ignore_type():
        for sub_key, sub_value in value.items():
          merged[key][sub_key] = sub_value
    else:
      with merged.ignore_type():
        merged[key] = value
  return merged


def default_of(path: str):
  """The default of field "section.name" (or "name"); KeyError when the schema has no such field."""
  return flatten(base_config())[path]


def _same(a, b) -> bool:
  a = list(a) if isinstance(a, tuple) else a
  b = list(b) if isinstance(b, tuple) else b
  if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
    return True
  return a == b


# Fields every task reads: the loop, the data, logging and evaluation.
COMMON_FIELDS = frozenset({
    "seed", "task", "model.name", "model.dtype", "train.batch_size", "train.num_steps", "train.num_devices",
    "train.steps_per_call", "train.scan_rolled", "train.lazy_on_device", "train.on_divergence",
    "train.rollback_lr_factor", "train.max_rollbacks", "train.divergence_loss"})
COMMON_SECTIONS = ("data.", "log.", "eval.")


def check_honoured(config, honoured: Iterable[str], who: str) -> None:
  """Raises UserError for the first schema field that differs from its default while neither
  the common machinery nor `honoured` reads it: an option must work or be refused, never ignored.

  Args:
    honoured: the "section.name" fields that `who` (e.g. "task 'inpaint' with model 'gated_inpaint'") reads.
  """
  honoured = COMMON_FIELDS | frozenset(honoured)
  values = flatten(config)
  for path, default in flatten(base_config()).items():
    if path in honoured or path.startswith(COMMON_SECTIONS) or path not in values:
      continue
    if not _same(values[path], default):
      raise UserError(f"config.{path}={values[path]!r} has no effect on {who}: leave it at its default "
                      f"{default!r}")
