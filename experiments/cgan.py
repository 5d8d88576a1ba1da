"""Train a class-conditional GAN, then check that samples of label k look like k.

    python -m experiments.cgan --workdir=runs/cgan [--config.x=v]
    python -m experiments.cgan --config=experiments/configs/cgan.py:smoke --workdir=/tmp/cgan-smoke

The check uses a linear (ridge) classifier on raw pixels of the training set as a
stand-in until the evaluation issue's MNIST classifier lands.
"""
from experiments import common


def report(config, workdir, state):
  del workdir
  from jgan import conditional
  agreement, probe_acc = conditional.label_agreement(config, state)
  print(f"samples classified as their label: {agreement:.3f} (pixel ridge classifier, "
        f"{probe_acc:.3f} on held-out real digits)")


if __name__ == "__main__":
  common.main("cgan", after=report)
