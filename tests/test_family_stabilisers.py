"""Stabilisers: gradient penalty, R1, spectral norm, EMA, clipping, n_critic, DiffAugment, validation."""
import functools
import re

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jgan import tasks
from jgan.core.errors import UserError
from jgan.models.mlp import MLPDiscriminator, MLPGenerator
from jgan.models.resnet import ResNetDiscriminator
from jgan.objectives import augment, regularizers
from jgan.objectives.losses import d_wasserstein, g_wasserstein
from jgan.tasks.gan import GAN, apply_net, ema_update, init_net

RNG = np.random.default_rng(0)


def test_gradient_penalty_of_a_linear_critic_is_lambda_times_norm_minus_one_squared():
  w = jnp.asarray(RNG.normal(size=(4, 4, 2)), jnp.float32)
  d_apply = lambda p, x: jnp.sum(x * p, axis=(1, 2, 3))   # D(x) = <w, x>: grad D = w everywhere
  real = jnp.asarray(RNG.normal(size=(5, 4, 4, 2)), jnp.float32)
  fake = jnp.asarray(RNG.normal(size=(5, 4, 4, 2)), jnp.float32)
  gp = regularizers.gradient_penalty(d_apply, w, real, fake, jax.random.key(0), weight=10.0)
  np.testing.assert_allclose(float(gp), 10.0 * (np.linalg.norm(np.asarray(w)) - 1.0) ** 2, rtol=1e-5)


def test_gradient_penalty_interpolates_with_one_coefficient_per_example():
  # D(x) = 1/2 ||x||^2 has grad D(x_hat) = x_hat, so the penalty depends on where x_hat lies.
  d_apply = lambda p, x: 0.5 * jnp.sum(x ** 2, axis=(1, 2, 3))
  real = RNG.normal(size=(6, 3, 3, 1)).astype(np.float32)
  fake = RNG.normal(size=(6, 3, 3, 1)).astype(np.float32)
  key = jax.random.key(3)
  eps = np.asarray(jax.random.uniform(key, (6, 1, 1, 1)))     # one draw per example
  x_hat = eps * real + (1 - eps) * fake
  want = 10.0 * np.mean((np.linalg.norm(x_hat.reshape(6, -1), axis=1) - 1) ** 2)
  got = regularizers.gradient_penalty(d_apply, None, jnp.asarray(real), jnp.asarray(fake), key, weight=10.0)
  np.testing.assert_allclose(float(got), want, rtol=1e-5)


def test_r1_of_a_quadratic_discriminator_and_its_lazy_schedule():
  a = RNG.normal(size=(3, 3)).astype(np.float32)
  d_apply = lambda p, x: jnp.einsum("bi,ij,bj->b", x, p, x)    # D(x) = x^T A x: grad = (A + A^T) x
  real = RNG.normal(size=(4, 3)).astype(np.float32)
  grads = real @ (a + a.T).T
  r1 = 0.5 * 2.0 * np.mean(np.sum(grads ** 2, axis=1))
  penalty = functools.partial(regularizers.r1_penalty, gamma=2.0)
  np.testing.assert_allclose(float(penalty(d_apply, jnp.asarray(a), real, None, None)), r1, rtol=1e-5)
  # Lazy, every 4 steps: weighted by 4 where due, absent elsewhere, decided on the device or fixed on the host.
  lazy = [regularizers.Penalty(penalty, every=4)]
  total = lambda step, due: regularizers.total(lazy, d_apply, jnp.asarray(a), real, None, [None], step, due)
  on_device = jax.jit(lambda step: total(step, None))
  for step, want in ((8, 4 * r1), (9, 0.0)):
    np.testing.assert_allclose(float(on_device(step)), want, rtol=1e-5)
    np.testing.assert_allclose(float(total(step, regularizers.due_at(lazy, step))), want, rtol=1e-5)
  assert regularizers.due_at(lazy, 8) == (True,) and regularizers.due_at(lazy, 9) == (False,)
  assert regularizers.due_at([regularizers.Penalty(penalty)], 9) is None      # nothing lazy: every step alike
  # Its gradient in A by hand, through the lazy total on a due step: R1 = mean_b ||(A + A^T) x_b||^2
  # (gamma 2), so dR1/dA = mean_b [u_b x_b^T + x_b u_b^T] with u_b = 2 (A + A^T) x_b.
  u = 2 * grads
  d_a = np.mean(np.einsum("bi,bj->bij", u, real) + np.einsum("bi,bj->bij", real, u), axis=0)
  grad = jax.grad(lambda p: regularizers.total(lazy, d_apply, p, real, None, [None], 8, (True,)))(jnp.asarray(a))
  np.testing.assert_allclose(np.asarray(grad), 4 * d_a, rtol=1e-4)


def test_spectral_norm_leaves_every_discriminator_weight_with_top_singular_value_one():
  # Conditional, so the projection embedding is checked too.
  d = ResNetDiscriminator(resolution=16, width=4, spectral_norm=True, num_classes=3)
  x = jnp.asarray(RNG.normal(size=(2, 16, 16, 3)), jnp.float32)
  y = jnp.array([0, 2])
  params, stats = init_net(d, jax.random.key(0), x, y)
  step = jax.jit(lambda s: apply_net(d, params, s, x, y, train=True)[1])
  for _ in range(60):  # power iteration converges over training steps
    stats = step(stats)
  flat_params = {"/".join(str(k.key) for k in path): v for path, v in jax.tree_util.tree_leaves_with_path(params)}
  checked = embeddings = 0
  for path, sigma in jax.tree_util.tree_leaves_with_path(stats):
    name = "/".join(str(k.key) for k in path)
    if not name.endswith("/sigma"):
      continue
    # stats .../_SN_i/SpectralNorm_0/Conv_j/kernel/sigma  <->  params .../Conv_j/kernel
    param_name = re.sub(r"_SN_\d+/SpectralNorm_0/", "", name).removesuffix("/sigma")
    w = np.asarray(flat_params[param_name])
    top = np.linalg.svd(w.reshape(-1, w.shape[-1]), compute_uv=False)[0]
    np.testing.assert_allclose(top / float(sigma), 1.0, rtol=2e-2)
    checked += 1
    embeddings += "Embed" in name
  assert checked >= 9 and embeddings == 1


def test_ema_after_k_updates_equals_the_closed_form():
  decay, k = 0.9, 5
  e0 = {"w": np.ones(3, np.float32)}
  params = [{"w": RNG.normal(size=3).astype(np.float32)} for _ in range(k)]
  ema = e0
  for p in params:
    ema = ema_update(ema, p, decay)
  want = decay ** k * e0["w"] + (1 - decay) * sum(decay ** (k - 1 - i) * p["w"] for i, p in enumerate(params))
  np.testing.assert_allclose(np.asarray(ema["w"]), want, rtol=1e-5)


def _toy_gan(**fields):
  return GAN(generator=MLPGenerator(output_shape=(2,), hidden=(8,), tanh_output=False),
             discriminator=MLPDiscriminator(hidden=(8,)), latent_dim=2,
             g_optimizer=optax.adam(1e-2), d_optimizer=optax.adam(1e-2), **fields)


def _toy_batch(n):
  return {"x": jnp.asarray(RNG.normal(size=(n, 2)), jnp.float32), "label": jnp.zeros((n,), jnp.int32)}


def test_train_step_keeps_the_generator_ema_with_its_warm_up():
  from jgan.objectives.losses import d_cross_entropy, g_non_saturating
  gan = _toy_gan(d_loss=d_cross_entropy, g_loss=g_non_saturating, ema_decay=0.5)
  state = gan.init(jax.random.key(0), jnp.zeros((1, 2)))
  history = [state.params["g"]]
  step = jax.jit(gan.train_step)
  for i in range(3):
    state, _ = step(state, _toy_batch(8), jax.random.key(i))
    history.append(state.params["g"])
  d0, d1, d2 = (min(0.5, (1 + t) / (10 + t)) for t in range(3))   # the warm-up schedule
  want = jax.tree.map(lambda p0, p1, p2, p3: d2 * (d1 * (d0 * p0 + (1 - d0) * p1) + (1 - d1) * p2) + (1 - d2) * p3,
                      *history)
  for got, ref in zip(jax.tree.leaves(state.ema_params["g"]), jax.tree.leaves(want)):
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-7)


def test_ema_without_its_warm_up_uses_the_decay_from_the_first_update():
  from jgan.objectives.losses import d_cross_entropy, g_non_saturating
  gan = _toy_gan(d_loss=d_cross_entropy, g_loss=g_non_saturating, ema_decay=0.5, ema_warmup=False)
  state = gan.init(jax.random.key(0), jnp.zeros((1, 2)))
  history = [state.params["g"]]
  for i in range(3):
    state, _ = jax.jit(gan.train_step)(state, _toy_batch(8), jax.random.key(i))
    history.append(state.params["g"])
  # 0.5 at every update: ema = p0 / 8 + p1 / 8 + p2 / 4 + p3 / 2 (the init keeps 0.5**3 of the weight)
  want = jax.tree.map(lambda p0, p1, p2, p3: p0 / 8 + p1 / 8 + p2 / 4 + p3 / 2, *history)
  for got, ref in zip(jax.tree.leaves(state.ema_params["g"]), jax.tree.leaves(want)):
    np.testing.assert_allclose(np.asarray(got), np.asarray(ref), rtol=1e-5, atol=1e-7)


def test_ema_decays_above_the_warm_ups_last_bound_give_the_same_weights_and_the_run_says_so():
  from jgan.objectives.losses import d_cross_entropy, g_non_saturating
  from jgan.tasks.state import ema_warmup_note
  # Hand derivation: (1 + t) / (10 + t) >= d  <=>  t >= (10 d - 1) / (1 - d): 8,990 for 0.999, 1,790 for 0.995;
  # a run of n updates ends at t = n - 1, bound n / (n + 9): 0.9985 for 6,000 (1 / (1 - bound) = 6,009 / 9 = 667.7).
  note = ema_warmup_note(0.999, 6000)
  assert "from step 8,990 on" in note and "decay 0.99850" in note and "about 668 steps" in note
  assert "from step 17,990 on" in ema_warmup_note(0.9995, 4500)
  assert ema_warmup_note(0.995, 6000) is None and ema_warmup_note(0.999, 9000) is None
  assert ema_warmup_note(0.999, 8990) is not None and ema_warmup_note(0.0, 10) is None
  # Three updates bound the decay by 3 / 12 = 0.25 at most: 0.5 and 0.9 train the same EMA bit for bit.
  emas, batches = [], [_toy_batch(8) for _ in range(3)]
  for decay in (0.5, 0.9):
    gan = _toy_gan(d_loss=d_cross_entropy, g_loss=g_non_saturating, ema_decay=decay)
    state = gan.init(jax.random.key(0), jnp.zeros((1, 2)))
    for i, batch in enumerate(batches):
      state, _ = jax.jit(gan.train_step)(state, batch, jax.random.key(i))
    emas.append(state.ema_params["g"])
  for a, b in zip(jax.tree.leaves(emas[0]), jax.tree.leaves(emas[1])):
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  assert ema_warmup_note(0.5, 3) is not None


def test_clipping_keeps_every_critic_weight_in_range_and_n_critic_counts_updates():
  gan = _toy_gan(d_loss=d_wasserstein, g_loss=g_wasserstein, d_clip=0.01, n_critic=3)
  state = gan.init(jax.random.key(0), jnp.zeros((1, 2)))
  state, _ = jax.jit(gan.train_step)(state, _toy_batch(3 * 8), jax.random.key(1))
  leaves = np.concatenate([np.ravel(w) for w in jax.tree.leaves(state.params["d"])])
  assert np.all(np.abs(leaves) <= 0.01)
  assert np.any(np.abs(leaves) == 0.01)   # the init exceeds c, so the clip is active
  assert int(state.opt_state["d"][0].count) == 3 and int(state.opt_state["g"][0].count) == 1


def test_translation_and_cutout_match_hand_built_images():
  x = RNG.normal(size=(2, 6, 5, 3)).astype(np.float32)
  shifted = np.asarray(augment.translate(jnp.asarray(x), jnp.array([[1, -2], [0, 0]])))
  want = np.zeros_like(x[0])
  want[1:, :3] = x[0, :5, 2:]     # down 1, left 2, zero fill
  np.testing.assert_array_equal(shifted[0], want)
  np.testing.assert_array_equal(shifted[1], x[1])
  mask = np.asarray(augment.cutout_mask((1, 8, 8, 1), jnp.array([[4, 4]]), (4, 4)))[0, ..., 0]
  want_mask = np.ones((8, 8))
  want_mask[2:6, 2:6] = 0
  np.testing.assert_array_equal(mask, want_mask)


def test_colour_ops_keep_their_invariants_and_diff_augment_is_differentiable():
  x = jnp.asarray(RNG.uniform(-1, 1, size=(3, 8, 8, 3)), jnp.float32)
  key = jax.random.key(0)
  np.testing.assert_allclose(np.mean(np.asarray(augment.contrast(x, key)), axis=(1, 2, 3)),
                             np.mean(np.asarray(x), axis=(1, 2, 3)), atol=1e-5)
  np.testing.assert_allclose(np.mean(np.asarray(augment.saturation(x, key)), axis=3),
                             np.mean(np.asarray(x), axis=3), atol=1e-5)
  bright = np.asarray(augment.brightness(x, key)) - np.asarray(x)
  assert np.allclose(bright, bright[:, :1, :1, :1]) and np.all(np.abs(bright) <= 0.5)
  g = jax.grad(lambda im: jnp.sum(augment.diff_augment(im, key)))(x)
  assert np.all(np.isfinite(np.asarray(g))) and float(jnp.sum(jnp.abs(g))) > 0
  # cutout alone: the gradient of the sum is exactly the keep-mask
  g_cut = np.asarray(jax.grad(lambda im: jnp.sum(augment.diff_augment(im, key, ("cutout",))))(x))
  assert set(np.unique(g_cut)) <= {0.0, 1.0} and 0 < g_cut.mean() < 1


@pytest.mark.parametrize("section,name,value,message", [
    ("train", "optimizer", "sgd", "optimizer='sgd'"),
    ("train", "augment", "color,flip", "unknown DiffAugment policy 'flip'"),
    ("train", "gp_weight", 10.0, "needs a D without BatchNorm"),
    ("model", "spectral_norm", True, "spectral_norm=True has no effect on task 'gan' with model 'dcgan'"),
    ("model", "num_classes", 10, "is unconditional"),
    ("train", "r1_every", 0, "r1_every=0 must be positive"),
    ("train", "g_topk", 0.0, "g_topk=0.0 must be in"),
    ("train", "g_topk_steps", -1, "g_topk_steps=-1 must be an integer"),
])
def test_bad_family_values_fail_with_one_line(smoke_config, section, name, value, message):
  if name == "num_classes":
    smoke_config.model.name = "mlp"
  smoke_config[section][name] = value
  with pytest.raises(UserError, match=message) as info:
    tasks.validate(smoke_config)
  assert "\n" not in str(info.value)


def test_label_smoothing_is_rejected_for_critic_losses(smoke_config):
  smoke_config.train.loss = "hinge"
  smoke_config.train.label_smoothing = 0.1
  with pytest.raises(UserError, match="label_smoothing applies to"):
    tasks.validate(smoke_config)


def test_wgan_config_builds_rmsprop_and_ttur_rates(smoke_config):
  smoke_config.train.optimizer = "rmsprop"
  smoke_config.train.g_lr, smoke_config.train.d_lr = 1e-3, 4e-3
  gan = tasks.make_task(smoke_config, (28, 28, 1))
  grads = {"w": jnp.ones(2)}
  for opt, lr in ((gan.g_optimizer, 1e-3), (gan.d_optimizer, 4e-3)):
    updates, _ = opt.update(grads, opt.init(grads))
    # PyTorch's RMSprop (the WGAN authors' code), first step from v = 0: v = (1 - 0.99) g^2,
    # update = -lr g / (sqrt(v) + 1e-8) = -lr / 0.1 for g = 1.
    np.testing.assert_allclose(np.asarray(updates["w"]), -lr / (np.sqrt(0.01) + 1e-8), rtol=1e-6)


def test_every_image_stabiliser_composes_in_one_conditional_step(smoke_config):
  # ACGAN head, spectral norm, DiffAugment and EMA in one jitted step (the wgan_gp and stylegan
  # smoke runs take the gradient penalty and lazy R1 through the same GAN step).
  c = smoke_config
  c.data.resolution = 16
  c.model.name, c.model.num_classes, c.model.acgan, c.model.spectral_norm = "resnet", 10, True, True
  c.train.batch_size = 8
  c.train.augment, c.train.ema_decay, c.train.loss = "color,translation,cutout", 0.99, "hinge"
  gan = tasks.make_task(c, (16, 16, 1))
  assert gan.acgan_weight == 1.0 and gan.augment is not None
  state = gan.init(jax.random.key(0), jnp.zeros((1, 16, 16, 1)))
  batch = {"x": jnp.asarray(RNG.uniform(-1, 1, size=(8, 16, 16, 1)), jnp.float32),
           "label": jnp.arange(8, dtype=jnp.int32)}
  state, metrics = jax.jit(gan.train_step)(state, batch, jax.random.key(1))
  assert "d_class_acc" in metrics and all(np.isfinite(float(v)) for v in metrics.values())
  samples = gan.generate(state, jnp.zeros((3, c.model.latent_dim)), labels=jnp.array([1, 2, 3]))[0]
  assert samples.shape == (3, 16, 16, 1) and "g" in state.ema_params


def test_conditional_config_on_unlabelled_or_wider_data_fails_with_one_line(smoke_config):
  from jgan.data.sources import Source
  smoke_config.model.name, smoke_config.model.num_classes = "resnet", 10
  source = lambda k: Source(name="/data/faces", length=5, element_shape=(28, 28, 1), dtype=np.dtype(np.uint8),
                            num_classes=k, read=None, fingerprint="x")
  with pytest.raises(UserError, match="needs labelled data, but /data/faces has no labels") as info:
    tasks.check_labels(smoke_config, source(0))
  assert "\n" not in str(info.value)
  with pytest.raises(UserError, match="set config.model.num_classes=12"):
    tasks.check_labels(smoke_config, source(12))
  tasks.check_labels(smoke_config, source(10))          # as many classes: fine
  smoke_config.model.num_classes = 0
  tasks.check_labels(smoke_config, source(0))           # unconditional: labels are not needed


def test_stroke_blends_towards_scipys_grey_dilation_or_erosion():
  """stroke: x + |t| (dilate3x3(x) - x) for t > 0, erosion for t < 0, t ~ U[-1, 1) per example and channel."""
  from scipy import ndimage
  x = RNG.uniform(-1, 1, size=(4, 7, 6, 3)).astype(np.float32)
  key = jax.random.key(3)
  out = np.asarray(augment.stroke(jnp.asarray(x), key))
  t = np.asarray(jax.random.uniform(key, (4, 1, 1, 3), jnp.float32, -1.0, 1.0))
  assert (t > 0).any() and (t < 0).any()
  for b in range(4):
    for c in range(3):
      grow = t[b, 0, 0, c] > 0
      target = (ndimage.grey_dilation if grow else ndimage.grey_erosion)(x[b, ..., c], size=(3, 3), mode="nearest")
      want = x[b, ..., c] + abs(t[b, 0, 0, c]) * (target - x[b, ..., c])
      np.testing.assert_allclose(out[b, ..., c], want, atol=1e-6)


def test_affine_matches_scipys_affine_transform_with_the_drawn_parameters():
  """affine: output pixel p (centred) reads the input at S^-1 (p - shift - shear * p_row e_col), bilinear, -1
  outside: the same warp by scipy.ndimage.affine_transform; zero parameters leave the image as it is."""
  from scipy import ndimage

  from jgan.core import rng
  x = RNG.uniform(-1, 1, size=(3, 9, 8, 2)).astype(np.float32)
  key = jax.random.key(4)
  out = np.asarray(augment.affine(jnp.asarray(x), key))
  shears = np.asarray(jax.random.uniform(rng.named(key, "shear"), (3, 2), jnp.float32, -0.3, 0.3))
  scales = 1 + np.asarray(jax.random.uniform(rng.named(key, "scale"), (3, 2, 2), jnp.float32, -0.1, 0.1))
  shifts = np.asarray(jax.random.uniform(rng.named(key, "shift"), (3, 2, 2), jnp.float32, -0.1, 0.1)) * [9, 8]
  centre = np.array([4.0, 3.5])
  for b in range(3):
    for c in range(2):
      (sr, sc), (hr, hc), k = scales[b, c], shifts[b, c], shears[b, c]
      matrix = np.array([[1 / sr, 0.0], [-k / sc, 1 / sc]])
      offset = centre - matrix @ centre - np.array([hr / sr, hc / sc])
      want = ndimage.affine_transform(x[b, ..., c].astype(np.float64), matrix, offset, order=1,
                                      mode="grid-constant", cval=-1.0)
      np.testing.assert_allclose(out[b, ..., c], want, atol=1e-5)
  still = np.asarray(augment.affine(jnp.asarray(x), key, shear=0.0, scale=0.0, shift=0.0))
  np.testing.assert_allclose(still, x, atol=1e-6)
  g = np.asarray(jax.grad(lambda im: jnp.sum(augment.diff_augment(im, key, ("stroke", "affine"))))(jnp.asarray(x)))
  assert np.all(np.isfinite(g)) and np.abs(g).sum() > 0
