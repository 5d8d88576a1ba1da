"""InfoGAN's categorical code (Chen et al. 2016): G reads c, D's Q head predicts it, the data's labels are unused."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgan import config as config_lib
from jgan import tasks
from jgan.core.errors import UserError

RNG = np.random.default_rng(0)


@pytest.fixture
def info_config(smoke_config):
  c = smoke_config
  c.data.resolution = 16
  c.model.info_codes = 4
  c.train.batch_size = 16
  return c


def _batch(labels):
  return {"x": jnp.asarray(RNG.uniform(-1, 1, size=(16, 16, 16, 1)), jnp.float32),
          "label": jnp.asarray(labels, jnp.int32)}


def test_info_code_builds_a_code_reading_g_and_a_q_head_without_using_the_data_labels(info_config):
  gan = tasks.make_task(info_config, (16, 16, 1))
  assert gan.info_code and gan.num_classes == 4 and gan.acgan_weight == 1.0
  state = gan.init(jax.random.key(0), jnp.zeros((1, 16, 16, 1)))
  # G's code embedding is K wide (the paper's one-hot through the first dense layer); Q is a K-way head.
  assert state.params["g"]["label_embed"]["embedding"].shape == (4, 4)
  step = jax.jit(gan.train_step)
  batch = _batch(np.zeros(16))
  new_a, metrics = step(state, batch, jax.random.key(1))
  new_b, _ = step(state, {**batch, "label": jnp.arange(16, dtype=jnp.int32) % 7}, jax.random.key(1))
  chex_equal = jax.tree_util.tree_map(lambda a, b: np.array_equal(np.asarray(a), np.asarray(b)),
                                      new_a.params, new_b.params)
  assert all(jax.tree_util.tree_leaves(chex_equal)), "the real batch's labels changed the update"
  assert "q_code_acc" in metrics and "d_class_acc" not in metrics
  assert 0.0 <= float(metrics["q_code_acc"]) <= 1.0
  # Different codes, same z: different images.
  z = jnp.zeros((4, info_config.model.latent_dim))
  images = np.asarray(gan.generate(new_a, z, labels=jnp.arange(4))[0])
  assert np.abs(images[0] - images[1]).max() > 1e-4


def test_info_term_is_the_cross_entropy_of_q_on_the_fake_codes_only(info_config):
  """D's loss with the code term minus D's loss without it equals lambda * CE(Q(G(z, c)), c), by hand."""
  info_config.train.info_weight = 2.5
  gan = tasks.make_task(info_config, (16, 16, 1))
  plain = gan.__class__(**{**gan.__dict__, "acgan_weight": 0.0})
  state = gan.init(jax.random.key(0), jnp.zeros((1, 16, 16, 1)))
  batch, key = _batch(np.arange(16) % 4), jax.random.key(2)
  with_term = gan._d_update(state, batch["x"], batch["label"], key)[1]["d_loss"]
  without = plain._d_update(state, batch["x"], batch["label"], key)[1]["d_loss"]
  # The same fakes and codes as _d_update draws (its named splits), scored by D in training mode.
  from jgan.core import rng
  from jgan.tasks.state import split_logits
  z = gan.latents(rng.named(key, "d_latent"), 16)
  codes = gan.fake_labels(rng.named(key, "d_labels"), 16)
  fake, _ = gan.apply_g(state.params["g"], state.batch_stats["g"], z, codes, True, None)
  _, d_stats = gan.apply_d(state.params["d"], state.batch_stats["d"], batch["x"], batch["label"], True)
  out, _ = gan.apply_d(state.params["d"], d_stats, fake, codes, True)
  q_logits = np.asarray(split_logits(out)[1], np.float64)
  log_q = q_logits - np.log(np.exp(q_logits).sum(-1, keepdims=True))
  want = -2.5 * np.mean(log_q[np.arange(16), np.asarray(codes)])
  np.testing.assert_allclose(float(with_term) - float(without), want, rtol=1e-4, atol=1e-5)


def test_continuous_codes_are_the_first_entries_of_z_and_q_regresses_them(info_config):
  """info_continuous=2: Q's head is K + 2 wide; D's code term is lambda * (CE of the first K columns on the
  categorical code + 0.5 * mean over the batch of sum_j (c_j - Q_j)^2 with c = z[:, :2]), by hand; G's
  update through the kept pullback equals backprop of the same term (with D's verdict) through G."""
  from jgan.core import rng
  from jgan.tasks.state import apply_net, split_logits
  info_config.train.info_weight = 2.5
  info_config.model.info_continuous = 2
  gan = tasks.make_task(info_config, (16, 16, 1))
  assert gan.info_continuous == 2
  state = gan.init(jax.random.key(0), jnp.zeros((1, 16, 16, 1)))
  assert state.params["d"]["ClassConditionalHead_0"]["Dense_0"]["kernel"].shape[-1] == 4 + 2
  plain = gan.__class__(**{**gan.__dict__, "acgan_weight": 0.0})
  batch, key = _batch(np.arange(16) % 4), jax.random.key(2)
  _, metrics, kept = gan._d_update(state, batch["x"], batch["label"], key, keep_for_g=True)
  without = plain._d_update(state, batch["x"], batch["label"], key)[1]["d_loss"]
  z = gan.latents(rng.named(key, "d_latent"), 16)
  codes = gan.fake_labels(rng.named(key, "d_labels"), 16)
  np.testing.assert_array_equal(np.asarray(kept[2]), np.asarray(z))
  fake, _ = gan.apply_g(state.params["g"], state.batch_stats["g"], z, codes, True, None)
  _, d_stats = gan.apply_d(state.params["d"], state.batch_stats["d"], batch["x"], batch["label"], True)
  out, _ = gan.apply_d(state.params["d"], d_stats, fake, codes, True)
  head = np.asarray(split_logits(out)[1], np.float64)
  log_q = head[:, :4] - np.log(np.exp(head[:, :4]).sum(-1, keepdims=True))
  c = np.asarray(z, np.float64)[:, :2]
  want = 2.5 * (-np.mean(log_q[np.arange(16), np.asarray(codes)]) + 0.5 * np.mean(((c - head[:, 4:]) ** 2).sum(-1)))
  np.testing.assert_allclose(float(metrics["d_loss"]) - float(without), want, rtol=1e-4, atol=1e-5)
  np.testing.assert_allclose(float(metrics["q_continuous_mse"]), np.mean((c - head[:, 4:]) ** 2), rtol=1e-4)
  # A code of z moved changes only the continuous term's target: G's loss grows by 2.5 * 0.5 * (shift^2 + ...).
  d_params, d_stats = state.params["d"], state.batch_stats["d"]
  moved = z.at[:, 0].add(1.0)
  base_loss = gan._g_loss(d_params, d_stats, fake, codes, z, key, state.step)[0]
  moved_loss = gan._g_loss(d_params, d_stats, fake, codes, moved, key, state.step)[0]
  g_head = np.asarray(split_logits(apply_net(gan.discriminator, d_params, d_stats, fake, codes, train=True)[0])[1],
                      np.float64)
  delta = 2.5 * 0.5 * np.mean((c[:, 0] + 1 - g_head[:, 4]) ** 2 - (c[:, 0] - g_head[:, 4]) ** 2)
  np.testing.assert_allclose(float(moved_loss) - float(base_loss), delta, rtol=1e-4, atol=1e-5)


def test_q_reads_the_codes_from_its_augmented_view_and_d_judges_the_plain_fakes(info_config):
  """info_augment: the code term is lambda * CE(Q(q_augment(G(z, c))), c) in D's and G's losses, D's verdict
  unchanged; an identity view gives the update without one."""
  from jgan.core import rng
  from jgan.tasks.state import split_logits
  info_config.train.info_weight = 2.5
  gan = tasks.make_task(info_config, (16, 16, 1))
  assert gan.q_augment is None
  blank = gan.__class__(**{**gan.__dict__, "q_augment": lambda x, key: jnp.zeros_like(x)})
  plain = gan.__class__(**{**gan.__dict__, "acgan_weight": 0.0})
  state = gan.init(jax.random.key(0), jnp.zeros((1, 16, 16, 1)))
  batch, key = _batch(np.arange(16) % 4), jax.random.key(2)
  _, metrics, kept = blank._d_update(state, batch["x"], batch["label"], key, keep_for_g=True)
  without = plain._d_update(state, batch["x"], batch["label"], key)[1]
  codes = gan.fake_labels(rng.named(key, "d_labels"), 16)
  # Q's view is all zeros here: its logits come from D in training mode on a zero batch.
  zeros_out, _ = gan.apply_d(state.params["d"], state.batch_stats["d"], jnp.zeros((16, 16, 16, 1)), codes, True)
  q_logits = np.asarray(split_logits(zeros_out)[1], np.float64)
  log_q = q_logits - np.log(np.exp(q_logits).sum(-1, keepdims=True))
  code_term = -2.5 * np.mean(log_q[np.arange(16), np.asarray(codes)])
  np.testing.assert_allclose(float(metrics["d_loss"]) - float(without["d_loss"]), code_term, rtol=1e-4, atol=1e-5)
  assert float(metrics["d_real"]) == float(without["d_real"]) and float(metrics["d_fake"]) == float(without["d_fake"])
  fake, fake_y, z, _ = kept
  d_params, d_stats = state.params["d"], state.batch_stats["d"]
  g_blank = blank._g_loss(d_params, d_stats, fake, fake_y, z, key, state.step)[0]
  g_plain = plain._g_loss(d_params, d_stats, fake, fake_y, z, key, state.step)[0]
  np.testing.assert_allclose(float(g_blank) - float(g_plain), code_term, rtol=1e-4, atol=1e-5)
  same = gan.__class__(**{**gan.__dict__, "q_augment": lambda x, key: x})
  step_none, step_same = jax.jit(gan.train_step), jax.jit(same.train_step)
  new_none, m_none = step_none(state, batch, jax.random.key(5))
  new_same, m_same = step_same(state, batch, jax.random.key(5))
  np.testing.assert_allclose(float(m_same["d_loss"]), float(m_none["d_loss"]), rtol=1e-5)
  jax.tree.map(lambda a, b: np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-6),
               new_same.params, new_none.params)
  info_config.train.info_augment = "stroke,affine"
  assert tasks.make_task(info_config, (16, 16, 1)).q_augment is not None


@pytest.mark.parametrize("continuous", [0, 2])
def test_q_learns_to_read_the_code(info_config, continuous):
  """Seeded, 80 steps: the mutual-information term makes G's code readable well above chance (1/4), and
  continuous codes too (mean squared error well below 1, that of predicting 0 for N(0, 1) codes)."""
  c = info_config
  c.train.g_lr = c.train.d_lr = 1e-3
  c.model.info_continuous = continuous
  gan = tasks.make_task(c, (16, 16, 1))
  state = gan.init(jax.random.key(0), jnp.zeros((1, 16, 16, 1)))
  step = jax.jit(gan.train_step, donate_argnums=0)
  accuracy, mse = [], []
  for i in range(80):
    state, metrics = step(state, _batch(np.zeros(16)), jax.random.fold_in(jax.random.key(3), i))
    accuracy.append(float(metrics["q_code_acc"]))
    mse.append(float(metrics.get("q_continuous_mse", 0.0)))
  assert np.mean(accuracy[-20:]) > 0.8, accuracy[-20:]
  assert np.mean(mse[-20:]) < 0.5, mse[-20:]


def test_code_digits_are_the_base_k_digits_least_significant_first():
  from jgan.models.layers import code_digits
  labels = jnp.asarray([0, 7, 123, 999, 560], jnp.int32)
  want = [[0, 0, 0], [7, 0, 0], [3, 2, 1], [9, 9, 9], [0, 6, 5]]
  np.testing.assert_array_equal(np.asarray(code_digits(labels, 10, 3)), want)
  # Uniform labels over K**G values have uniform, independent digits: each (digit, group) pair once per K labels.
  digits = np.asarray(code_digits(jnp.arange(64, dtype=jnp.int32), 4, 3))
  assert all(np.bincount(digits[:, g], minlength=4).tolist() == [16] * 4 for g in range(3))
  assert len({tuple(row) for row in digits}) == 64


def test_grouped_codes_give_g_one_embedding_per_digit_and_q_one_head_per_group(info_config):
  """info_groups=3 of 4-way codes: labels in [0, 64), G reads three 4-wide embeddings, Q 3 x 4 logits,
  and the code term is the sum of the three heads' cross-entropies (by hand)."""
  info_config.model.info_groups = 3
  info_config.train.info_weight = 0.5
  gan = tasks.make_task(info_config, (16, 16, 1))
  assert gan.num_classes == 64 and gan.code_groups == 3
  state = gan.init(jax.random.key(0), jnp.zeros((1, 16, 16, 1)))
  assert state.params["g"]["label_embed"]["embedding"].shape == (12, 4)
  # Changing one digit of the label changes G's output; G's input is the three digits' embeddings.
  z = jnp.zeros((3, info_config.model.latent_dim))
  images = np.asarray(gan.generate(state, z, labels=jnp.asarray([5, 6, 5 + 16]))[0])
  assert np.abs(images[0] - images[1]).max() > 1e-4 and np.abs(images[0] - images[2]).max() > 1e-4

  plain = gan.__class__(**{**gan.__dict__, "acgan_weight": 0.0})
  batch, key = _batch(np.zeros(16)), jax.random.key(4)
  with_term = gan._d_update(state, batch["x"], batch["label"], key)[1]["d_loss"]
  without = plain._d_update(state, batch["x"], batch["label"], key)[1]["d_loss"]
  from jgan.core import rng
  from jgan.tasks.state import split_logits
  z = gan.latents(rng.named(key, "d_latent"), 16)
  codes = np.asarray(gan.fake_labels(rng.named(key, "d_labels"), 16))
  assert codes.min() >= 0 and codes.max() < 64
  fake, _ = gan.apply_g(state.params["g"], state.batch_stats["g"], z, jnp.asarray(codes), True, None)
  _, d_stats = gan.apply_d(state.params["d"], state.batch_stats["d"], batch["x"], batch["label"], True)
  out, _ = gan.apply_d(state.params["d"], d_stats, fake, jnp.asarray(codes), True)
  q_logits = np.asarray(split_logits(out)[1], np.float64)
  assert q_logits.shape == (16, 12)
  want = 0.0
  for group in range(3):
    head = q_logits[:, 4 * group:4 * group + 4]
    log_q = head - np.log(np.exp(head).sum(-1, keepdims=True))
    want += -np.mean(log_q[np.arange(16), (codes // 4 ** group) % 4])
  np.testing.assert_allclose(float(with_term) - float(without), 0.5 * want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("edit, message", [
    (dict(num_classes=10), "both use G's label input"),
    (dict(info_codes=1), "carries nothing"),
    (dict(info_codes=-2), "must be an integer >= 0"),
    (dict(name="mlp"), "has no code input"),
    (dict(info_groups=0), "info_groups=0 must be an integer >= 1"),
    (dict(info_groups=3, info_codes=0), "info_groups counts InfoGAN codes"),
    (dict(info_groups=3, name="resnet"), "needs model 'dcgan'"),
    (dict(info_continuous=2, info_codes=0), "set config.model.info_codes too"),
    (dict(info_continuous=-1), "info_continuous=-1 must be an integer >= 0"),
    (dict(info_continuous=200), "use at most config.model.latent_dim"),
])
def test_bad_info_configs_fail_with_one_line(info_config, edit, message):
  for field, value in edit.items():
    info_config.model[field] = value
  with pytest.raises(UserError, match=message) as caught:
    tasks.validate(info_config)
  assert "\n" not in str(caught.value)


@pytest.mark.parametrize("edit, message", [
    (dict(model=dict(minibatch_std=True, mbstd_group=0)), "mbstd_group=0 must be positive"),
    (dict(model=dict(minibatch_std=True), train=dict(batch_size=6)), "a multiple of config.model.mbstd_group=4"),
])
def test_bad_minibatch_std_configs_fail_with_one_line(info_config, edit, message):
  for section, fields in edit.items():
    for field, value in fields.items():
      info_config[section][field] = value
  with pytest.raises(UserError, match=message) as caught:
    tasks.validate(info_config)
    tasks.make_task(info_config, (16, 16, 1))
  assert "\n" not in str(caught.value)
  config = config_lib.base_config()                       # a model without the switch refuses it
  config.model.name, config.model.minibatch_std = "mlp", True
  with pytest.raises(UserError, match="minibatch_std=True has no effect .* model 'mlp'"):
    tasks.validate(config)


def test_info_weight_without_a_code_and_pack_with_a_code_fail(info_config):
  info_config.train.pack = 2
  with pytest.raises(UserError, match="PacGAN"):
    tasks.validate(info_config)
  info_config.train.pack, info_config.model.info_codes, info_config.train.info_weight = 1, 0, 2.0
  with pytest.raises(UserError, match="info_weight weighs InfoGAN"):
    tasks.validate(info_config)
  info_config.train.info_weight, info_config.train.info_augment = 1.0, "stroke"
  with pytest.raises(UserError, match="info_augment augments the view InfoGAN's Q reads"):
    tasks.validate(info_config)
  info_config.model.info_codes, info_config.train.info_augment = 4, "stroke,slant"
  with pytest.raises(UserError, match="config.train.info_augment: unknown DiffAugment policy 'slant'"):
    tasks.validate(info_config)


def test_health_probe_neither_treats_the_code_as_labels_nor_counts_classes_with_q(info_config):
  """Q reads G's own codes back, so its verdict says nothing about the data's classes; the run is unconditional."""
  import types

  from jgan.train import health
  gan = tasks.make_task(info_config, (16, 16, 1))
  source = types.SimpleNamespace(element_shape=(16, 16, 1), length=32, num_classes=0,
                                 read=lambda idx: {"x": np.zeros((len(idx), 16, 16, 1), np.uint8)})
  probe = health.make_probe(gan, info_config, source)
  assert probe.conditional is False and probe.coded is True
  assert probe.classify is None and probe.num_classes == 0
  # An ACGAN run with real labels keeps its class check from the same head.
  info_config.model.info_codes, info_config.model.num_classes, info_config.model.acgan = 0, 4, True
  acgan = tasks.make_task(info_config, (16, 16, 1))
  probe = health.make_probe(acgan, info_config, source)
  assert probe.conditional is True and probe.coded is False
  assert probe.classify is not None and probe.num_classes == 4


def test_shown_labels_vary_every_code_of_a_grid(info_config):
  """generate's default labels: one code per column for one code; with three, all three vary in a 4x4 grid."""
  from jgan.models.layers import code_digits
  gan = tasks.make_task(info_config, (16, 16, 1))
  np.testing.assert_array_equal(np.asarray(gan.shown_labels(6)), [0, 1, 2, 3, 0, 1])
  info_config.model.info_groups = 3
  grouped = tasks.make_task(info_config, (16, 16, 1))
  labels = np.asarray(grouped.shown_labels(64))
  assert sorted(labels.tolist()) == list(range(64))     # a bijection of the 4**3 labels
  digits = np.asarray(code_digits(jnp.asarray(labels[:16]), 4, 3))
  np.testing.assert_array_equal(digits[:, 0], np.arange(16) % 4)   # column k: code k of the first group
  for group in range(3):   # every group's digit takes each value 4 times in the first 16
    assert np.bincount(digits[:, group], minlength=4).tolist() == [4, 4, 4, 4]

