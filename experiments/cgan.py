"""Train a class-conditional GAN, then check that samples of label k look like k.

    python -m experiments.cgan --workdir=runs/cgan [--config.x=v]
    python -m experiments.cgan --config=experiments/configs/cgan.py:smoke --workdir=/tmp/cgan-smoke

On MNIST-like data the check uses the shipped lenet-mnist classifier (jgan.features);
elsewhere a ridge classifier on raw pixels of the training set.
"""
from experiments import common


def report(config, workdir, state):
  del workdir
  from jgan.eval import conditional
  agreement, held_out, classifier = conditional.label_agreement(config, state)
  print(f"samples classified as their label: {agreement:.3f} ({classifier} classifier, "
        f"{held_out:.3f} on held-out real examples)")


if __name__ == "__main__":
  common.main("cgan", after=report)
