"""The fast transposed convolution and the DCGAN/MLP modules."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jgan.models.dcgan import DCGANDiscriminator, DCGANGenerator
from jgan.models.layers import UpConv, conv_transpose, start_size
from jgan.models.mlp import MLPDiscriminator, MLPGenerator


def _reference_conv_transpose(x, kernel):
  # lax.conv_transpose with transpose_kernel=True is the gradient-of-conv definition;
  # PyTorch padding p=1 with k=4 corresponds to lax padding k - 1 - p = 2 on each side.
  return jax.lax.conv_transpose(x, kernel, (2, 2), ((2, 2), (2, 2)),
                                dimension_numbers=("NHWC", "HWIO", "NHWC"), transpose_kernel=True)


def test_conv_transpose_matches_lax_and_its_gradients():
  kx, kw, kc = jax.random.split(jax.random.key(0), 3)
  x = jax.random.normal(kx, (2, 5, 7, 3))
  kernel = jax.random.normal(kw, (4, 4, 6, 3))
  cotangent = jax.random.normal(kc, (2, 10, 14, 6))
  chex.assert_trees_all_close(conv_transpose(x, kernel), _reference_conv_transpose(x, kernel), atol=1e-5)
  loss = lambda f: (lambda x, k: jnp.sum(f(x, k) * cotangent))
  ours = jax.grad(loss(conv_transpose), (0, 1))(x, kernel)
  reference = jax.grad(loss(_reference_conv_transpose), (0, 1))(x, kernel)
  chex.assert_trees_all_close(ours, reference, atol=1e-4, rtol=1e-5)


def test_upconv_doubles_resolution():
  module = UpConv(features=4)
  x = jnp.ones((3, 7, 7, 2))
  variables = module.init(jax.random.key(0), x)
  chex.assert_shape(module.apply(variables, x), (3, 14, 14, 4))
  # DCGAN init: N(0, 0.02)
  assert abs(float(jnp.std(variables["params"]["kernel"])) - 0.02) < 0.005


@pytest.mark.parametrize("resolution,channels", [(16, 1), (28, 1), (32, 3), (64, 3)])
def test_dcgan_shapes_and_ranges(resolution, channels):
  g = DCGANGenerator(resolution=resolution, channels=channels, width=4)
  d = DCGANDiscriminator(resolution=resolution, width=4)
  z = jax.random.normal(jax.random.key(1), (2, 8))
  gv = g.init(jax.random.key(0), z, train=False)
  images = g.apply(gv, z, train=False)
  chex.assert_shape(images, (2, resolution, resolution, channels))
  assert float(jnp.max(jnp.abs(images))) <= 1.0
  dv = d.init(jax.random.key(0), images, train=False)
  chex.assert_shape(d.apply(dv, images, train=False), (2,))


def test_dcgan_64_matches_pytorch_examples_parameter_counts():
  """nz 100, 64 filters, 64x64x3: pytorch/examples/dcgan prints 3,576,704 (G) and 2,765,568 (D) parameters."""
  count = lambda v: sum(x.size for x in jax.tree.leaves(v["params"]))
  g = DCGANGenerator(resolution=64, channels=3, width=64)
  d = DCGANDiscriminator(resolution=64, width=64)
  assert count(g.init(jax.random.key(0), jnp.zeros((1, 100)), train=False)) == 3_576_704
  assert count(d.init(jax.random.key(0), jnp.zeros((1, 64, 64, 3)), train=False)) == 2_765_568


def test_dcgan_dense_hidden_is_infogans_mnist_architecture():
  """dense_hidden=1024, width 64 at 28 px is InfoGAN's MNIST nets (Chen et al. 2016, table 1): G: FC 1024 BN ReLU,
  FC 7x7x128 BN ReLU, 4x4 up-conv 64 BN ReLU, 4x4 up-conv 1; D: 4x4 conv 64 lReLU, 4x4 conv 128 BN lReLU,
  FC 1024 BN lReLU, FC 1. Counts from that table (no biases before a BatchNorm, BN = scale + offset)."""
  count = lambda v: sum(x.size for x in jax.tree.leaves(v["params"]))
  g = DCGANGenerator(resolution=28, channels=1, width=64, dense_hidden=1024)
  d = DCGANDiscriminator(resolution=28, width=64, dense_hidden=1024)
  g_expected = 100 * 1024 + 2 * 1024 + 1024 * 7 * 7 * 128 + 2 * 128 + 4 * 4 * 128 * 64 + 2 * 64 + 4 * 4 * 64 * 1
  d_expected = 4 * 4 * 1 * 64 + 4 * 4 * 64 * 128 + 2 * 128 + 7 * 7 * 128 * 1024 + 2 * 1024 + 1024 * 1
  z = jnp.zeros((2, 100))
  gv = g.init(jax.random.key(0), z, train=False)
  assert count(gv) == g_expected
  dv = d.init(jax.random.key(0), jnp.zeros((2, 28, 28, 1)), train=False)
  assert count(dv) == d_expected
  images = g.apply(gv, z, train=False)
  chex.assert_shape(images, (2, 28, 28, 1))
  chex.assert_shape(d.apply(dv, images, train=False), (2,))


@pytest.mark.parametrize("resolution", [8, 12, 30, 576])
def test_dcgan_rejects_unsupported_resolutions(resolution):
  with pytest.raises(ValueError):
    start_size(resolution)


def test_mlp_shapes():
  g = MLPGenerator(output_shape=(2,), hidden=(8,), tanh_output=False)
  d = MLPDiscriminator(hidden=(8,))
  z = jnp.ones((5, 3))
  points = g.apply(g.init(jax.random.key(0), z), z)
  chex.assert_shape(points, (5, 2))
  chex.assert_shape(d.apply(d.init(jax.random.key(0), points), points), (5,))
  assert np.isfinite(np.asarray(points)).all()
