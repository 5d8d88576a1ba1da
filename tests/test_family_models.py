"""Architectures of the GAN family: StyleGAN pieces, conditional ResNet, BiGAN, mode metrics, probes."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.signal import correlate

from jgan.eval import probe
from jgan.metrics.modes import mode_stats
from jgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jgan.models.layers import minibatch_stddev
from jgan.models.resnet import ResNetDiscriminator, ResNetGenerator
from jgan.models.stylegan import StyleGenerator, modulated_conv
from jgan.tasks.gan import apply_net, init_net

RNG = np.random.default_rng(0)


def _reference_modconv(x, w, s, demodulate):
  """Per-example kernels w'' built explicitly, convolved with scipy ('same', cross-correlation)."""
  out = np.zeros(x.shape[:3] + (w.shape[-1],))
  for b in range(x.shape[0]):
    wb = w * s[b][None, None, :, None]
    if demodulate:
      wb = wb / np.sqrt(np.sum(wb ** 2, axis=(0, 1, 2), keepdims=True) + 1e-8)
    for o in range(w.shape[-1]):
      out[b, :, :, o] = sum(correlate(x[b, :, :, i], wb[:, :, i, o], mode="same") for i in range(x.shape[-1]))
  return out


def test_modulated_conv_equals_a_conv_with_per_example_demodulated_kernels():
  x = RNG.normal(size=(2, 5, 5, 3))
  w = RNG.normal(size=(3, 3, 3, 4))
  s = RNG.uniform(0.5, 2.0, size=(2, 3))
  for demod in (True, False):
    got = modulated_conv(*(jnp.asarray(a, jnp.float32) for a in (x, w, s)), demodulate=demod)
    np.testing.assert_allclose(np.asarray(got), _reference_modconv(x, w, s, demod), rtol=1e-4, atol=1e-4)
  # demodulation makes the output invariant to the scale of the style
  a = modulated_conv(jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32), jnp.asarray(s, jnp.float32))
  b = modulated_conv(jnp.asarray(x, jnp.float32), jnp.asarray(w, jnp.float32), jnp.asarray(3 * s, jnp.float32))
  np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)


def test_minibatch_stddev_matches_numpy_over_strided_groups():
  x = RNG.normal(size=(8, 3, 3, 2)).astype(np.float32)
  out = np.asarray(minibatch_stddev(jnp.asarray(x), group_size=4))
  assert out.shape == (8, 3, 3, 3)
  np.testing.assert_array_equal(out[..., :2], x)
  for b in range(8):
    group = x[b % 2::2]            # examples b, b +- 2, ...: StyleGAN's strided groups of 4
    want = np.mean(np.sqrt(np.var(group, axis=0) + 1e-8))
    np.testing.assert_allclose(out[b, :, :, 2], want, rtol=1e-5)


@pytest.mark.parametrize("group_size", [1, 2, 3, 8, 32])
def test_minibatch_stddev_group_sizes_match_numpy(group_size):
  """The map adds the group's slices (XLA:CPU reduces a short leading axis slowly): any group size G, including
  G = 1 (std 1e-4 = sqrt(1e-8)) and G > B (clipped to B), gives numpy's biased std over strided groups."""
  # Its own stream, not RNG: the tests below read RNG's next draws.
  x = np.random.default_rng(group_size).normal(size=(24, 2, 2, 3)).astype(np.float32)
  g = min(group_size, len(x))
  out = np.asarray(jax.jit(minibatch_stddev, static_argnums=1)(jnp.asarray(x), group_size))
  for i in range(len(x)):
    group = x[i % (len(x) // g)::len(x) // g]
    assert len(group) == g
    np.testing.assert_allclose(out[i, :, :, -1], np.mean(np.sqrt(np.var(group, axis=0) + 1e-8)), rtol=1e-5)


def test_minibatch_stddev_of_bfloat16_features_is_computed_in_float32():
  x = jnp.asarray(np.random.default_rng(5).normal(size=(8, 3, 3, 4)), jnp.bfloat16)
  out = minibatch_stddev(x, 4)
  assert out.dtype == jnp.bfloat16 and out.shape == (8, 3, 3, 5)
  want = minibatch_stddev(x.astype(jnp.float32), 4)[..., -1].astype(jnp.bfloat16)   # then rounded once
  np.testing.assert_array_equal(np.asarray(out[..., -1], np.float32), np.asarray(want, np.float32))


def test_dcgan_minibatch_std_lets_d_see_its_group_and_only_its_group():
  x = jnp.asarray(RNG.uniform(-1, 1, size=(8, 16, 16, 1)), jnp.float32)
  moved = x.at[0].multiply(-1.0)                                    # change example 0 only
  for group, coupled in ((0, {0}), (4, {0, 2, 4, 6})):              # groups of 4 over 8: examples b % 2
    d = DCGANDiscriminator(resolution=16, width=4, minibatch_std_group=group)
    params, stats = init_net(d, jax.random.key(0), x)
    if group:                                                       # one more input map: 8 + 1 channels at 4x4
      kernel = params["Dense_0"]["kernel"]
      assert kernel.shape == (9 * 4 * 4, 1)
      # Weigh the stddev map (every 9th flat feature) as much as the rest: at DCGAN's N(0, 0.02) init
      # its effect on the logit is ~1e-7, too close to rounding for the test to read.
      params["Dense_0"]["kernel"] = kernel.at[8::9].set(1.0)
    # train=False: BatchNorm uses its running statistics, so only the stddev map couples examples.
    a, b = (apply_net(d, params, stats, v, train=False)[0] for v in (x, moved))
    changed = {i for i in range(8) if abs(float(a[i] - b[i])) > 1e-5}
    assert changed == coupled


def test_stylegan_truncation_noise_and_mixing():
  z = jnp.asarray(RNG.normal(size=(4, 8)), jnp.float32)
  g = StyleGenerator(resolution=16, channels=1, width=4, max_mult=2, w_dim=8, mapping_layers=2)
  params, stats = init_net(g, jax.random.key(0), z)
  params = jax.tree.map(lambda p: p + 0.1, params)   # non-zero noise strengths
  _, stats = apply_net(g, params, stats, z, train=True)  # w_avg moves off zero
  truncated = g.clone(truncation=0.0)
  same = np.asarray(apply_net(truncated, params, stats, z, train=False)[0])
  assert same.shape == (4, 16, 16, 1)
  np.testing.assert_allclose(same, np.broadcast_to(same[:1], same.shape), atol=1e-6)  # psi=0: every w = w_avg
  plain = np.asarray(apply_net(g, params, stats, z, train=False)[0])
  assert np.std(plain, axis=0).mean() > 1e-4
  noisy = np.asarray(apply_net(g.clone(style_mixing=0.0), params, stats, z, train=True,
                               rngs={"noise": jax.random.key(1)})[0])
  quiet = np.asarray(apply_net(g.clone(style_mixing=0.0), params, stats, z, train=True)[0])
  assert not np.allclose(noisy, quiet)          # per-layer noise enters only with a key
  mixed = np.asarray(apply_net(g.clone(style_mixing=1.0), params, stats, z, train=True,
                               rngs={"noise": jax.random.key(1)})[0])
  assert not np.allclose(mixed, noisy)


def _assert_acgan_head(ac, images):
  """An ACGAN discriminator returns (logits (B,), class_logits (B, 5))."""
  labels = jnp.zeros(images.shape[0], jnp.int32)
  logits, class_logits = apply_net(ac, *init_net(ac, jax.random.key(2), images, labels), images, labels,
                                   train=False)[0]
  assert logits.shape == (images.shape[0],) and class_logits.shape == (images.shape[0], 5)


def test_conditional_generator_and_projection_discriminator_use_the_labels():
  z = jnp.asarray(RNG.normal(size=(3, 8)), jnp.float32)
  g = ResNetGenerator(resolution=16, channels=1, width=4, num_classes=5)
  params, stats = init_net(g, jax.random.key(0), z, jnp.zeros(3, jnp.int32))
  # Conditional BN starts as plain BN (zero embeddings); give the classes distinct scales.
  params = jax.tree_util.tree_map_with_path(
      lambda p, v: v + 0.5 * jnp.asarray(RNG.normal(size=v.shape), jnp.float32)
      if "gamma" in str(p) or "beta" in str(p) else v, params)
  a = apply_net(g, params, stats, z, jnp.array([0, 1, 2]), train=False)[0]
  b = apply_net(g, params, stats, z, jnp.array([3, 4, 0]), train=False)[0]
  assert not np.allclose(np.asarray(a), np.asarray(b))
  d = ResNetDiscriminator(resolution=16, width=4, num_classes=5, spectral_norm=False)
  dp, ds = init_net(d, jax.random.key(1), a, jnp.zeros(3, jnp.int32))
  l0 = apply_net(d, dp, ds, a, jnp.array([0, 0, 0]), train=False)[0]
  l1 = apply_net(d, dp, ds, a, jnp.array([1, 1, 1]), train=False)[0]
  assert l0.shape == (3,) and not np.allclose(np.asarray(l0), np.asarray(l1))
  # With a label embedding next to z, the labels matter from initialisation on.
  g_embed = ResNetGenerator(resolution=16, channels=1, width=4, num_classes=5, label_embed_dim=3)
  params_e, stats_e = init_net(g_embed, jax.random.key(3), z, jnp.zeros(3, jnp.int32))
  assert params_e["label_embed"]["embedding"].shape == (5, 3)
  e0 = apply_net(g_embed, params_e, stats_e, z, jnp.array([0, 0, 0]), train=False)[0]
  e1 = apply_net(g_embed, params_e, stats_e, z, jnp.array([1, 1, 1]), train=False)[0]
  assert float(jnp.max(jnp.abs(e0 - e1))) > 1e-3
  _assert_acgan_head(ResNetDiscriminator(resolution=16, width=4, num_classes=5, acgan=True), a)


def test_conditional_dcgan_reads_labels_in_g_and_projects_them_in_d():
  z = jnp.asarray(RNG.normal(size=(3, 8)), jnp.float32)
  g = DCGANGenerator(resolution=16, channels=1, width=4, num_classes=5)
  params, stats = init_net(g, jax.random.key(0), z, jnp.zeros(3, jnp.int32))
  assert params["label_embed"]["embedding"].shape == (5, 5)     # label_embed_dim 0: num_classes wide
  a = apply_net(g, params, stats, z, jnp.array([0, 1, 2]), train=False)[0]
  b = apply_net(g, params, stats, z, jnp.array([3, 4, 0]), train=False)[0]
  assert a.shape == (3, 16, 16, 1) and float(jnp.max(jnp.abs(a - b))) > 1e-4
  a = jnp.asarray(RNG.uniform(-1, 1, size=(3, 16, 16, 1)), jnp.float32)   # image-like input for D
  d = DCGANDiscriminator(resolution=16, width=4, num_classes=5)
  dp, ds = init_net(d, jax.random.key(1), a, jnp.zeros(3, jnp.int32))
  embedding = dp["ClassConditionalHead_0"]["Embed_0"]["embedding"]
  assert embedding.shape == (5, 8 * 4 * 4)                       # one vector per class over the flat features
  assert not np.any(np.asarray(embedding))                       # zero init: D starts unconditional
  embedding = jnp.asarray(RNG.normal(size=embedding.shape), jnp.float32)
  dp["ClassConditionalHead_0"]["Embed_0"]["embedding"] = embedding
  # Projection: logit(x, y) - logit(x, y') = <embed(y) - embed(y'), h(x)>, linear in the embedding.
  l0 = apply_net(d, dp, ds, a, jnp.array([0, 0, 0]), train=False)[0]
  zeroed = jax.tree_util.tree_map(lambda v: v, dp)
  zeroed["ClassConditionalHead_0"]["Embed_0"]["embedding"] = jnp.zeros_like(embedding)
  unconditional = apply_net(d, zeroed, ds, a, jnp.array([0, 0, 0]), train=False)[0]
  doubled = jax.tree_util.tree_map(lambda v: v, dp)
  doubled["ClassConditionalHead_0"]["Embed_0"]["embedding"] = 2 * embedding
  l0_doubled = apply_net(d, doubled, ds, a, jnp.array([0, 0, 0]), train=False)[0]
  np.testing.assert_allclose(np.asarray(l0_doubled - unconditional), 2 * np.asarray(l0 - unconditional),
                             rtol=1e-4, atol=1e-6)
  assert float(jnp.max(jnp.abs(l0 - unconditional))) > 1e-6
  _assert_acgan_head(DCGANDiscriminator(resolution=16, width=4, num_classes=5, acgan=True), a)


def test_mode_stats_on_hand_placed_points():
  modes = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
  sigma = 0.01
  points = np.array([[0.0, 0.01], [0.02, 0.0], [1.0, 0.029], [0.5, 0.5], [0.0, 1.05]])
  stats = mode_stats(points, modes, sigma)
  # HQ: the first three (distance < 0.03); modes 0 (2 points) and 1 (1 point) covered
  assert stats["modes"] == 2
  np.testing.assert_allclose(stats["hq"], 60.0)
  p = np.array([2 / 3, 1 / 3])
  np.testing.assert_allclose(stats["reverse_kl"], np.sum(p * np.log(p * 4)))
  even = mode_stats(np.repeat(modes, 3, axis=0), modes, sigma)
  assert even["modes"] == 4 and even["hq"] == 100.0 and abs(even["reverse_kl"]) < 1e-12
  assert mode_stats(np.array([[9.0, 9.0]]), modes, sigma)["reverse_kl"] == float("inf")


def test_ridge_probe_separates_separable_classes_and_fails_on_noise():
  centres = RNG.normal(size=(3, 20)) * 3
  labels = RNG.integers(0, 3, size=300)
  x = centres[labels] + RNG.normal(size=(300, 20))
  fitted = probe.fit_ridge(x[:200], labels[:200], 3)
  assert fitted.accuracy(x[200:], labels[200:]) > 0.95
  noise = probe.fit_ridge(RNG.normal(size=(200, 20)), labels[:200], 3)
  assert noise.accuracy(RNG.normal(size=(100, 20)), labels[200:]) < 0.6
