"""Training speed: python -m experiments.bench [--config=experiments/configs/bench.py:paper64] [--json=out.json].

Prints images/s and ms/step of jgan's step (data on the device, and fed from the
host) next to a plain jitted Flax step and the pytorch/examples DCGAN loop,
all measured in this one process (`pip install -e '.[bench]'` for torch).

Loss semantics: jgan's default step (train.reuse_fake=True) does what the PyTorch
loop does: one G forward per step, D updated on (real, G(z)), then G updated
through the same G(z) against the updated D, non-saturating BCE. The
`jgan/device,fresh-z` row is the other switch setting (G's update on fresh
latents, a second G forward). With lazy R1 (the `main` preset), `jgan/device,lazy-cond`
is the step with `train.lazy_on_device=True`: one executable, the due steps chosen by a
lax.cond on the device.
"""
import statistics

import jax
from absl import flags
from ml_collections import config_flags

from jgan.bench import speed as bench
from jgan.core import cli
from jgan.data.sources import open_source

_CONFIG = config_flags.DEFINE_config_file("config", "experiments/configs/bench.py", "Bench preset.")
_JSON = flags.DEFINE_string("json", None, "Also write the rows as JSON here.")


def main(argv):
  del argv
  config = _CONFIG.value
  b, m, d = config.bench, config.model, config.data
  device = jax.devices()[0].device_kind
  print(f"DCGAN {d.resolution}x{d.resolution}x{d.channels}, width {m.g_width}, nz {m.latent_dim}; "
        f"jax {jax.__version__} on {jax.device_count()} x {device}", flush=True)
  # Each round times every row once, in turn; a row's figure is its median over the rounds. On a
  # shared machine whose speed drifts over minutes, interleaving keeps the rows' ratios honest.
  rows = []
  for batch in b.batch_sizes:
    timers = []  # (name, precision, steps_per_call, device, () -> seconds per step or None)
    for precision in b.precisions:
      for placement in b.placements:
        timers.append((f"jgan/{placement}", precision, config.train.steps_per_call, device,
                       _jgan_timer(config, batch, precision, placement, config.train.reuse_fake)))
      if b.fresh_z and config.train.reuse_fake:
        # The other semantics of G's update: fresh latents and a second forward of G (train.reuse_fake=False).
        timers.append(("jgan/device,fresh-z", precision, config.train.steps_per_call, device,
                       _jgan_timer(config, batch, precision, "device", False)))
      if config.train.r1_gamma > 0 and config.train.r1_every > 1 and not config.train.lazy_on_device:
        # Lazy R1 decided on the device by a lax.cond in one executable (train.lazy_on_device=True), as before
        # each phase of the lazy schedule compiled into its own executable.
        timers.append(("jgan/device,lazy-cond", precision, config.train.steps_per_call, device,
                       _jgan_timer(config, batch, precision, "device", config.train.reuse_fake, lazy_on_device=True)))
    if b.plain_flax:
      timers.append(("flax/plain", "float32", 1, device, lambda: bench.bench_plain_flax(
          d.resolution, d.channels, m.g_width, m.latent_dim, batch, b.steps, b.warmup)))
    if b.torch:
      images = open_source(d, seed=config.seed).read_all()["x"]
      timers.append(("torch/eager", "float32", 1, "cpu", lambda: bench.bench_torch(
          images, d.resolution, d.channels, m.g_width, m.latent_dim, batch, b.steps, b.warmup)))
    times = {name: [] for name, *_ in timers}
    for r in range(b.rounds):
      for name, precision, _k, _where, timer in timers:
        seconds = timer()
        if seconds is None:
          print(f"{name}: torch is not installed (pip install -e '.[bench]')", flush=True)
          continue
        times[name].append(seconds)
        print(f"round {r + 1}/{b.rounds} {name:<20} batch {batch} {precision}: {batch / seconds:.0f} img/s", flush=True)
    for name, precision, k, where, _ in timers:
      if times[name]:
        rows.append(bench.row(name, batch, precision, k, statistics.median(times[name]), where))
  print()
  bench.report(rows)
  if _JSON.value:
    bench.dump_json(rows, _JSON.value)


def _jgan_timer(config, batch: int, precision: str, placement: str, reuse_fake: bool, lazy_on_device: bool = False):
  config = config.copy_and_resolve_references()
  config.train.batch_size, config.model.dtype, config.train.reuse_fake = batch, precision, reuse_fake
  config.train.lazy_on_device = lazy_on_device or config.train.lazy_on_device
  return lambda: bench.bench_jgan(config, placement, config.bench.steps, config.bench.warmup)


if __name__ == "__main__":
  cli.run(main)
