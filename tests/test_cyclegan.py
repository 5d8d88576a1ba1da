"""CycleGAN: the networks, the losses, the image pool, the two-domain data, resume, the loop, translation."""
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from jgan import tasks
from jgan.core import rng, sharding
from jgan.core.errors import UserError
from jgan.data import synthetic, unpaired
from jgan.data.pipeline import make_feeder
from jgan.models import cyclegan as nets
from jgan.tasks import cyclegan
from jgan.train.checkpoint import Checkpointer, abstract_like
from tests.conftest import run_module


def _config(**train):
  from experiments.configs import cyclegan as configs
  config = configs.get_config("smoke")
  config.log.tensorboard = False
  for key, value in train.items():
    config.train[key] = value
  return config


# ---------------------------------------------------------------- networks

def test_patchgan_receptive_field_is_70_computed_from_its_layers():
  layers = [(kernel, stride) for _, kernel, stride, _ in nets.PATCH_LAYERS]
  assert nets.receptive_field(layers) == 70
  assert nets.receptive_field([(3, 1)]) == 3 and nets.receptive_field([(3, 1), (3, 1)]) == 5
  # The module is built from that list: C64-C128-C256-C512 and a 1-channel head, all 4x4, norm on all but C64.
  d = nets.PatchGANDiscriminator(width=64)
  x = jnp.zeros((1, 64, 64, 3))
  params = jax.eval_shape(lambda: d.init(jax.random.key(0), x))["params"]
  kernels = [params[f"Conv_{i}"]["kernel"].shape for i in range(len(nets.PATCH_LAYERS))]
  assert kernels == [(4, 4, 3, 64), (4, 4, 64, 128), (4, 4, 128, 256), (4, 4, 256, 512), (4, 4, 512, 1)]
  assert [norm for *_, norm in nets.PATCH_LAYERS] == [False, True, True, True, False]
  # strides 2, 2, 2, 1, 1 with padding 1: a 256 input gives 30x30 patches, as the paper's.
  out = jax.eval_shape(lambda p: d.apply({"params": p}, jnp.zeros((1, 256, 256, 3))), params)
  assert out.shape == (1, 30, 30, 1)


def test_patchgan_without_instance_norm_has_the_same_weights_and_sees_amplitude():
  x = jax.random.uniform(jax.random.key(1), (2, 32, 32, 3), minval=-0.5, maxval=0.5)
  with_norm, without = nets.PatchGANDiscriminator(width=4), nets.PatchGANDiscriminator(width=4, norm=False)
  params = with_norm.init(jax.random.key(0), x)
  assert jax.tree.map(jnp.shape, params) == jax.tree.map(jnp.shape, without.init(jax.random.key(0), x))
  # With zero biases the normed D gives the same scores for x and 2x (it judges patterns, not their strength);
  # without norm it sees the difference.
  unbiased = jax.tree_util.tree_map_with_path(
      lambda path, w: jnp.zeros_like(w) if path[-1].key == "bias" else w, params)
  np.testing.assert_allclose(with_norm.apply(unbiased, x), with_norm.apply(unbiased, 2 * x), rtol=1e-3, atol=1e-4)
  assert not np.allclose(without.apply(unbiased, x), without.apply(unbiased, 2 * x))
  assert not np.allclose(without.apply(params, x), with_norm.apply(params, x))


def test_generator_is_fully_convolutional_with_the_papers_layout():
  g = nets.ResnetGenerator(channels=3, width=4, num_blocks=2)
  params = g.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  assert sum(1 for k in params["params"] if k.startswith("ResidualBlock")) == 2
  out = g.apply(params, jax.random.uniform(jax.random.key(1), (2, 20, 36, 3), minval=-1, maxval=1))
  assert out.shape == (2, 20, 36, 3) and float(jnp.max(jnp.abs(out))) <= 1.0
  assert nets.paper_num_blocks(128) == 6 and nets.paper_num_blocks(256) == 9


def test_the_first_instance_norm_erases_the_mean_colour_unless_the_input_skips_to_the_last_conv():
  """Why config.model.input_skip exists: the paper's G gives the same output for an image and the image
  with a colour cast added (conv is linear, the instance norm after it removes the constant), so it cannot
  keep a photo's colours; with the skip the last conv sees them."""
  x = jax.random.uniform(jax.random.key(0), (1, 16, 16, 3), minval=-0.5, maxval=0.5)
  cast = x + jnp.array([0.3, -0.2, 0.1])
  for skip in (False, True):
    g = nets.ResnetGenerator(channels=3, width=4, num_blocks=1, input_skip=skip)
    params = g.init(jax.random.key(1), x)
    moved = float(jnp.max(jnp.abs(g.apply(params, cast) - g.apply(params, x))))
    assert (moved > 1e-2) if skip else (moved < 1e-5), (skip, moved)
    last = params["params"]["Conv_3"]["kernel"]
    assert last.shape == (7, 7, 4 + (3 if skip else 0), 3)


def test_instance_norm_normalises_each_example_and_channel():
  x = jax.random.normal(jax.random.key(0), (2, 5, 7, 3)) * 4 + 3
  y = nets.instance_norm(x)
  np.testing.assert_allclose(np.asarray(jnp.mean(y, axis=(1, 2))), 0, atol=1e-5)
  np.testing.assert_allclose(np.asarray(jnp.var(y, axis=(1, 2))), 1, atol=1e-3)


def test_instance_norm_module_equals_the_function_and_takes_frozen_statistics():
  x = jax.random.normal(jax.random.key(0), (2, 6, 8, 3)) * 3 + 1
  norm = nets.InstanceNorm()
  np.testing.assert_array_equal(np.asarray(norm.apply({}, x)), np.asarray(nets.instance_norm(x)))
  mean, var = jnp.full((1, 1, 1, 3), 2.0), jnp.full((1, 1, 1, 3), 4.0)
  frozen = norm.apply({"norm_stats": {"mean": mean, "var": var}}, x)
  np.testing.assert_allclose(np.asarray(frozen), np.asarray((x - 2.0) / np.sqrt(4.0 + 1e-5)), rtol=1e-6)
  _, sown = norm.apply({}, x, mutable=["norm_inputs"])
  np.testing.assert_array_equal(np.asarray(sown["norm_inputs"]["x"][0]), np.asarray(x))
  g = nets.ResnetGenerator(channels=3, width=4, num_blocks=1)
  assert set(g.init(jax.random.key(0), jnp.zeros((1, 16, 16, 3)))) == {"params"}   # no activations kept by init


def test_generator_norms_add_no_parameters_so_old_checkpoints_load():
  g = nets.ResnetGenerator(channels=3, width=4, num_blocks=2, code_dim=2)
  params = g.init(jax.random.key(0), jnp.zeros((1, 16, 16, 3)))["params"]
  flat = jax.tree_util.tree_flatten_with_path(params)[0]
  names = {"/".join(str(getattr(k, "key", k)) for k in path) for path, _ in flat}
  assert not any("InstanceNorm" in n for n in names)
  assert {n.split("/")[0] for n in names} == {"Conv_0", "Conv_1", "Conv_2", "Conv_3", "ConvTranspose_0",
                                              "ConvTranspose_1", "Dense_0", "Dense_1", "Dense_2",
                                              "ResidualBlock_0", "ResidualBlock_1"}


def test_generator_receptive_radius_bounds_what_a_pixel_changes():
  """With every norm's statistics frozen, changing one input pixel moves outputs only within the radius."""
  g = nets.ResnetGenerator(channels=1, width=4, num_blocks=2)
  x = jax.random.uniform(jax.random.key(0), (1, 96, 96, 1), minval=-1, maxval=1)
  params = g.init(jax.random.key(1), x)["params"]
  _, sown = g.apply({"params": params}, x, mutable=["norm_inputs"])
  frozen = {"params": params, "norm_stats": _own_stats(sown["norm_inputs"])}
  moved = x.at[0, 48, 48, 0].add(1.0)
  diff = np.abs(np.asarray(g.apply(frozen, moved) - g.apply(frozen, x)))[0, :, :, 0]
  rows, cols = np.nonzero(diff > 0)
  reach = max(np.abs(rows - 48).max(), np.abs(cols - 48).max())
  assert 0 < reach <= g.receptive_radius, (reach, g.receptive_radius)
  assert g.receptive_radius - reach < 8   # the bound is not loose either


def _own_stats(sown):
  """A sown norm_inputs tree -> the norm_stats tree of each norm's own statistics (batch of one)."""
  if "x" in sown:
    x = sown["x"][0]
    return {"mean": jnp.mean(x, axis=(1, 2), keepdims=True), "var": jnp.var(x, axis=(1, 2), keepdims=True)}
  return {k: _own_stats(v) for k, v in sown.items()}


# ---------------------------------------------------------------- losses

def test_cycle_and_identity_losses_match_a_hand_computation():
  a = jnp.array([[[[0.0], [1.0]]]])            # (1, 1, 2, 1)
  rec_a = jnp.array([[[[0.5], [0.0]]]])        # |.| = 0.5, 1.0 -> mean 0.75
  b = jnp.array([[[[-1.0], [0.25]]]])
  rec_b = jnp.array([[[[-1.0], [0.75]]]])      # 0, 0.5 -> 0.25
  assert float(cyclegan.cycle_loss(a, rec_a, b, rec_b)) == pytest.approx(1.0)
  f_of_a, g_of_b = a + 0.1, b - 0.2
  assert float(cyclegan.identity_loss(a, f_of_a, b, g_of_b)) == pytest.approx(0.3)


def test_the_generator_loss_is_adv_plus_10_cycle_plus_5_identity():
  config = _config()
  config.model.code_dim = 0   # the paper's G (the code's terms: test_the_code_cycles_by_hand)
  task = tasks.make_task(config, (32, 32, 3))
  state = task.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  a = jax.random.uniform(jax.random.key(1), (2, 32, 32, 3), minval=-1, maxval=1)
  b = jax.random.uniform(jax.random.key(2), (2, 32, 32, 3), minval=-1, maxval=1)
  _, metrics = jax.jit(task.train_step)(state, {"x": a, "x_b": b}, jax.random.key(3))
  m = {k: float(v) for k, v in metrics.items()}
  assert m["g_loss"] == pytest.approx(m["adv_g"] + m["adv_f"] + 10 * m["cycle"] + 5 * m["identity"], rel=1e-5)
  # by hand: the cycle term of the initial nets, and the LSGAN terms without the registry's 1/2
  g, f, p = task.generator, task.generator, state.params
  fake_b, fake_a = g.apply({"params": p["g"]}, a), f.apply({"params": p["f"]}, b)
  rec_a, rec_b = f.apply({"params": p["f"]}, fake_b), g.apply({"params": p["g"]}, fake_a)
  by_hand = np.mean(np.abs(np.asarray(rec_a) - np.asarray(a))) + np.mean(np.abs(np.asarray(rec_b) - np.asarray(b)))
  assert m["cycle"] == pytest.approx(by_hand, rel=1e-4)
  scores = task.discriminator.apply({"params": p["d_b"]}, fake_b)
  assert m["adv_g"] == pytest.approx(float(np.mean((np.asarray(scores) - 1) ** 2)), rel=1e-4)


def test_generator_with_a_code_appends_it_to_the_input_and_reads_one_back():
  g = nets.ResnetGenerator(channels=3, width=4, num_blocks=1, code_dim=2)
  x = jax.random.uniform(jax.random.key(1), (3, 16, 20, 3), minval=-1, maxval=1)
  z = jax.random.uniform(jax.random.key(2), (3, 2), minval=-1, maxval=1)
  params = g.init(jax.random.key(0), x[:1])
  assert params["params"]["ResidualBlock_0"]["Dense_0"]["kernel"].shape == (2, 2 * 16)  # scale and shift of 16 maps
  image, code = g.apply(params, x, z)
  assert image.shape == x.shape and code.shape == (3, 2) and float(jnp.max(jnp.abs(code))) <= 1.0
  zero_image, _ = g.apply(params, x)
  np.testing.assert_array_equal(np.asarray(zero_image), np.asarray(g.apply(params, x, jnp.zeros((3, 2)))[0]))
  assert not np.allclose(np.asarray(image), np.asarray(zero_image))
  with pytest.raises(ValueError, match="code_dim=0"):
    nets.ResnetGenerator(channels=3, width=4, num_blocks=1).init(jax.random.key(0), x[:1], z[:1])


def test_the_code_cycles_by_hand():
  config = _config()
  config.model.code_dim = 2
  task = tasks.make_task(config, (32, 32, 3))
  state = task.init(jax.random.key(0), jnp.zeros((1, 32, 32, 3)))
  a = jax.random.uniform(jax.random.key(1), (2, 32, 32, 3), minval=-1, maxval=1)
  b = jax.random.uniform(jax.random.key(2), (2, 32, 32, 3), minval=-1, maxval=1)
  key = jax.random.key(3)
  _, metrics = jax.jit(task.train_step)(state, {"x": a, "x_b": b}, key)
  m = {k: float(v) for k, v in metrics.items()}
  assert m["g_loss"] == pytest.approx(m["adv_g"] + m["adv_f"] + 10 * (m["cycle"] + m["code_cycle"])
                                      + 5 * m["identity"], rel=1e-5)
  # by hand: z from the step key's "code" split; G(a, z) -> F -> (rec_a, rec_z); b -> F -> (fake_a, z_b) -> G
  z = jax.random.uniform(rng.named(key, "code"), (2, 2), minval=-1, maxval=1)
  net, p = task.generator, state.params
  fake_b, _ = net.apply({"params": p["g"]}, a, z)
  rec_a, rec_z = net.apply({"params": p["f"]}, fake_b)
  fake_a, z_b = net.apply({"params": p["f"]}, b)
  rec_b, _ = net.apply({"params": p["g"]}, fake_a, z_b)
  assert m["code_cycle"] == pytest.approx(float(np.mean(np.abs(np.asarray(rec_z) - np.asarray(z)))), rel=1e-4)
  by_hand = np.mean(np.abs(np.asarray(rec_a) - np.asarray(a))) + np.mean(np.abs(np.asarray(rec_b) - np.asarray(b)))
  assert m["cycle"] == pytest.approx(by_hand, rel=1e-4)


# ---------------------------------------------------------------- the image pool

def _images(values):
  return jnp.asarray(values, jnp.float32).reshape(-1, 1, 1, 1)


def test_pool_fills_then_swaps_by_the_papers_rule():
  pool = cyclegan.pool_init(2, (1, 1, 1))
  # not full: every image is stored and returned, whatever the draws
  pool, out = cyclegan.pool_update(pool, _images([1, 2]), jnp.array([[0.0, 0.9], [0.0, 0.9]]))
  np.testing.assert_array_equal(np.ravel(out), [1, 2])
  np.testing.assert_array_equal(np.ravel(pool["images"]), [1, 2])
  assert int(pool["count"]) == 2
  # full: coin < 0.5 returns stored[floor(u * size)] and stores the new one there; else returns the new one
  pool, out = cyclegan.pool_update(pool, _images([3, 4, 5]), jnp.array([[0.2, 0.7], [0.9, 0.1], [0.4, 0.7]]))
  np.testing.assert_array_equal(np.ravel(out), [2, 4, 3])
  np.testing.assert_array_equal(np.ravel(pool["images"]), [1, 5])
  assert int(pool["count"]) == 2
  # size 0: off
  empty = cyclegan.pool_init(0, (1, 1, 1))
  assert np.array_equal(np.ravel(cyclegan.pool_query(empty, _images([7]), jax.random.key(0))[1]), [7])


def test_pool_query_is_pure_and_returns_old_images_about_half_the_time():
  pool = {"images": _images(np.arange(50) + 100.0), "count": jnp.asarray(50, jnp.int32)}
  new = _images(np.arange(400.0))
  query = jax.jit(cyclegan.pool_query)
  p1, out1 = query(pool, new, jax.random.key(5))
  p2, out2 = query(pool, new, jax.random.key(5))
  np.testing.assert_array_equal(np.asarray(out1), np.asarray(out2))
  np.testing.assert_array_equal(np.asarray(p1["images"]), np.asarray(p2["images"]))
  np.testing.assert_array_equal(np.asarray(pool["images"]).ravel(), np.arange(50) + 100.0)  # input untouched
  old = float(np.mean(np.ravel(out1) != np.arange(400.0)))
  assert 0.4 < old < 0.6
  # every returned image was either the new one or in the pool's history
  history = set(np.arange(50) + 100.0) | set(np.arange(400.0))
  assert set(np.ravel(out1).tolist()) <= history


# ---------------------------------------------------------------- resume

def test_resume_is_bit_exact_with_the_pool_in_the_state(tmp_path):
  config = _config(pool_size=3)
  shape = (32, 32, 3)
  task = tasks.make_task(config, shape)
  step = jax.jit(task.train_step)
  batches = [{"x": jax.random.uniform(jax.random.key(10 + i), (4, *shape), minval=-1, maxval=1),
              "x_b": jax.random.uniform(jax.random.key(20 + i), (4, *shape), minval=-1, maxval=1)} for i in range(4)]
  state = task.init(jax.random.key(0), jnp.zeros((1, *shape)))
  for i in range(2):
    state, _ = step(state, batches[i], jax.random.key(i))
  assert int(state.pool["a"]["count"]) == 3   # full: the next steps swap
  checkpointer = Checkpointer(str(tmp_path / "ckpt"), keep=2, use_async=False)
  checkpointer.save(2, state)
  restored = checkpointer.restore(2, abstract_like(jax.eval_shape(lambda: state), None))
  checkpointer.close()
  assert isinstance(restored, cyclegan.CycleGANState)
  for i in (2, 3):
    state, m1 = step(state, batches[i], jax.random.key(i))
    restored, m2 = step(restored, batches[i], jax.random.key(i))
  for x, y in zip(jax.tree.leaves((state, m1)), jax.tree.leaves((restored, m2))):
    x, y = (jax.random.key_data(v) if jnp.issubdtype(v.dtype, jax.dtypes.prng_key) else v for v in (x, y))
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


# ---------------------------------------------------------------- data

def test_builtin_domains_are_deterministic_and_disjoint():
  a_train, a_test = synthetic.domain_indices("mnist10k_a", "train"), synthetic.domain_indices("mnist10k_a", "test")
  b_train, b_test = synthetic.domain_indices("mnistm10k_b", "train"), synthetic.domain_indices("mnistm10k_b", "test")
  everything = np.concatenate([a_train, a_test, b_train, b_test])
  assert len(np.unique(everything)) == len(everything) == 10000
  np.testing.assert_array_equal(synthetic.texture(7), synthetic.texture(7))
  assert not np.array_equal(synthetic.texture(7), synthetic.texture(8))
  images, labels = synthetic.load_domain("mnistm10k_b", "test")
  again, _ = synthetic.load_domain("mnistm10k_b", "test")
  assert images.shape == (1000, 28, 28, 3) and images.dtype == np.uint8
  np.testing.assert_array_equal(images, again)
  digits, digit_labels = synthetic.load_domain("mnist10k_a", "test")
  assert digits.shape == (1000, 28, 28, 1) and labels.min() >= 0 and labels.max() <= 9
  assert not np.array_equal(labels, digit_labels)  # other digits
  # the blend is MNIST-M's |texture - digit|
  np.testing.assert_array_equal(synthetic.blend(np.full((2, 2), 200, np.uint8), np.full((2, 2, 3), 50, np.uint8)),
                                np.full((2, 2, 3), 150, np.uint8))


def test_unpaired_batches_are_independent_and_a_function_of_seed_and_step():
  config = _config()
  source = tasks.open_data(config)
  assert isinstance(source, unpaired.UnpairedSource)
  assert source.a.name == "mnist10k_a:train" and source.b.name == "mnistm10k_b:train"
  mesh = sharding.make_mesh(1)
  root = jax.random.key(config.seed)
  batches = {}
  for placement in ("device", "host"):
    config.data.placement = placement
    feeder = make_feeder(source, config.data, 4, mesh, config.seed)
    assert isinstance(feeder, unpaired.UnpairedFeeder)
    batches[placement] = [feeder.make_batch(feeder.next_feed(s), jnp.asarray(s), root) for s in (0, 1, 1000)]
    feeder.close()
  for d, h in zip(batches["device"], batches["host"]):
    for key in ("x", "x_b", "label"):
      np.testing.assert_array_equal(np.asarray(d[key]), np.asarray(h[key]))
  first = batches["device"][0]
  assert first["x"].shape == first["x_b"].shape == (4, 32, 32, 3)
  # A's batches are those of a plain feeder on A alone; B's order comes from another seed
  feeder = unpaired.UnpairedFeeder(source, config.data, 4, mesh, config.seed)
  plain = make_feeder(source.a, config.data, 4, mesh, config.seed)
  np.testing.assert_array_equal(feeder.a.indices(1000), plain.indices(1000))
  assert not np.array_equal(feeder.a.indices(0), feeder.b.indices(0))
  feeder.close()
  plain.close()


def test_the_fields_mechanism_refuses_what_cyclegan_ignores():
  config = _config()
  config.train.ema_decay = 0.999
  with pytest.raises(UserError, match="config.train.ema_decay=.*has no effect on task 'cyclegan'"):
    tasks.validate(config)
  config = _config()
  config.data.source = "cifar10"
  with pytest.raises(UserError, match="name the domains with config.data.source_a"):
    tasks.validate(config)
  from experiments.configs import dcgan
  config = dcgan.get_config("smoke")
  config.data.source_b = "photos/"
  with pytest.raises(UserError, match="config.data.source_b=.*has no effect on task 'gan'"):
    tasks.validate(config)


def test_constant_then_linear_schedule():
  from jgan.train import optim
  schedule = optim.constant_then_linear(2e-4, 0.0, 100)
  assert float(schedule(0)) == float(schedule(50)) == pytest.approx(2e-4)
  assert float(schedule(75)) == pytest.approx(1e-4) and float(schedule(100)) == pytest.approx(0.0)


# ---------------------------------------------------------------- the loop and translation

@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
  from jgan.train.run import train
  workdir = str(tmp_path_factory.mktemp("cyclegan"))
  config = _config()
  state = train(config, workdir)
  return workdir, config, state


def test_smoke_run_trains_through_the_loop_and_writes_triples(smoke_run):
  workdir, config, state = smoke_run
  assert int(state.step) == config.train.num_steps
  assert set(state.params) == {"g", "f", "d_a", "d_b"}
  assert all(bool(jnp.all(jnp.isfinite(x))) for x in jax.tree.leaves(state.params))
  assert int(state.pool["a"]["count"]) == config.train.pool_size
  grid = np.asarray(Image.open(os.path.join(workdir, "samples", "latest.png")))
  # 6 examples per domain: 36 images of 32 px, 6 x 6 with a 2-pixel border
  assert grid.shape == (6 * 34 + 2, 6 * 34 + 2, 3)


def test_translate_api_keeps_any_size(smoke_run):
  from jgan.infer import translate
  workdir, _, _ = smoke_run
  model = translate.load(workdir)
  images = np.random.default_rng(0).integers(0, 256, (2, 30, 13, 3), dtype=np.uint8)
  for direction in ("a2b", "b2a"):
    out = model.translate(images, direction)
    assert out.shape == images.shape and out.dtype == np.uint8
  assert model.translate(images[:, :1, :1], "a2b").shape == (2, 1, 1, 3)
  floats = model.translate(images.astype(np.float32) / 127.5 - 1, "a2b")
  assert floats.dtype == np.float32 and floats.shape == images.shape
  with pytest.raises(UserError, match="channels"):
    model.translate(images[..., :1], "a2b")
  assert translate.pad_amounts(30) == (1, 1) and translate.pad_amounts(3) == (2, 3)


def test_tile_windows_cover_each_pixel_once_inside_the_image():
  from jgan.infer import translate
  for size, tile, overlap in ((92, 16, 24), (64, 16, 24), (200, 64, 8), (12, 4, 0)):
    covered = np.zeros(size, int)
    for start, keep0, keep1 in translate.tile_windows(size, tile, overlap):
      assert 0 <= start and start + min(size, tile + 2 * overlap) <= size and start % 4 == 0
      covered[start + keep0:start + keep1] += 1
      # context on both sides wherever the image has it
      assert keep0 >= min(overlap, start + keep0) and min(size, tile + 2 * overlap) - keep1 >= min(
          overlap, size - (start + keep1))
    assert (covered == 1).all(), (size, tile, overlap)


def test_tiled_translation_equals_the_whole_image(smoke_run):
  """Tiles of fixed shape with the whole image's norm statistics (several passes) give the whole-image result;
  too little context (overlap 4 < the receptive radius) does not, so the comparison can see a seam."""
  from jgan.infer import translate
  workdir, _, _ = smoke_run
  model = translate.load(workdir)
  x = jax.random.uniform(jax.random.key(0), (1, 10, 10, 3), minval=-1, maxval=1)
  smooth = np.asarray(jax.image.resize(x, (1, 92, 124, 3), "linear"))   # image-like: neighbours correlate
  for direction, seed in (("a2b", 3), ("b2a", None)):
    whole = model.translate(smooth, direction, seed=seed)
    tiled = model.translate(smooth, direction, seed=seed, tile_above=32, tile=16, tile_batch=3)
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
    seamed = model.translate(smooth, direction, seed=seed, tile_above=32, tile=16, overlap=4)
    assert np.abs(seamed - whole).max() > 1e-2
  odd = (np.asarray(jax.random.uniform(jax.random.key(1), (1, 41, 70, 3))) * 255).astype(np.uint8)  # padded to 44 x 72
  rounded = model.translate(odd, "b2a", tile_above=16, tile=8).astype(int) - model.translate(odd, "b2a")
  assert np.abs(rounded).max() <= 1   # uint8: float rounding may tip a pixel over a .5
  with pytest.raises(UserError, match="multiples of 4"):
    model.translate(smooth, "a2b", tile_above=32, tile=10)


def test_translate_cli_writes_images_and_reports_bad_input_in_one_line(smoke_run, tmp_path):
  workdir, _, _ = smoke_run
  Image.fromarray(np.random.default_rng(0).integers(0, 256, (22, 30, 3), dtype=np.uint8)).save(tmp_path / "in.png")
  (tmp_path / "folder").mkdir()
  Image.fromarray(np.zeros((9, 9), np.uint8)).save(tmp_path / "folder" / "gray.png")
  (tmp_path / "bad.png").write_bytes(b"not a png")
  (tmp_path / "gan").mkdir()
  (tmp_path / "gan" / "config.json").write_text('{"task": "gan"}')
  done = run_module("experiments.translate", f"--workdir={workdir}", "--direction=b2a",
                    f"--image={tmp_path / 'in.png'}", f"--out={tmp_path / 'out.png'}")
  assert done.returncode == 0, done.stderr
  assert Image.open(tmp_path / "out.png").size == (30, 22)
  tiled = run_module("experiments.translate", f"--workdir={workdir}", "--direction=b2a", "--tile_above=16",
                     "--tile=8", f"--image={tmp_path / 'in.png'}", f"--out={tmp_path / 'tiled.png'}")
  assert tiled.returncode == 0, tiled.stderr
  seams = np.asarray(Image.open(tmp_path / "tiled.png")).astype(int) - np.asarray(Image.open(tmp_path / "out.png"))
  assert np.abs(seams).max() <= 1
  folder = run_module("experiments.translate", f"--workdir={workdir}", f"--images={tmp_path / 'folder'}",
                      f"--out={tmp_path / 'outs'}")
  assert folder.returncode == 0, folder.stderr
  assert Image.open(tmp_path / "outs" / "gray.png").size == (9, 9)
  cases = {
      "no such file": [f"--workdir={workdir}", f"--image={tmp_path / 'missing.png'}", f"--out={tmp_path / 'o.png'}"],
      "cannot read image": [f"--workdir={workdir}", f"--image={tmp_path / 'bad.png'}", f"--out={tmp_path / 'o.png'}"],
      "use a2b": [f"--workdir={workdir}", "--direction=sideways", f"--image={tmp_path / 'in.png'}",
                  f"--out={tmp_path / 'o.png'}"],
      "--tile must be a multiple of 4": [f"--workdir={workdir}", "--tile=6", f"--image={tmp_path / 'in.png'}",
                                         f"--out={tmp_path / 'o.png'}"],
      "not a cyclegan one": [f"--workdir={tmp_path / 'gan'}", f"--image={tmp_path / 'in.png'}",
                             f"--out={tmp_path / 'o.png'}"],
  }
  for expected, args in cases.items():
    result = run_module("experiments.translate", *args)
    lines = result.stderr.strip().splitlines()
    assert result.returncode != 0 and expected in result.stderr and len(lines) == 1, (expected, result.stderr)


def test_bench_translate_scores_every_row_with_the_oracle_and_the_gap(smoke_run):
  from jgan.bench import digit_translation
  workdir, _, _ = smoke_run
  rows = digit_translation.score_run(workdir, steps=3, seed=0)
  trained_on = [name for name in rows if name.startswith("classifier on real B")]
  assert len(trained_on) == 3 and any("target oracle" in name for name in trained_on)
  assert all(0.0 <= rows[name] <= 1.0 for name in rows if not name.startswith(("share", "colour")))
  assert rows["colour spread of G(A) / of real B"] >= 0.0
  source, adapted, oracle = (rows[name] for name in trained_on)
  gap = rows["share of the source-only -> oracle gap closed by G(A)"]
  assert gap == pytest.approx((adapted - source) / max(oracle - source, 1e-9))
  with pytest.raises(UserError, match="draws"):
    digit_translation.score_run(workdir, steps=3, seed=0, draws=-1)
  drawn = digit_translation.score_run(workdir, steps=3, seed=0, draws=2)   # up front instead of fresh
  assert drawn["classifier on real B, trained on source only (real A)"] == rows[trained_on[0]]


def test_the_classifier_sees_each_step_through_the_transform():
  from jgan.bench import digit_translation
  images = np.random.default_rng(0).integers(0, 256, (32, 32, 32, 3), dtype=np.uint8)
  labels = np.arange(32) % 10
  seen = []
  def transform(x, step):
    seen.append((step, x.shape))
    return 255 - x
  predict = digit_translation.train_classifier(images, labels, steps=4, seed=0, batch=8, transform=transform)
  assert seen == [(i, (8, 32, 32, 3)) for i in range(4)]
  assert predict(images).shape == (32,)


def test_a_code_model_translates_one_to_many_by_seed(tmp_path):
  from jgan.infer import translate
  from jgan.train.run import train
  config = _config()
  config.model.code_dim = 2
  config.train.num_steps = 2
  workdir = str(tmp_path / "code")
  train(config, workdir)
  model = translate.load(workdir)
  images = np.random.default_rng(0).integers(0, 256, (5, 12, 16, 3), dtype=np.uint8)
  one, two = model.translate(images, "a2b", seed=1), model.translate(images, "a2b", seed=2)
  assert not np.array_equal(one, two)
  np.testing.assert_array_equal(one, model.translate(images, "a2b", batch_size=2, seed=1))  # codes drawn up front
  np.testing.assert_array_equal(model.translate(images, "a2b"), model.translate(images, "a2b", seed=None))
  np.testing.assert_array_equal(model.translate(images, "b2a", seed=1), model.translate(images, "b2a", seed=2))
  Image.fromarray(images[0]).save(tmp_path / "in.png")
  outs = []
  for seed in ("--seed=1", "--seed=2"):
    out = tmp_path / f"out{seed[-1]}.png"
    done = run_module("experiments.translate", f"--workdir={workdir}", f"--image={tmp_path / 'in.png'}",
                      f"--out={out}", seed)
    assert done.returncode == 0, done.stderr[-2000:]
    outs.append(np.asarray(Image.open(out)))
  assert not np.array_equal(*outs)
