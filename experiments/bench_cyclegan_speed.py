"""CycleGAN training speed: jgan's step beside a PyTorch implementation of the same nets, in one process.

    python -m experiments.bench_cyclegan_speed [--steps=12] [--warmup=3] [--torch_threads=0,1] [--json=PATH]

Uses experiments/configs/cyclegan.py (the default variant: 32 px, its widths, blocks and batch size);
see jgan.bench.cyclegan_speed for what each row times. The torch row is left out when torch is not installed.
"""
from absl import flags

from jgan.core import cli

_VARIANT = flags.DEFINE_string("config_variant", "", "Variant of experiments/configs/cyclegan.py.")
_STEPS = flags.DEFINE_integer("steps", 12, "Timed steps per row (3 windows).")
_WARMUP = flags.DEFINE_integer("warmup", 3, "Untimed steps first (compilation, allocator).")
_THREADS = flags.DEFINE_list("torch_threads", ["0", "1"], "Intra-op threads of each torch row (0: torch's default).")
_JSON = flags.DEFINE_string("json", "", "Also write the rows here.")


def main(argv):
  del argv
  from experiments.configs import cyclegan as configs
  from jgan.bench import cyclegan_speed, speed
  config = configs.get_config(_VARIANT.value)
  rows = cyclegan_speed.speed_rows(config, _STEPS.value, _WARMUP.value, [int(n) for n in _THREADS.value])
  m, d = config.model, config.data
  print(f"CycleGAN train step, {d.resolution} px, g_width {m.g_width}, d_width {m.d_width}, {m.num_blocks} blocks "
        f"(images/s = domain-A images per second; the paper's G on both sides, without the code)")
  speed.report(rows)
  if _JSON.value:
    speed.dump_json(rows, _JSON.value)


if __name__ == "__main__":
  cli.run(main)
