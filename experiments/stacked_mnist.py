"""Train a GAN on Stacked MNIST (1000 modes), then count the modes of 26,000 samples.

    python -m experiments.stacked_mnist --workdir=runs/stacked_mnist
    python -m experiments.stacked_mnist --config=experiments/configs/stacked_mnist.py:dcgan --workdir=runs/sm_dcgan

Writes workdir/stacked_mnist.json: {"modes": modes hit of 1000, "kl": KL(mode histogram || uniform), ...}.
"""
import json
import os

from experiments import common


def report(config, workdir, state):
  del state
  from jgan import eval as jeval
  result = jeval.evaluate_run(workdir, "stacked_mnist", num=config.eval.num_samples, seed=config.seed)
  scores = result["scores"]
  print(f"Stacked MNIST on {scores['num_samples']} samples: {scores['modes']}/1000 modes, "
        f"KL to uniform {scores['kl']:.3f} (channels' digit shares {scores['channel_kl']:.3f}, "
        f"{100 * scores['share_min']:.1f}-{100 * scores['share_max']:.1f}%; dependence between channels "
        f"{scores['dependence_kl']:.3f})")
  with open(os.path.join(workdir, "stacked_mnist.json"), "w") as f:
    json.dump(result, f, indent=2, sort_keys=True)


if __name__ == "__main__":
  common.main("stacked_mnist", after=report)
