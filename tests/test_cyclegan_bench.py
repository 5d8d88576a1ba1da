"""CycleGAN's speed benchmark: the PyTorch nets are jgan's nets, and the rows come out of one call."""
import jax
import jax.numpy as jnp
import pytest

from jgan.bench import cyclegan_speed
from jgan.models import cyclegan as nets


def _count(tree) -> int:
  return sum(x.size for x in jax.tree.leaves(tree))


def test_torch_networks_have_jgans_shapes_and_parameter_counts():
  torch = pytest.importorskip("torch")
  generator, discriminator = cyclegan_speed.torch_networks(3, g_width=4, d_width=4, num_blocks=2)
  g, d = generator(), discriminator()
  x = jnp.zeros((1, 32, 32, 3))
  g_params = jax.eval_shape(lambda: nets.ResnetGenerator(3, width=4, num_blocks=2).init(jax.random.key(0), x))
  d_params = jax.eval_shape(lambda: nets.PatchGANDiscriminator(width=4).init(jax.random.key(0), x))
  assert sum(p.numel() for p in g.parameters()) == _count(g_params)
  assert sum(p.numel() for p in d.parameters()) == _count(d_params)
  with torch.no_grad():
    image = torch.zeros(1, 3, 32, 32)
    assert tuple(g(image).shape) == (1, 3, 32, 32)
    jgan_scores = nets.PatchGANDiscriminator(width=4).apply(
        nets.PatchGANDiscriminator(width=4).init(jax.random.key(0), x), x)
    assert tuple(d(image).shape) == (1, 1, *jgan_scores.shape[1:3])


def test_speed_rows_of_the_smoke_config():
  from experiments.configs import cyclegan as configs
  rows = cyclegan_speed.speed_rows(configs.get_config("smoke"), steps=1, warmup=1, torch_threads=(0, 1))
  names = [r["row"] for r in rows]
  assert names[0] == "jgan/step" and all(r["images_per_s"] > 0 for r in rows)
  try:
    import torch  # noqa: F401
    assert names == ["jgan/step", "torch/eager/tD", "torch/eager/t1"]
  except ImportError:
    assert names == ["jgan/step"]
