"""The 2D mode-coverage benchmark (PacGAN protocol): every loss on ring8 and grid25, 5 seeds.

    python -m experiments.toy2d                      # the benchmark table (make bench-toy)
    python -m experiments.toy2d --config=experiments/configs/toy2d.py:smoke
    python -m experiments.toy2d --workdir=runs/toy2d --config.data.source=grid25   # one run, with checkpoints

MLP G and D (jgan.models.mlp). `config` is the default recipe; `config.bench.recipes`
names the recipes of the table, each the default with the overrides in RECIPES.
"""
import ml_collections

from experiments.configs import dcgan

# recipe -> overrides of config.train: each loss with its paper's optimiser settings.
RECIPES = {
    "minimax": {"loss": "minimax"},
    "non_saturating": {"loss": "non_saturating"},
    "least_squares": {"loss": "least_squares"},
    "hinge": {"loss": "hinge"},
    # WGAN (Arjovsky et al. 2017): RMSProp 5e-5, clip 0.01, 5 critic steps.
    "wgan": {"loss": "wasserstein", "optimizer": "rmsprop", "g_lr": 5e-5, "d_lr": 5e-5, "clip": 0.01,
             "n_critic": 5},
    # WGAN-GP (Gulrajani et al. 2017): lambda 10, Adam(1e-4, 0.5, 0.9), 5 critic steps.
    "wgan_gp": {"loss": "wasserstein", "gp_weight": 10.0, "g_lr": 1e-4, "d_lr": 1e-4, "b1": 0.5, "b2": 0.9,
                "n_critic": 5},
}


def recipe_config(config, recipe: str) -> ml_collections.ConfigDict:
  """`config` with the train overrides of RECIPES[recipe]."""
  config = config.copy_and_resolve_references()
  for name, value in RECIPES[recipe].items():
    config.train[name] = value
  return config


def get_config(arg: str = "") -> ml_collections.ConfigDict:
  config = dcgan.get_config("smoke" if arg == "smoke" else "")
  config.data.source = "ring8"
  config.model.name = "mlp"
  config.model.latent_dim = 2
  config.model.g_hidden = (128, 128, 128)
  config.model.d_hidden = (128, 128, 128)
  config.train.batch_size = 256
  config.train.num_steps = 6000
  config.train.g_lr = 1e-3
  config.train.d_lr = 1e-3
  # EMA of G's weights, a stabiliser of every recipe here: it averages out the last
  # steps' oscillation, which is what the 3-sigma (0.03 on ring8) quality test sees.
  config.train.ema_decay = 0.999
  config.log.sample_every_steps = 500

  config.bench = ml_collections.ConfigDict()
  config.bench.datasets = ("ring8", "grid25")
  config.bench.recipes = tuple(RECIPES)
  config.bench.seeds = 5
  if arg == "smoke":
    config.model.g_hidden = (16, 16)
    config.model.d_hidden = (16, 16)
    config.train.batch_size = 32
    config.train.num_steps = 4
    config.bench.recipes = ("non_saturating",)
    config.bench.seeds = 2
  elif arg:
    raise ValueError(f"unknown toy2d config variant {arg!r}: use '' or 'smoke'")
  return config
