"""Start-up latency with and without the compilation cache: python -m experiments.bench_startup.

Runs the main job (`experiments.dcgan`, its default config, a few steps) in fresh
processes: no cache, cold cache, warm cache, then resumes (warm, and without a
cache), and prints seconds to the first step and process wall time for each.
"""
from absl import flags

from jgan.bench import startup
from jgan.core import cli

_MODULE = flags.DEFINE_string("module", "experiments.dcgan", "The experiment to launch.")
_CONFIG = flags.DEFINE_string("config", None, "Its --config (default: the experiment's default config).")
_STEPS = flags.DEFINE_integer("steps", 2, "Steps of each new run (each resume runs as many more).")
_SCRATCH = flags.DEFINE_string("scratch", None, "Folder for the runs and the cache (default: a new temp folder).")


def main(argv):
  del argv
  args = [f"--config={_CONFIG.value}"] if _CONFIG.value else []
  print(f"{_MODULE.value} {' '.join(args)}, {_STEPS.value} steps per run; fresh processes", flush=True)
  print(startup.report(startup.measure(_MODULE.value, args, _STEPS.value, _SCRATCH.value)))


if __name__ == "__main__":
  cli.run(main)
