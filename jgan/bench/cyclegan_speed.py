"""Training speed of CycleGAN: jgan's step next to a PyTorch implementation of the same nets, same process.

Every number is domain-A images per second of training (one step = one update of G and F on a batch
of a and one of b, then one update of D_A and D_B on pooled fakes), the median over timed windows
after a warm-up (`jgan.bench.speed.time_windows`), on synthetic batches (the input pipeline is not
timed: both sides get tensors already in memory).

Rows:
  jgan/step        `CycleGANTask.train_step`, jitted, on the config's task (nets, losses, pools, Adam)
  torch/eager/tN   the same step in PyTorch eager mode on N intra-op threads (tD: torch's default),
                   written here from the paper (Zhu et al. 2017, appendix 7.2): ResNet generator with
                   reflection padding and instance norm, 70x70 PatchGAN, LSGAN (MSE) losses, cycle and
                   identity L1, 50-image pools, Adam b1 = 0.5; left out without torch
"""
from __future__ import annotations

import random

import jax

from jgan.bench.speed import row, time_windows
from jgan.core import rng
from jgan.models.cyclegan import PATCH_LAYERS


def bench_jgan_step(task, batch_size: int, resolution: int, channels: int, steps: int, warmup: int) -> float:
  """Seconds per `task.train_step` (jitted) on fixed random batches in [-1, 1]."""
  key = jax.random.key(0)
  shape = (batch_size, resolution, resolution, channels)
  batch = {"x": jax.random.uniform(rng.named(key, "a"), shape, minval=-1, maxval=1),
           "x_b": jax.random.uniform(rng.named(key, "b"), shape, minval=-1, maxval=1)}
  state = task.init(key, batch["x"])
  step_fn = jax.jit(task.train_step)
  holder = {"state": state, "i": 0}

  def step():
    holder["state"], _ = step_fn(holder["state"], batch, rng.step_key(key, holder["i"]))
    holder["i"] += 1

  sync = lambda: jax.block_until_ready(holder["state"])
  for _ in range(warmup):
    step()
  return time_windows(step, sync, steps)


def torch_networks(channels: int, g_width: int, d_width: int, num_blocks: int):
  """(generator, discriminator) factories in PyTorch with jgan.models.cyclegan's layout; None without torch."""
  try:
    from torch import nn
  except ImportError:
    return None

  class Residual(nn.Module):
    def __init__(self, features):
      super().__init__()
      self.body = nn.Sequential(
          nn.ReflectionPad2d(1), nn.Conv2d(features, features, 3), nn.InstanceNorm2d(features), nn.ReLU(True),
          nn.ReflectionPad2d(1), nn.Conv2d(features, features, 3), nn.InstanceNorm2d(features))

    def forward(self, x):
      return x + self.body(x)

  def generator():
    k = g_width
    layers = [nn.ReflectionPad2d(3), nn.Conv2d(channels, k, 7), nn.InstanceNorm2d(k), nn.ReLU(True)]
    for mult in (1, 2):     # d2k, d4k
      layers += [nn.Conv2d(k * mult, k * mult * 2, 3, 2, 1), nn.InstanceNorm2d(k * mult * 2), nn.ReLU(True)]
    layers += [Residual(4 * k) for _ in range(num_blocks)]
    for mult in (4, 2):     # u2k, uk: output_padding 1 doubles the size, as flax's "SAME" transpose conv
      layers += [nn.ConvTranspose2d(k * mult, k * mult // 2, 3, 2, 1, output_padding=1),
                 nn.InstanceNorm2d(k * mult // 2), nn.ReLU(True)]
    layers += [nn.ReflectionPad2d(3), nn.Conv2d(k, channels, 7), nn.Tanh()]
    return nn.Sequential(*layers)

  def discriminator():
    layers, features = [], channels
    for i, (mult, kernel, stride, norm) in enumerate(PATCH_LAYERS):
      last = i == len(PATCH_LAYERS) - 1
      out = 1 if last else d_width * mult
      layers.append(nn.Conv2d(features, out, kernel, stride, 1))
      if not last:
        layers += ([nn.InstanceNorm2d(out)] if norm else []) + [nn.LeakyReLU(0.2, True)]
      features = out
    return nn.Sequential(*layers)

  return generator, discriminator


def bench_torch_step(batch_size: int, resolution: int, channels: int, g_width: int, d_width: int, num_blocks: int,
                     steps: int, warmup: int, lr: float = 2e-4, cycle_weight: float = 10.0,
                     identity_weight: float = 0.5, pool_size: int = 50, threads: int = 0) -> float | None:
  """Seconds per CycleGAN step in PyTorch eager (see the module docstring) on `threads` intra-op threads
  (0: torch's default); None without torch."""
  nets = torch_networks(channels, g_width, d_width, num_blocks)
  if nets is None:
    return None
  import torch
  previous = torch.get_num_threads()
  if threads:
    torch.set_num_threads(threads)
  try:
    return _torch_loop(nets, batch_size, resolution, channels, steps, warmup, lr, cycle_weight,
                       identity_weight, pool_size)
  finally:
    torch.set_num_threads(previous)


def _torch_loop(nets, batch_size, resolution, channels, steps, warmup, lr, cycle_weight, identity_weight,
                pool_size) -> float:
  import itertools

  import torch
  generator, discriminator = nets
  torch.manual_seed(0)
  g, f, d_a, d_b = generator(), generator(), discriminator(), discriminator()
  opt_g = torch.optim.Adam(itertools.chain(g.parameters(), f.parameters()), lr=lr, betas=(0.5, 0.999))
  opt_d = torch.optim.Adam(itertools.chain(d_a.parameters(), d_b.parameters()), lr=lr, betas=(0.5, 0.999))
  mse, l1 = torch.nn.MSELoss(), torch.nn.L1Loss()
  shape = (batch_size, channels, resolution, resolution)
  a, b = torch.rand(shape) * 2 - 1, torch.rand(shape) * 2 - 1
  chooser = random.Random(0)

  def pooled(pool, fakes):
    # The history rule of jgan.tasks.cyclegan.pool_update, image by image.
    out = []
    for image in fakes.detach():
      if len(pool) < pool_size:
        pool.append(image)
        out.append(image)
      elif chooser.random() < 0.5:
        where = chooser.randrange(pool_size)
        out.append(pool[where])
        pool[where] = image
      else:
        out.append(image)
    return torch.stack(out)

  pools = ([], [])

  def adversarial(scores, target):
    return mse(scores, torch.full_like(scores, target))

  def step():
    for net in (d_a, d_b):
      net.requires_grad_(False)
    opt_g.zero_grad()
    fake_b, fake_a = g(a), f(b)
    loss = (adversarial(d_b(fake_b), 1.0) + adversarial(d_a(fake_a), 1.0)
            + cycle_weight * (l1(f(fake_b), a) + l1(g(fake_a), b))
            + identity_weight * cycle_weight * (l1(g(b), b) + l1(f(a), a)))
    loss.backward()
    opt_g.step()
    for net in (d_a, d_b):
      net.requires_grad_(True)
    opt_d.zero_grad()
    d_loss = 0.0
    for net, real, fake, pool in ((d_a, a, fake_a, pools[0]), (d_b, b, fake_b, pools[1])):
      d_loss = d_loss + 0.5 * (adversarial(net(real), 1.0) + adversarial(net(pooled(pool, fake)), 0.0))
    d_loss.backward()
    opt_d.step()

  for _ in range(warmup):
    step()
  return time_windows(step, lambda: None, steps)


def speed_rows(config, steps: int = 12, warmup: int = 3, torch_threads=(0, 1)) -> list[dict]:
  """jgan/step and one torch/eager row per entry of `torch_threads` (0: torch's default; `jgan.bench.speed.row`)
  for the CycleGAN of `config` (its batch and nets). On a loaded machine torch's OpenMP threads can wait on
  each other far longer than they compute, hence the single-thread row beside the default."""
  from jgan.tasks import make_task
  # The authors' nets have no code (config.model.code_dim): time the paper's step on both sides.
  config = config.copy_and_resolve_references()
  config.model.code_dim = 0
  t, m, d = config.train, config.model, config.data
  task = make_task(config, (d.resolution, d.resolution, d.channels))
  device = str(jax.devices()[0])
  seconds = bench_jgan_step(task, t.batch_size, d.resolution, d.channels, steps, warmup)
  rows = [row("jgan/step", t.batch_size, m.dtype, 1, seconds, device)]
  for threads in torch_threads:
    seconds = bench_torch_step(t.batch_size, d.resolution, d.channels, m.g_width, m.d_width, m.num_blocks, steps,
                               warmup, t.g_lr, t.cycle_weight, t.identity_weight, t.pool_size, threads)
    if seconds is None:
      break
    import torch
    used = threads or torch.get_num_threads()
    rows.append(row(f"torch/eager/t{threads or 'D'}", t.batch_size, "float32", 1, seconds, f"cpu, {used} threads"))
  return rows
