"""PacGAN packing and learning-rate schedules: the library features of the toy2d default recipe."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jgan import tasks
from jgan.core.errors import UserError
from jgan.models.mlp import MLPDiscriminator, MLPGenerator
from jgan.objectives.losses import d_cross_entropy, g_non_saturating
from jgan.tasks.gan import GAN, game_fields, pack_inputs
from jgan.train import optim


def test_pack_concatenates_consecutive_points_and_image_channels():
  x = jnp.arange(12.0).reshape(6, 2)                  # rows (0, 1), (2, 3), ...
  np.testing.assert_array_equal(pack_inputs(x, 3), [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])
  assert pack_inputs(x, 1) is x
  images = jnp.asarray(np.random.default_rng(0).normal(size=(4, 3, 5, 2)), jnp.float32)
  packed = np.asarray(pack_inputs(images, 2))
  assert packed.shape == (2, 3, 5, 4)
  for group in range(2):                              # channels of example 2g, then of example 2g + 1
    np.testing.assert_array_equal(packed[group, ..., :2], images[2 * group])
    np.testing.assert_array_equal(packed[group, ..., 2:], images[2 * group + 1])
  with pytest.raises(ValueError, match="not a multiple of pack=4"):
    pack_inputs(x, 4)


def test_packed_d_scores_groups_of_real_and_of_fake_points():
  pack, batch = 4, 8
  gan = GAN(generator=MLPGenerator(output_shape=(2,), hidden=(8,), tanh_output=False),
            discriminator=MLPDiscriminator(hidden=(8,)), latent_dim=2, g_optimizer=optax.adam(1e-3),
            d_optimizer=optax.adam(1e-3), d_loss=d_cross_entropy, g_loss=g_non_saturating, pack=pack)
  state = gan.init(jax.random.key(0), jnp.zeros((1, 2)))
  assert state.params["d"]["Dense_0"]["kernel"].shape == (2 * pack, 8)   # D's input: m points
  seen = []
  apply_d = gan.apply_d

  def spy(params, stats, x, labels, train):
    seen.append(x)
    return apply_d(params, stats, x, labels, train)
  object.__setattr__(gan, "apply_d", spy)
  real = jnp.asarray(np.random.default_rng(1).normal(size=(batch, 2)), jnp.float32)
  state, metrics = gan.train_step(state, {"x": real, "label": jnp.zeros((batch,), jnp.int32)}, jax.random.key(1))
  # D pass on the real batch, on the fakes, then G's pass: each on batch / pack groups of pack points.
  assert [x.shape for x in seen] == [(batch // pack, 2 * pack)] * 3
  np.testing.assert_array_equal(seen[0].reshape(batch, 2), real)
  assert np.isfinite(float(metrics["d_loss"])) and int(state.step) == 1


def _train_config(smoke_config, **fields):
  t = smoke_config.train
  for name, value in fields.items():
    t[name] = value
  return t


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_lr_schedule_at_step_k_equals_the_closed_form(smoke_config, schedule):
  t = _train_config(smoke_config, lr_schedule=schedule, lr_final=0.1)
  lr, total = 2e-3, 40
  rate = optim.learning_rate(t, lr, total)
  for k in (0, 7, 20, 33, 40, 55):
    frac = min(k, total) / total
    shape = 1 - frac if schedule == "linear" else 0.5 * (1 + math.cos(math.pi * frac))
    np.testing.assert_allclose(float(rate(k)), lr * (0.1 + 0.9 * shape), rtol=1e-5)
  assert optim.learning_rate(_train_config(smoke_config, lr_schedule="constant"), lr, total) == lr


def test_adam_steps_follow_the_schedule_and_d_counts_its_critic_updates(smoke_config):
  # With a constant gradient every Adam step has size ~ lr_k: the schedule, seen through the optimizer.
  t = _train_config(smoke_config, lr_schedule="linear", lr_final=0.0, num_steps=10, n_critic=2)
  fields = game_fields(smoke_config)
  for name, per_step in (("g_optimizer", 1), ("d_optimizer", 2)):
    opt = fields[name]
    params = {"w": jnp.zeros(3)}
    state = opt.init(params)
    sizes = []
    for _ in range(t.num_steps * per_step):
      updates, state = opt.update({"w": jnp.ones(3)}, state, params)
      sizes.append(float(jnp.abs(updates["w"][0])))
    total = t.num_steps * per_step
    lr = t.g_lr if name == "g_optimizer" else t.d_lr
    np.testing.assert_allclose(sizes, [lr * (1 - k / total) for k in range(total)], rtol=1e-4)


@pytest.mark.parametrize("fields, message", [
    ({"pack": 0}, "config.train.pack=0 must be positive"),
    ({"pack": 5}, "must be a multiple of config.train.pack=5"),
    ({"lr_schedule": "step"}, "lr_schedule='step': use one of constant, linear, cosine"),
    ({"lr_final": 1.5}, "lr_final=1.5 must be in"),
])
def test_bad_pack_and_schedule_values_fail_with_one_line(smoke_config, fields, message):
  _train_config(smoke_config, **fields)
  with pytest.raises(UserError, match=message) as info:
    tasks.validate(smoke_config)
  assert "\n" not in str(info.value)


def test_pack_needs_an_unconditional_gan(smoke_config):
  smoke_config.train.pack = 2
  smoke_config.model.name, smoke_config.model.num_classes = "resnet", 10
  with pytest.raises(UserError, match="pack .PacGAN. needs an unconditional GAN"):
    tasks.validate(smoke_config)
