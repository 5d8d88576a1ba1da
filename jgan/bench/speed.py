"""Training-speed benchmarks: jgan's step next to baselines run in the same process.

Every number is images per second of training (real images consumed by D,
one D + one G update per step), median over timed windows after a warm-up,
measured on whatever JAX/torch devices this process sees.

Rows:
  jgan/device   the library's step, batches gathered on the device from the
                uint8 dataset held there (the input pipeline included)
  jgan/host     the library's step fed by the host pipeline (decode, shard, prefetch)
  flax/plain    a plain jitted Flax step on synthetic tensors, written the usual
                way (nn.ConvTranspose, G forward twice): what a user gets from a
                straightforward port
  torch/eager   PyTorch eager, the loop of pytorch/examples/dcgan (DataLoader,
                BCELoss on sigmoid outputs, G forward once) on the same model
  torch/tuned   the same step as a PyTorch user tunes it for a GPU: data on the device,
                bf16 autocast, channels_last, fused Adam, one CUDA graph per step
                (`experiments.bench_gpu`)
"""
from __future__ import annotations

import json
import statistics
import time
from typing import Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jgan.core.sharding import make_mesh, replicated
from jgan.data.pipeline import make_feeder
from jgan.data.sources import open_source
from jgan.models.layers import start_size
from jgan.tasks import make_task
from jgan.train import run


def time_windows(step: Callable[[], None], sync: Callable[[], None], steps: int, windows: int = 3) -> float:
  """Median seconds per step over `windows` windows of `steps // windows` steps each."""
  per = max(1, steps // windows)
  times = []
  for _ in range(windows):
    sync()
    start = time.perf_counter()
    for _ in range(per):
      step()
    sync()
    times.append((time.perf_counter() - start) / per)
  return statistics.median(times)


def bench_jgan(config, placement: str, steps: int, warmup: int) -> float:
  """Seconds per training step of the library's jitted step (steps_per_call steps per call)."""
  config = config.copy_and_resolve_references()
  config.data.placement = placement
  shape = run.element_shape(config.data)
  mesh = make_mesh(config.train.num_devices)
  task = make_task(config, shape)
  source = open_source(config.data, seed=config.seed)
  k = config.train.steps_per_call
  feeder = make_feeder(source, config.data, config.train.batch_size * task.batch_multiple, mesh, config.seed)
  sharding = replicated(mesh)
  step_fn = run.make_step_fn(task, feeder, sharding, k, config.train.scan_rolled,
                             phased=not config.train.lazy_on_device)
  holder = {"state": run.init_state(task, config.seed, shape, sharding), "step": 0, "metrics": None}

  def step():
    holder["state"], holder["metrics"] = step_fn(holder["state"], feeder.next_feed(holder["step"], k), holder["step"])
    holder["step"] += k

  sync = lambda: jax.block_until_ready(holder["state"])
  try:
    with jax.set_mesh(mesh):
      for _ in range(max(1, warmup // k)):
        step()
      return time_windows(step, sync, max(1, steps // k)) / k
  finally:
    feeder.close()


# ---------------------------------------------------------------- plain Flax baseline

class _PlainG(nn.Module):
  resolution: int
  channels: int
  width: int

  @nn.compact
  def __call__(self, z, train=True):
    size, k = start_size(self.resolution)
    c = self.width * min(2 ** (k - 1), 8)
    x = nn.Dense(size * size * c, use_bias=False)(z).reshape(z.shape[0], size, size, c)
    x = nn.relu(nn.BatchNorm(use_running_average=not train)(x))
    for level in reversed(range(k - 1)):
      x = nn.ConvTranspose(self.width * min(2 ** level, 8), (4, 4), (2, 2), padding="SAME", use_bias=False)(x)
      x = nn.relu(nn.BatchNorm(use_running_average=not train)(x))
    return jnp.tanh(nn.ConvTranspose(self.channels, (4, 4), (2, 2), padding="SAME", use_bias=False)(x))


class _PlainD(nn.Module):
  resolution: int
  width: int

  @nn.compact
  def __call__(self, x, train=True):
    _, k = start_size(self.resolution)
    for level in range(k):
      x = nn.Conv(self.width * min(2 ** level, 8), (4, 4), (2, 2), padding=((1, 1), (1, 1)), use_bias=False)(x)
      if level:
        x = nn.BatchNorm(use_running_average=not train)(x)
      x = nn.leaky_relu(x, 0.2)
    return nn.Dense(1, use_bias=False)(x.reshape(x.shape[0], -1))[:, 0]


def bench_plain_flax(resolution: int, channels: int, width: int, latent_dim: int, batch_size: int,
                     steps: int, warmup: int) -> float:
  """Seconds per step of a textbook jitted Flax DCGAN step on synthetic data."""
  g, d = _PlainG(resolution, channels, width), _PlainD(resolution, width)
  key = jax.random.key(0)
  gv = g.init(key, jnp.zeros((1, latent_dim)), train=False)
  dv = d.init(key, jnp.zeros((1, resolution, resolution, channels)), train=False)
  tx = optax.adam(2e-4, b1=0.5)
  state = (gv, dv, tx.init(gv["params"]), tx.init(dv["params"]))
  real = jax.random.uniform(key, (batch_size, resolution, resolution, channels), minval=-1, maxval=1)

  @jax.jit
  def train_step(state, key):
    gv, dv, g_opt, d_opt = state
    kd, kg = jax.random.split(key)
    fake, g_upd = g.apply(gv, jax.random.normal(kd, (batch_size, latent_dim)), mutable=["batch_stats"])

    def d_loss(p):
      r, upd = d.apply({**dv, "params": p}, real, mutable=["batch_stats"])
      f, upd = d.apply({**dv, "params": p, **upd}, jax.lax.stop_gradient(fake), mutable=["batch_stats"])
      return jnp.mean(optax.sigmoid_binary_cross_entropy(r, 1.0) + optax.sigmoid_binary_cross_entropy(f, 0.0)), upd
    (_, d_upd), grads = jax.value_and_grad(d_loss, has_aux=True)(dv["params"])
    updates, d_opt = tx.update(grads, d_opt, dv["params"])
    dv = {**dv, **d_upd, "params": optax.apply_updates(dv["params"], updates)}

    def g_loss(p):
      f, upd = g.apply({**gv, "params": p}, jax.random.normal(kg, (batch_size, latent_dim)), mutable=["batch_stats"])
      logits, _ = d.apply(dv, f, mutable=["batch_stats"])
      return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, 1.0)), upd
    (_, g_upd), grads = jax.value_and_grad(g_loss, has_aux=True)(gv["params"])
    updates, g_opt = tx.update(grads, g_opt, gv["params"])
    gv = {**gv, **g_upd, "params": optax.apply_updates(gv["params"], updates)}
    return gv, dv, g_opt, d_opt

  holder = {"state": state, "i": 0}

  def step():
    holder["state"] = train_step(holder["state"], jax.random.fold_in(key, holder["i"]))
    holder["i"] += 1

  sync = lambda: jax.block_until_ready(holder["state"])
  for _ in range(warmup):
    step()
  return time_windows(step, sync, steps)


# ---------------------------------------------------------------- PyTorch baseline

def _torch_dcgan(resolution: int, channels: int, width: int, latent_dim: int, sigmoid: bool = True):
  """pytorch/examples/dcgan's G and D for `resolution` (a power of two times 4 or 7); D ends in a
  sigmoid (for BCELoss, as that example) unless `sigmoid=False` (logits, for BCEWithLogitsLoss)."""
  from torch import nn as tnn
  size, k = start_size(resolution)
  mult = lambda level: width * min(2 ** level, 8)
  g_layers = [tnn.ConvTranspose2d(latent_dim, mult(k - 1), size, 1, 0, bias=False), tnn.BatchNorm2d(mult(k - 1)),
              tnn.ReLU(True)]
  for level in reversed(range(k - 1)):
    g_layers += [tnn.ConvTranspose2d(mult(level + 1), mult(level), 4, 2, 1, bias=False), tnn.BatchNorm2d(mult(level)),
                 tnn.ReLU(True)]
  g_layers += [tnn.ConvTranspose2d(mult(0), channels, 4, 2, 1, bias=False), tnn.Tanh()]
  d_layers = [tnn.Conv2d(channels, mult(0), 4, 2, 1, bias=False), tnn.LeakyReLU(0.2, inplace=True)]
  for level in range(1, k):
    d_layers += [tnn.Conv2d(mult(level - 1), mult(level), 4, 2, 1, bias=False), tnn.BatchNorm2d(mult(level)),
                 tnn.LeakyReLU(0.2, inplace=True)]
  d_layers += [tnn.Conv2d(mult(k - 1), 1, size, 1, 0, bias=False)] + ([tnn.Sigmoid()] if sigmoid else [])
  return tnn.Sequential(*g_layers), tnn.Sequential(*d_layers)


def _torch_sync(device: str) -> Callable[[], None]:
  import torch
  return torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)


def bench_torch(images_uint8: np.ndarray, resolution: int, channels: int, width: int, latent_dim: int,
                batch_size: int, steps: int, warmup: int, threads: int | None = None,
                device: str = "cpu") -> float | None:
  """Seconds per step of the pytorch/examples/dcgan loop on the same model; None without torch.

  As that example runs it: float32, eager, a DataLoader over the dataset in host memory (batches
  copied to `device` each step), BCELoss on D's sigmoid, one G forward per step."""
  try:
    import torch
    from torch import nn as tnn
  except ImportError:
    return None
  if threads:
    torch.set_num_threads(threads)
  torch.manual_seed(0)
  net_g, net_d = (net.to(device) for net in _torch_dcgan(resolution, channels, width, latent_dim))
  criterion = tnn.BCELoss()
  opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999))
  opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999))
  data = torch.from_numpy(images_uint8).permute(0, 3, 1, 2).float().div(127.5).sub(1.0)
  loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(data), batch_size=batch_size, shuffle=True,
                                       drop_last=True)
  batches = iter(loader)

  def step():
    nonlocal batches
    try:
      (real,) = next(batches)
    except StopIteration:
      batches = iter(loader)
      (real,) = next(batches)
    real = real.to(device)
    net_d.zero_grad()
    label = torch.full((batch_size,), 1.0, device=device)
    err_real = criterion(net_d(real).view(-1), label)
    err_real.backward()
    fake = net_g(torch.randn(batch_size, latent_dim, 1, 1, device=device))
    label.fill_(0.0)
    err_fake = criterion(net_d(fake.detach()).view(-1), label)
    err_fake.backward()
    opt_d.step()
    net_g.zero_grad()
    label.fill_(1.0)
    err_g = criterion(net_d(fake).view(-1), label)
    err_g.backward()
    opt_g.step()

  for _ in range(warmup):
    step()
  return time_windows(step, _torch_sync(device), steps)


def bench_torch_tuned(images_uint8: np.ndarray, resolution: int, channels: int, width: int, latent_dim: int,
                      batch_size: int, steps: int, warmup: int, device: str = "cuda",
                      graph: bool = True) -> float | None:
  """Seconds per step of the same DCGAN step written for speed in PyTorch; None without torch.

  What a PyTorch user tunes it with: the dataset held on the device as uint8 and gathered there,
  bfloat16 autocast, channels_last, fused Adam, and (`graph`, on CUDA) the whole step, both updates
  included, captured once in a CUDA graph and replayed. D returns logits for BCEWithLogitsLoss (BCELoss
  cannot autocast); the semantics are the example's: one G forward, D on (real, G(z)), G through the
  same G(z) against the updated D."""
  try:
    import torch
    from torch import nn as tnn
  except ImportError:
    return None
  torch.manual_seed(0)
  torch.backends.cudnn.benchmark = True   # pick each convolution's fastest algorithm once, in the warm-up
  graph = graph and device.startswith("cuda")
  channels_last = torch.channels_last
  net_g, net_d = (net.to(device, memory_format=channels_last)
                  for net in _torch_dcgan(resolution, channels, width, latent_dim, sigmoid=False))
  fused = device.startswith("cuda")
  opt_d = torch.optim.Adam(net_d.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=fused, capturable=graph)
  opt_g = torch.optim.Adam(net_g.parameters(), lr=2e-4, betas=(0.5, 0.999), fused=fused, capturable=graph)
  criterion = tnn.BCEWithLogitsLoss()
  data = torch.from_numpy(images_uint8).to(device).permute(0, 3, 1, 2)   # uint8 NCHW on the device
  real = torch.empty((batch_size, channels, resolution, resolution), device=device).contiguous(
      memory_format=channels_last)
  ones = torch.ones(batch_size, device=device)
  zeros = torch.zeros(batch_size, device=device)
  order = {"perm": torch.randperm(data.shape[0], device=device), "at": 0}

  def load_batch():  # outside the graph: fills the static input buffer (gather + scale, on the device)
    if order["at"] + batch_size > data.shape[0]:
      order["perm"], order["at"] = torch.randperm(data.shape[0], device=device), 0
    index = order["perm"][order["at"]:order["at"] + batch_size]
    order["at"] += batch_size
    real.copy_(data[index].float().div_(127.5).sub_(1.0))

  def train_step():  # autocast's weight cache must stay off under graph capture (torch.cuda.graph's docs)
    opt_d.zero_grad(set_to_none=False)   # in place: a captured graph must keep its gradient buffers
    with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, cache_enabled=False):
      fake = net_g(torch.randn(batch_size, latent_dim, 1, 1, device=device))
      err_d = criterion(net_d(real).view(-1).float(), ones) + criterion(net_d(fake.detach()).view(-1).float(), zeros)
    err_d.backward()
    opt_d.step()
    opt_g.zero_grad(set_to_none=False)
    with torch.autocast(device.split(":")[0], dtype=torch.bfloat16, cache_enabled=False):
      err_g = criterion(net_d(fake).view(-1).float(), ones)
    err_g.backward()
    opt_g.step()

  for net in (net_g, net_d):  # gradients exist before capture, so the graph updates them in place
    for p in net.parameters():
      p.grad = torch.zeros_like(p)
  if graph:
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up on a side stream, as torch.cuda.graph's docs require
      for _ in range(3):
        load_batch()
        train_step()
    torch.cuda.current_stream().wait_stream(side)
    captured = torch.cuda.CUDAGraph()
    with torch.cuda.graph(captured):
      train_step()
    run_step = captured.replay
  else:
    run_step = train_step

  def step():
    load_batch()
    run_step()

  for _ in range(warmup):
    step()
  return time_windows(step, _torch_sync(device), steps)


def report(rows: list[dict], print_fn=print) -> None:
  print_fn(f"{'row':<22}{'batch':>6}{'precision':>10}{'k':>4}{'ms/step':>10}{'images/s':>11}")
  for r in rows:
    print_fn(f"{r['row']:<22}{r['batch']:>6}{r['precision']:>10}{r['steps_per_call']:>4}"
             f"{r['ms_per_step']:>10.1f}{r['images_per_s']:>11.{0 if r['images_per_s'] >= 100 else 1}f}")


def row(name: str, batch: int, precision: str, k: int, seconds: float, device: str) -> dict:
  return {"row": name, "batch": batch, "precision": precision, "steps_per_call": k,
          "ms_per_step": seconds * 1e3, "images_per_s": batch / seconds, "device": device}


def dump_json(rows: list[dict], path: str) -> None:
  meta = {"jax": jax.__version__, "devices": [str(d) for d in jax.devices()], "time": time.time()}
  with open(path, "w") as f:
    json.dump({"meta": meta, "rows": rows}, f, indent=2)


# ---------------------------------------------------------------- data-parallel scaling on paper

_HLO_BYTES = {"f32": 4, "bf16": 2, "f16": 2, "s32": 4, "u32": 4, "f64": 8, "s64": 8, "pred": 1, "u8": 1, "s8": 1}


def _all_reduce_bytes(hlo_text: str) -> tuple[int, int]:
  """(number of all-reduce ops, bytes they reduce) in an optimized HLO module's text."""
  import re
  count, total = 0, 0
  for line in hlo_text.splitlines():
    if " all-reduce(" not in line and " all-reduce-start(" not in line:
      continue
    count += 1
    result_type = line.split("=", 1)[1].split("all-reduce", 1)[0]
    for dtype, dims in re.findall(r"(\w+)\[([\d,]*)\]", result_type):
      size = 1
      for d in filter(None, dims.split(",")):
        size *= int(d)
      total += size * _HLO_BYTES.get(dtype, 4)
  return count, total


def communication_report(config, num_devices: int) -> dict:
  """Compiles the training step on `num_devices` devices and reads off its traffic.

  Returns the all-reduce count and bytes per step (ring all-reduce sends about
  2 (n-1)/n times that per device), XLA's FLOP estimate of the whole step, and
  the parameter count for comparison: data parallelism should reduce exactly the
  gradients (plus a few BatchNorm statistics), nothing proportional to the batch.
  """
  config = config.copy_and_resolve_references()
  config.train.num_devices = num_devices
  config.data.placement = "device"
  shape = run.element_shape(config.data)
  mesh = make_mesh(num_devices)
  task = make_task(config, shape)
  source = open_source(config.data, seed=config.seed)
  feeder = make_feeder(source, config.data, config.train.batch_size * task.batch_multiple, mesh, config.seed)
  sharding = replicated(mesh)
  state = run.init_state(task, config.seed, shape, sharding)
  step_fn = run.make_step_fn(task, feeder, sharding)
  with jax.set_mesh(mesh):
    compiled = step_fn.lower(state, feeder.next_feed(0)).compile()
  count, nbytes = _all_reduce_bytes(compiled.as_text())
  cost = compiled.cost_analysis()
  cost = cost[0] if isinstance(cost, (list, tuple)) else cost
  params = sum(x.size for x in jax.tree.leaves(state.params))
  return {"devices": num_devices, "all_reduces": count, "all_reduce_bytes": nbytes,
          "flops_per_step": float(cost.get("flops", float("nan"))) if cost else float("nan"),
          "param_bytes_f32": 4 * params}


def data_parallel_efficiency(all_reduce_bytes: float, step_seconds: float, num_devices: int,
                             bus_bytes_per_s: float) -> float:
  """Per-device efficiency if the all-reduce does not overlap compute (a lower bound).

  A ring all-reduce of B bytes over n devices moves 2 (n-1)/n B through each device's link.
  """
  comm = 2 * (num_devices - 1) / num_devices * all_reduce_bytes / bus_bytes_per_s
  return step_seconds / (step_seconds + comm)
