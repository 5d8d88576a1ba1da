"""Data-parallel scaling, measured and on paper.

    XLA_FLAGS=--xla_force_host_platform_device_count=4 python -m experiments.scaling

For 1, 2, 4, ... visible devices: the training step's all-reduce traffic read off
the compiled program, the same global batch's result checked against 1 device,
and the efficiency per added device implied by a link bandwidth and a per-device
step time (defaults: NVLink-class 300 GB/s bus bandwidth, and the issue's H200
target of 70,000 images/s per device at batch 256 per device).
"""
import jax
from absl import flags
from ml_collections import config_flags

from jgan.bench import speed as bench
from jgan.core import cli

_CONFIG = config_flags.DEFINE_config_file("config", "experiments/configs/bench.py:paper64", "Bench preset.")
_BUS = flags.DEFINE_float("bus_gb_per_s", 300.0, "All-reduce bus bandwidth per device, GB/s.")
_RATE = flags.DEFINE_float("images_per_s_per_device", 70_000.0, "Compute throughput of one device.")
_PER_DEVICE_BATCH = flags.DEFINE_integer("per_device_batch", 256, "Batch per device for the estimate.")


def main(argv):
  del argv
  config = _CONFIG.value
  available = jax.device_count()
  counts = [n for n in (1, 2, 4, 8, 16) if n <= available]
  step_seconds = _PER_DEVICE_BATCH.value / _RATE.value
  print(f"{'devices':>8}{'all-reduces':>13}{'MB/step':>10}{'params MB':>11}{'GFLOP/step':>12}{'efficiency':>12}")
  for n in counts:
    config.train.batch_size = 8 * n  # a small global batch: only the program structure matters here
    r = bench.communication_report(config, n)
    eff = bench.data_parallel_efficiency(r["all_reduce_bytes"], step_seconds, n, _BUS.value * 1e9) if n > 1 else 1.0
    print(f"{n:>8}{r['all_reduces']:>13}{r['all_reduce_bytes'] / 1e6:>10.2f}{r['param_bytes_f32'] / 1e6:>11.2f}"
          f"{r['flops_per_step'] / 1e9:>12.2f}{eff:>12.1%}", flush=True)
  print(f"efficiency: step {step_seconds * 1e3:.2f} ms per device (batch {_PER_DEVICE_BATCH.value} at "
        f"{_RATE.value:,.0f} images/s), ring all-reduce over {_BUS.value:.0f} GB/s, no overlap (a lower bound)")


if __name__ == "__main__":
  cli.run(main)
