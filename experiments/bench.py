"""Training speed: python -m experiments.bench [--config=experiments/configs/bench.py:paper64] [--json=out.json].

Prints images/s and ms/step of jgan's step (data on the device, and fed from the
host) next to a plain jitted Flax step and the pytorch/examples DCGAN loop,
all measured in this one process (`pip install -e '.[bench]'` for torch).

Loss semantics: jgan's default step (train.reuse_fake=True) does what the PyTorch
loop does: one G forward per step, D updated on (real, G(z)), then G updated
through the same G(z) against the updated D, non-saturating BCE. The
`jgan/device,fresh-z` row is the other switch setting (G's update on fresh
latents, a second G forward).
"""
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
  rows = []
  for batch in b.batch_sizes:
    for precision in b.precisions:
      config.train.batch_size = batch
      config.model.dtype = precision
      for placement in b.placements:
        seconds = bench.bench_jgan(config, placement, b.steps, b.warmup)
        rows.append(bench.row(f"jgan/{placement}", batch, precision, config.train.steps_per_call, seconds, device))
        bench.report(rows[-1:], print_fn=lambda s: print(s.splitlines()[-1], flush=True))
      if b.fresh_z and config.train.reuse_fake:
        # The other semantics of G's update: fresh latents and a second forward of G (train.reuse_fake=False).
        config.train.reuse_fake = False
        seconds = bench.bench_jgan(config, "device", b.steps, b.warmup)
        config.train.reuse_fake = True
        rows.append(bench.row("jgan/device,fresh-z", batch, precision, config.train.steps_per_call, seconds, device))
        bench.report(rows[-1:], print_fn=lambda s: print(s.splitlines()[-1], flush=True))
    if b.plain_flax:
      seconds = bench.bench_plain_flax(d.resolution, d.channels, m.g_width, m.latent_dim, batch, b.steps, b.warmup)
      rows.append(bench.row("flax/plain", batch, "float32", 1, seconds, device))
    if b.torch:
      images = open_source(d, seed=config.seed).read_all()["x"]
      seconds = bench.bench_torch(images, d.resolution, d.channels, m.g_width, m.latent_dim, batch, b.steps, b.warmup)
      if seconds is None:
        print("torch/eager: torch is not installed (pip install -e '.[bench]')", flush=True)
      else:
        rows.append(bench.row("torch/eager", batch, "float32", 1, seconds, "cpu"))
  print()
  bench.report(rows)
  if _JSON.value:
    bench.dump_json(rows, _JSON.value)


if __name__ == "__main__":
  cli.run(main)
