"""Repair networks and tasks: exact compositing, sub-pixel shuffle, tiled upscaling, VGG loading."""
from types import SimpleNamespace

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgan.core.errors import UserError
from jgan.features import vgg
from jgan.infer import repair as apply
from jgan.models import repair as nets
from jgan.tasks import repair as tasks
from jgan.tasks.inpaint import InpaintTask


def test_composite_changes_only_masked_pixels_exactly():
  key = jax.random.key(0)
  image = jax.random.uniform(key, (4, 16, 16, 3), minval=-1, maxval=1)
  mask = (jax.random.uniform(jax.random.key(1), (4, 16, 16, 1)) > 0.7).astype(jnp.float32)
  raw = jnp.full_like(image, jnp.nan).at[:, ::2].set(0.5)   # even NaN outside the hole must not leak
  out = np.asarray(tasks.composite(raw, image, mask))
  hole = np.broadcast_to(np.asarray(mask) > 0.5, out.shape)
  np.testing.assert_array_equal(out[~hole], np.asarray(image)[~hole])  # bit for bit
  np.testing.assert_array_equal(out[hole], np.asarray(raw)[hole])


def test_inpaint_task_output_keeps_known_pixels_bit_for_bit():
  g = nets.InpaintGenerator(channels=3, width=8)
  image = jax.random.uniform(jax.random.key(0), (2, 16, 16, 3), minval=-1, maxval=1)
  mask = jnp.zeros((2, 16, 16, 1)).at[:, 4:10, 3:12].set(1.0)
  params = jax.jit(g.init)(jax.random.key(1), image, mask)["params"]
  task = InpaintTask(generator=g, discriminator=nets.PatchDiscriminator(8), g_optimizer=None,
                           d_optimizer=None, d_loss=None, g_loss=None)
  inpaint = jax.jit(lambda p, x, m: task.inpaint(SimpleNamespace(params={"g": p}), x, m))
  out = np.asarray(inpaint(params, image, mask))
  hole = np.broadcast_to(np.asarray(mask) > 0.5, out.shape)
  np.testing.assert_array_equal(out[~hole], np.asarray(image)[~hole])
  assert not np.allclose(out[hole], np.asarray(image)[hole])
  # The generator never sees the hole's original pixels: scrambling them changes nothing.
  scrambled = jnp.where(mask > 0.5, -image, image)
  np.testing.assert_array_equal(np.asarray(inpaint(params, scrambled, mask))[hole], out[hole])


def test_pixel_shuffle_places_channels_as_subpixels():
  r, c = 2, 3
  x = np.arange(1 * 2 * 2 * c * r * r, dtype=np.float32).reshape(1, 2, 2, c * r * r)
  y = np.asarray(nets.pixel_shuffle(jnp.asarray(x), r))
  assert y.shape == (1, 4, 4, c)
  for yy in range(2):
    for xx in range(2):
      for i in range(r):
        for j in range(r):
          for ch in range(c):
            assert y[0, yy * r + i, xx * r + j, ch] == x[0, yy, xx, ch * r * r + i * r + j]


@pytest.mark.parametrize("scale", [2, 4])
def test_srresnet_upscales_by_its_factor_and_starts_near_bicubic(scale):
  g = nets.SRResNet(channels=3, scale=scale, width=8, num_blocks=1)
  low = jax.random.uniform(jax.random.key(0), (2, 6, 5, 3), minval=-1, maxval=1)
  params = jax.jit(g.init)(jax.random.key(1), low)["params"]
  out = jax.jit(g.apply)({"params": params}, low)
  assert out.shape == (2, 6 * scale, 5 * scale, 3)
  # With the bicubic skip an untrained network is bicubic plus a small residual.
  assert float(jnp.mean(jnp.abs(out - nets.bicubic_upscale(low, scale)))) < 0.5


def _small_srresnet(scale=2):
  g = nets.SRResNet(channels=3, scale=scale, width=8, num_blocks=2)
  params = jax.jit(g.init)(jax.random.key(0), jnp.zeros((1, 8, 8, 3)))["params"]
  return g, jax.jit(lambda x: g.apply({"params": params}, x))


def test_tiled_upscaling_equals_one_pass_and_keeps_the_tile_batch_shape():
  g, fn = _small_srresnet(scale=2)
  image = np.asarray(jax.random.uniform(jax.random.key(2), (37, 29, 3), minval=-1, maxval=1))
  overlap = g.receptive_radius
  seen = []
  recording = lambda tiles: (seen.append(tiles.shape), fn(tiles))[1]
  tiled = apply.upscale_tiled(recording, image, 2, tile=8, overlap=overlap, tile_batch=3)
  # One pass: a single tile covering the image, same edge extension.
  whole = apply.upscale_tiled(fn, image, 2, tile=40, overlap=overlap, tile_batch=1)
  assert tiled.shape == whole.shape == (74, 58, 3)
  # The overlap covers the receptive field, so seams are invisible: equal up to float rounding everywhere.
  np.testing.assert_allclose(tiled, whole, atol=2e-4)
  window = 8 + 2 * overlap
  assert set(seen) == {(3, window, window, 3)}
  assert len(seen) == -(-(5 * 4) // 3)   # 5x4 tiles in batches of 3


def test_tiled_upscaling_memory_does_not_grow_with_the_image():
  _, fn = _small_srresnet(scale=2)
  shapes = {}
  for size in (12, 90):
    seen = set()
    image = np.zeros((size, size + 7, 3), np.float32)
    out = apply.upscale_tiled(lambda t: (seen.add(t.shape), fn(t))[1], image, 2, tile=16, overlap=6, tile_batch=2)
    assert out.shape == (2 * size, 2 * (size + 7), 3)
    shapes[size] = seen
  assert shapes[12] == shapes[90] == {(2, 28, 28, 3)}   # what the device holds per call is fixed


def test_tiles_with_too_little_overlap_show_seams():
  # The counter-check: with no overlap the tiles disagree with one pass near the seams.
  g, fn = _small_srresnet(scale=2)
  image = np.asarray(jax.random.uniform(jax.random.key(3), (32, 32, 3), minval=-1, maxval=1))
  whole = apply.upscale_tiled(fn, image, 2, tile=32, overlap=g.receptive_radius, tile_batch=1)
  tiled = apply.upscale_tiled(fn, image, 2, tile=16, overlap=0, tile_batch=2)
  assert np.max(np.abs(tiled - whole)) > 1e-2


def test_binarize_masks_thresholds_and_checks_size(capsys):
  soft = np.array([[[0.2, 0.6], [0.5, 1.0]]], np.float32)
  out = apply.binarize_masks(soft, (1, 2, 2, 3))
  np.testing.assert_array_equal(out[0, ..., 0], [[0, 1], [1, 1]])
  assert "thresholded at 0.5" in capsys.readouterr().err
  apply.binarize_masks(np.array([[[0, 255], [255, 0]]], np.uint8), (1, 2, 2, 3))
  assert capsys.readouterr().err == ""   # binary: no note
  with pytest.raises(UserError, match="image's size"):
    apply.binarize_masks(np.zeros((1, 3, 2)), (1, 2, 2, 3))


def test_vgg_features_load_from_a_local_npz(tmp_path):
  rng = np.random.default_rng(0)
  arrays = {}
  cin = 3
  for name in vgg.layer_names("conv2_1"):
    width = vgg.BLOCKS[int(name[4]) - 1][1]
    arrays[f"{name}/kernel"] = rng.normal(0, 0.05, (3, 3, cin, width)).astype(np.float32)
    arrays[f"{name}/bias"] = np.zeros(width, np.float32)
    cin = width
  path = tmp_path / "vgg.npz"
  np.savez(path, **arrays)
  apply_fn, params = vgg.load_extractor(str(path), "conv2_1", channels=1)
  (features,) = apply_fn(params, jnp.zeros((2, 16, 16, 1)))
  assert features.shape == (2, 8, 8, 128)
  with pytest.raises(UserError, match="lack conv2_2"):
    vgg.load_extractor(str(path), "conv2_2", channels=3)
  with pytest.raises(UserError, match="no such file"):
    vgg.load_extractor(str(tmp_path / "missing.npz"), "conv2_1", channels=3)
  with pytest.raises(UserError, match="vgg_layer"):
    vgg.layer_names("conv9_1")
