"""Correctness fixes found reading the package whole (issue 10), each checked against an independent computation."""
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jgan import tasks
from jgan.core.sharding import make_mesh
from jgan.data.pipeline import DeviceFeeder, HostFeeder
from jgan.train import optim


def _config(name: str, variant: str = "smoke"):
  return importlib.import_module(f"experiments.configs.{name}").get_config(variant)


def _step(task, config, state, seed: int = 1):
  shape = tasks.element_shape(config.data)
  rows = config.train.batch_size * task.batch_multiple
  key = jax.random.key(seed)
  batch = {"x": jax.random.uniform(key, (rows, *shape), jnp.float32, -1.0, 1.0),
           "label": jax.random.randint(key, (rows,), 0, 10, jnp.int32)}
  return jax.jit(task.train_step)(state, batch, jax.random.fold_in(key, 1))


def test_bigan_clips_the_critic_weights():
  config = _config("bigan")
  config.train.loss, config.train.optimizer, config.train.clip = "wasserstein", "rmsprop", 0.01
  config.train.d_lr = 0.5   # a step large enough to leave [-clip, clip] without clipping
  task = tasks.make_task(config, (28, 28, 1))
  state = task.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
  state, _ = _step(task, config, state)
  largest = max(float(jnp.max(jnp.abs(w))) for w in jax.tree.leaves(state.params["d"]))
  assert largest <= 0.01 + 1e-7


def test_ema_sampling_uses_batch_norm_statistics_recomputed_for_the_ema_weights():
  config = _config("sngan")                       # ResNet G with BatchNorm, EMA 0.999
  config.data.resolution = 16
  config.train.batch_size = 8
  task = tasks.make_task(config, (16, 16, 1))
  state = task.init(jax.random.key(0), jnp.zeros((1, 16, 16, 1)))
  for seed in range(3):
    state, _ = _step(task, config, state, seed)
  key = jax.random.key(7)
  recalibrated = task.sampling_state(state, key, num=64)

  # Reference: Flax's own running-average update, iterated on the same latents until the
  # momentum-0.9 average has forgotten its start (0.9**400 ~ 1e-18): the batch statistics.
  from jgan.core import rng
  z = task.latents(rng.named(key, "latent"), 64)
  labels = task.fake_labels(rng.named(key, "labels"), 64)
  update = lambda _, stats: task.apply_g(state.ema_params["g"], stats, z, labels, True, None)[1]
  reference = jax.jit(lambda s: jax.lax.fori_loop(0, 400, update, s))(state.batch_stats["g"])
  for got, want in zip(jax.tree.leaves(recalibrated.batch_stats["g"]), jax.tree.leaves(reference)):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=2e-4, atol=1e-5)
  # The raw G's statistics differ from them: sampling with those was the bug.
  assert any(not np.allclose(a, b, atol=1e-4) for a, b in zip(jax.tree.leaves(state.batch_stats["g"]),
                                                               jax.tree.leaves(reference)))
  z_test = task.latents(jax.random.key(3), 4)
  np.testing.assert_allclose(
      np.asarray(task.generate(recalibrated, z_test)[0]),
      np.asarray(task.generate(state.replace(batch_stats={**state.batch_stats, "g": reference}), z_test)[0]),
      atol=1e-4)


def test_gan_without_ema_samples_from_its_state_unchanged():
  config = _config("dcgan")
  task = tasks.make_task(config, (28, 28, 1))
  state = task.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
  assert task.sampling_state(state, jax.random.key(1)) is state


def test_stylegan_samples_with_its_per_layer_noise():
  from jgan.eval.hook import make_sample_fn
  config = _config("stylegan")
  task = tasks.make_task(config, (16, 16, 1))
  state = task.init(jax.random.key(0), jnp.zeros((1, 16, 16, 1)))
  # The learned noise strengths start at 0 (as in StyleGAN2); a trained G has them non-zero.
  strengths = lambda path, w: w + 0.5 if getattr(path[-1], "key", "") == "noise_strength" else w
  g_params = jax.tree_util.tree_map_with_path(strengths, state.params["g"])
  state = state.replace(params={**state.params, "g": g_params}, ema_params={"g": g_params})
  z = task.latents(jax.random.key(1), 4)
  silent = task.generate(state, z)[0]
  noisy = task.generate(state, z, key=jax.random.key(2))[0]
  assert not np.allclose(np.asarray(silent), np.asarray(noisy), atol=1e-6)
  # The evaluation sampler draws the noise (fixed by the seed: the same images every call).
  sample = make_sample_fn(task, seed=0, num=4)
  first, second = sample(state), sample(state)
  np.testing.assert_array_equal(first, second)
  noiseless = np.asarray(task.generate(state, task.latents(jax.random.key(0), 4))[0])
  assert first.shape == (4, 16, 16, 1) and not np.array_equal(first, noiseless)


def _adam_two_steps(lr, b1, b2, g1, g2, eps=1e-8):
  """Adam (Kingma & Ba 2015, Algorithm 1) by hand: the parameter change after gradients g1, g2."""
  m = v = 0.0
  total = 0.0
  for t, g in enumerate((g1, g2), start=1):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    total += -lr * (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
  return total


def test_lazy_r1_scales_the_discriminator_adam_like_stylegan2():
  config = _config("stylegan")
  t = config.train
  t.r1_gamma, t.r1_every, t.d_lr, t.b1, t.b2 = 1.0, 4, 2e-3, 0.5, 0.99
  ratio = optim.lazy_regularization_ratio(t)
  assert ratio == 4 / 5
  opt = optim.make_optimizer(t, t.d_lr, lazy_ratio=ratio)
  params = jnp.zeros(())
  state = opt.init(params)
  for g in (1.0, -3.0):
    updates, state = opt.update(jnp.asarray(g), state, params)
    params = optax.apply_updates(params, updates)
  want = _adam_two_steps(2e-3 * ratio, 0.5**ratio, 0.99**ratio, 1.0, -3.0)
  np.testing.assert_allclose(float(params), want, rtol=1e-5)
  assert not np.isclose(want, _adam_two_steps(2e-3, 0.5, 0.99, 1.0, -3.0), rtol=1e-3)
  t.r1_every = 1   # R1 every step: no correction
  assert optim.lazy_regularization_ratio(t) == 1.0


def test_host_and_device_feeders_serve_the_same_batches_for_a_seed():
  from ml_collections import ConfigDict

  from jgan.data.sources import open_source
  source = open_source(ConfigDict(dict(source="ring8", split="train", resolution=28, channels=1, data_dir="",
                                       placement="auto", device_max_bytes=2**31, prefetch=2, num_points=40)))
  steps = range(12)                                 # 40 rows, batch 8: 5 steps an epoch, so 2 reshuffles
  device = DeviceFeeder(source, 8, make_mesh(1), seed=3)
  make = jax.jit(device.make_batch)
  on_device = [np.asarray(make(device.next_feed(s), s, jax.random.key(3))["x"]) for s in steps]
  host = HostFeeder(source, 8, make_mesh(1), seed=3)
  on_host = [np.asarray(host.make_batch(host.next_feed(s), s, None)["x"]) for s in steps]
  host.close()
  for a, b in zip(on_device, on_host):
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("reuse_fake,g_topk", [(True, 1.0), (False, 1.0), (True, 0.5)])
def test_g_update_equals_backprop_through_a_forward_of_g(reuse_fake, g_topk):
  """G's update against a hand-built gradient, for both settings of train.reuse_fake.

  True (the default): G's gradient through the kept pullback equals value_and_grad of a forward on the
  last D update's latents, labels and G weights (what PyTorch's DCGAN loop computes). False (the behaviour
  before reuse became the default): G draws its own latents from the step key's "g_latent" split and
  backpropagates D's verdict through a second forward of the G that D's update left. With train.g_topk=0.5
  the loss is the non-saturating term over the 8 of 16 samples that D scores highest."""
  from jgan.core import rng
  from jgan.tasks.state import apply_net
  config = _config("dcgan")
  config.train.reuse_fake = reuse_fake
  config.train.g_topk = g_topk
  task = tasks.make_task(config, (28, 28, 1))
  state = task.init(jax.random.key(0), jnp.zeros((1, 28, 28, 1)))
  key = jax.random.key(5)
  real = jax.random.uniform(key, (16, 28, 28, 1), jnp.float32, -1.0, 1.0)
  batch = {"x": real, "label": jnp.zeros((16,), jnp.int32)}
  stepped, metrics = jax.jit(task.train_step)(state, batch, key)

  d_key = jax.random.fold_in(rng.named(key, "d_step"), 0)
  after_d, _ = task._d_update(state, real, batch["label"], d_key)
  # Reuse: G as it was when D's update ran it; fresh: G after D's update (its BN stats moved).
  g_from, z_key = (state, d_key) if reuse_fake else (after_d, key)
  prefix = "d" if reuse_fake else "g"
  z = task.latents(rng.named(z_key, f"{prefix}_latent"), 16)
  y = task.fake_labels(rng.named(z_key, f"{prefix}_labels"), 16)

  def g_loss(g_params):
    fake, _ = apply_net(task.generator, g_params, g_from.batch_stats["g"], z, train=True)
    if g_topk == 1.0:
      return task._g_loss(after_d.params["d"], after_d.batch_stats["d"], fake, y, z, key, state.step)[0]
    logits, _ = apply_net(task.discriminator, after_d.params["d"], after_d.batch_stats["d"], fake, train=True)
    kept = jnp.sort(logits)[8:]   # the top half by D's logit
    return jnp.mean(jax.nn.softplus(-kept))

  loss, grads = jax.value_and_grad(g_loss)(g_from.params["g"])
  np.testing.assert_allclose(float(metrics["g_loss"]), float(loss), rtol=1e-5)
  np.testing.assert_allclose(float(metrics["g_grad_norm"]), float(optax.tree.norm(grads)), rtol=1e-4)
  expected = optim.apply_gradients(after_d, "g", grads, task.g_optimizer).params["g"]
  for got, want in zip(jax.tree.leaves(stepped.params["g"]), jax.tree.leaves(expected)):
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)
