"""Every family experiment's `smoke` config trains end to end through the one loop (in-process)."""
import importlib
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgan.train.run import train

FAMILIES = ["gan", "wgan", "wgan_gp", "lsgan", "sngan", "cgan", "bigan", "stylegan", "stacked_mnist"]


def _smoke(name, tfds_dir):
  config = importlib.import_module(f"experiments.configs.{name}").get_config("smoke")
  config.data.data_dir = tfds_dir
  config.log.tensorboard = False
  return config


@pytest.mark.parametrize("name", FAMILIES)
def test_smoke_variant_trains_and_writes_samples(name, tfds_dir, tmp_path):
  config = _smoke(name, tfds_dir)
  state = train(config, str(tmp_path))
  assert int(state.step) == config.train.num_steps
  assert os.path.isfile(tmp_path / "samples" / "latest.png")
  for leaf in (state.params["g"], state.params["d"]):
    assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(leaf))
  if config.train.ema_decay > 0:
    assert "g" in state.ema_params
  if name == "bigan":
    from jgan import tasks
    from jgan.eval import bigan
    task = tasks.make_task(config, (28, 28, 1))
    results = bigan.evaluate(task, state, config, num_train=600)
    assert 0 <= results["recon_mse"] < 4 and results["probe_pixels"] > 0.3
  if name == "cgan":
    from jgan.eval import conditional
    agreement, held_out, classifier = conditional.label_agreement(config, state, num=20, num_train=600)
    assert classifier == "lenet-mnist" and held_out > 0.95 and 0 <= agreement <= 1
    from jgan.infer import sampling
    sampler = sampling.load(str(tmp_path))
    z = jnp.zeros((2, config.model.latent_dim))
    a, b = sampler.generate(z, labels=[3, 3]), sampler.generate(z, labels=[3, 7])
    np.testing.assert_allclose(np.asarray(a[0]), np.asarray(b[0]), atol=1e-6)   # same z, same label
    assert not np.allclose(np.asarray(a[1]), np.asarray(b[1]), rtol=0, atol=1e-7)   # the label changes the image
    assert sampler.sample(jax.random.key(0), 3, labels=np.array([0, 1, 2])).shape == (3, 28, 28, 1)
    sevens = sampler.sample(jax.random.key(0), 3, labels=[7])                 # one label, repeated
    np.testing.assert_array_equal(sevens, sampler.sample(jax.random.key(0), 3, labels=[7, 7, 7]))
    from jgan.core.errors import UserError
    with pytest.raises(UserError, match="labels must lie in 0..9"):
      sampler.sample(jax.random.key(0), 3, labels=[10])


def test_toy2d_smoke_benchmark_prints_the_table(capsys):
  from experiments.configs import toy2d
  from jgan.bench import toy as toybench
  config = toy2d.get_config("smoke")
  configs = {r: toy2d.recipe_config(config, r) for r in config.bench.recipes}
  results = toybench.run(configs, config.bench.datasets, range(config.bench.seeds))
  table = toybench.format_table(results, config.bench.datasets, config.bench.recipes)
  assert "PacGAN T1: GAN" in table and "non_saturating" in table
  for (_, dataset), summary in results.items():
    assert 0 <= summary["modes"] <= (8 if dataset == "ring8" else 25)
    assert 0 <= summary["hq"] <= 100 and np.isfinite(summary["modes_std"])
