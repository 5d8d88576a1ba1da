"""How much a trained CycleGAN helps where the truth is known: the built-in digit domains.

    python -m experiments.bench_translate --workdir=runs/cyclegan [--steps=2000]        # score one run
    python -m experiments.bench_translate --workdir=runs/bench_translate --seeds=3 [--num_steps=N]
    python -m experiments.bench_translate --workdir=runs/bench_translate_paper --seeds=3 --config_variant=paper
    python -m experiments.bench_translate --workdir=runs/bench_translate --seeds=3 --draws=1   # 1 G(A) per digit

Scores a run of experiments.cyclegan on the default domains (A = grey MNIST digits, B = MNIST-M-style
colour digits; both with labels, which training never saw); with --seeds=N it first trains (or resumes)
the default config once per seed under WORKDIR/seed{k}, and prints each row's mean +- the half-width of
its 95% t interval over the seeds. Rows:

  classifier accuracy on held-out real B (mnistm10k_b:test, 1000 images), for a small conv net
  trained with optax on
    source only   the real A training digits with their labels
    G(A)          the same digits translated to B by G, with A's labels (pixel-level adaptation); a G
                  with a code translates every classifier batch afresh (--draws=0, the default: as
                  Bousmalis et al. 2017 train theirs), --draws=N translates each digit N times up front
    target oracle the real B training images with their labels (what labelled B data would give)
  and the share of the source-only -> oracle gap that G(A) closes: (G(A) - source) / (oracle - source)
  (issue 14's goal: >= 0.8); the colour spread of G(A) over that of real B (`colour_spread`: 1 = as varied);
  lenet-mnist (the packaged MNIST classifier, jgan.features) accuracy against the true label on
    real a        held-out A digits (mnist10k_a:test): the classifier's own ceiling
    F(G(a))       those digits after the round trip: does the cycle keep the digit?
    F(b)          held-out B images translated to A: MNIST's classifier applied to MNIST-M via F
    real b        held-out B images made grey: MNIST's classifier applied to MNIST-M directly
  and the share of the real b -> real a gap that F closes (adaptation the other way round).
"""
from __future__ import annotations

from absl import flags

from jgan.core import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory of experiments.cyclegan on the default domains.")
# 2,000: the source-only and oracle classifiers score the same at 4,000 (at 400 they had not converged).
_STEPS = flags.DEFINE_integer("steps", 2000, "Training steps of each small classifier.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the classifiers (with --seeds: added to each run's seed).")
_SEEDS = flags.DEFINE_integer("seeds", 0, "Train and score this many seeds; 0 scores the run in --workdir.")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 0, "Training steps per CycleGAN run with --seeds (0: the config's).")
_DRAWS = flags.DEFINE_integer("draws", 0, "A G with a code: 0 translates every classifier batch afresh (new codes), "
                              "N > 0 translates each A training digit N times up front. The paper's G is "
                              "translated once.")
_VARIANT = flags.DEFINE_string("config_variant", "", "Variant of experiments/configs/cyclegan.py to train with "
                               "--seeds: '' (the default, G with a code) or 'paper' (the paper's G).")


def main(argv):
  del argv
  from experiments.configs import cyclegan as configs
  from jgan.bench import digit_translation
  from jgan.bench import translate_quality as tq
  from jgan.core.errors import UserError
  if not _WORKDIR.value:
    raise UserError("--workdir is required")
  if _SEEDS.value:
    folders = tq.train_seeds(configs.get_config(_VARIANT.value), _WORKDIR.value, _SEEDS.value, _NUM_STEPS.value)
  else:
    folders = [_WORKDIR.value]
  results = [digit_translation.score_run(folder, _STEPS.value, _SEED.value + k, _DRAWS.value)
             for k, folder in enumerate(folders)]
  print(f"\nMNIST -> MNIST-M-style digits, {len(folders)} seed(s) (mean +- 95% CI half-width)")
  print("| row | accuracy or ratio |")
  print("| --- | ---: |")
  for name in results[0]:
    print(f"| {name} | {tq.format_ci([r[name] for r in results], 3)} |")


if __name__ == "__main__":
  cli.run(main)
