"""Train a BiGAN, then report reconstruction error and linear probes on E(x).

    python -m experiments.bigan --workdir=runs/bigan [--config.x=v]
    python -m experiments.bigan --config=experiments/configs/bigan.py:smoke --workdir=/tmp/bigan-smoke

Writes workdir/bigan_eval.json.
"""
import json
import os

from experiments import common


def report(config, workdir, state):
  from jgan import tasks
  from jgan.eval import bigan
  from jgan.tasks import element_shape
  results = bigan.evaluate(tasks.make_task(config, element_shape(config.data)), state, config)
  print(f"reconstruction MSE of G(E(x)) on held-out images ([-1, 1] pixels): {results['recon_mse']:.4f}")
  print(f"linear probe accuracy: E(x) {results['probe_e']:.3f} | raw pixels {results['probe_pixels']:.3f} | "
        f"random-init E {results['probe_random_e']:.3f}")
  with open(os.path.join(workdir, "bigan_eval.json"), "w") as f:
    json.dump(results, f, indent=2)


if __name__ == "__main__":
  common.main("bigan", after=report)
