"""How much a trained CycleGAN helps where the truth is known: the built-in digit domains.

    python -m experiments.bench_translate --workdir=runs/cyclegan [--steps=400]         # score one run
    python -m experiments.bench_translate --workdir=runs/bench_translate --seeds=3 [--num_steps=N]

Scores a run of experiments.cyclegan on the default domains (A = grey MNIST digits, B = MNIST-M-style
colour digits; both with labels, which training never saw); with --seeds=N it first trains (or resumes)
the default config once per seed under WORKDIR/seed{k}, and prints each row's mean +- the half-width of
its 95% t interval over the seeds. Rows:

  classifier accuracy on held-out real B (mnistm10k_b:test, 1000 images), for a small conv net
  trained with optax on
    source only   the real A training digits with their labels
    G(A)          the same digits translated to B by G, with A's labels (pixel-level adaptation)
  lenet-mnist (the packaged MNIST classifier, jgan.features) accuracy against the true label on
    real a        held-out A digits (mnist10k_a:test): the classifier's own ceiling
    F(G(a))       those digits after the round trip: does the cycle keep the digit?
    F(b)          held-out B images translated to A: MNIST's classifier applied to MNIST-M via F
"""
from __future__ import annotations

from absl import flags

from jgan.core import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "Run directory of experiments.cyclegan on the default domains.")
_STEPS = flags.DEFINE_integer("steps", 400, "Training steps of each small classifier.")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the classifiers (with --seeds: added to each run's seed).")
_SEEDS = flags.DEFINE_integer("seeds", 0, "Train and score this many seeds; 0 scores the run in --workdir.")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 0, "Training steps per CycleGAN run with --seeds (0: the config's).")


def train_classifier(images, labels, steps: int, seed: int, batch: int = 64):
  """A small conv net (2 strided convs, dense) trained with Adam on uint8 images; returns predict(images)."""
  import flax.linen as nn
  import jax
  import jax.numpy as jnp
  import numpy as np
  import optax

  class Net(nn.Module):
    @nn.compact
    def __call__(self, x):
      x = nn.relu(nn.Conv(16, (3, 3), strides=2)(x))
      x = nn.relu(nn.Conv(32, (3, 3), strides=2)(x))
      x = nn.relu(nn.Dense(64)(x.reshape(x.shape[0], -1)))
      return nn.Dense(10)(x)

  scale = lambda u8: jnp.asarray(u8, jnp.float32) / 127.5 - 1.0
  net, optimizer = Net(), optax.adam(1e-3)
  params = net.init(jax.random.key(seed), scale(images[:1]))
  opt_state = optimizer.init(params)

  @jax.jit
  def step(params, opt_state, x, y):
    loss = lambda p: optax.softmax_cross_entropy_with_integer_labels(net.apply(p, x), y).mean()
    grads = jax.grad(loss)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state

  rng = np.random.default_rng(seed)
  for _ in range(steps):
    pick = rng.choice(len(images), batch, replace=False)
    params, opt_state = step(params, opt_state, scale(images[pick]), jnp.asarray(labels[pick]))
  apply = jax.jit(lambda p, x: jnp.argmax(net.apply(p, x), -1))
  return lambda x: np.concatenate([np.asarray(apply(params, scale(x[i:i + 500]))) for i in range(0, len(x), 500)])


def to_gray(images):
  import numpy as np
  return np.round(images.astype(np.float32).mean(axis=-1, keepdims=True)).astype(np.uint8)


def score_run(folder: str, steps: int, seed: int) -> dict:
  """{row: accuracy} of the run in `folder` (see the module docstring)."""
  import numpy as np

  from jgan import features
  from jgan.core.errors import UserError
  from jgan.data import unpaired
  from jgan.infer import translate
  model = translate.load(folder)
  data = model.config.data
  if (data.source_a, data.source_b) != ("mnist10k_a", "mnistm10k_b"):
    raise UserError(f"{folder} translates {data.source_a} <-> {data.source_b}; this measurement needs the "
                    "built-in digit domains (mnist10k_a <-> mnistm10k_b), whose labels are known")
  domain = lambda spec: unpaired.open_domain(spec, data).read_all()
  a_train, a_test = domain("mnist10k_a:train"), domain("mnist10k_a:test")
  b_test = domain("mnistm10k_b:test")
  g_of_a = model.translate(a_train["x"], "a2b")
  print(f"model of {folder} at step {model.step}; {len(a_train['x'])} A training digits, "
        f"{len(b_test['x'])} held-out B images; classifiers: {steps} Adam steps", flush=True)
  rows = {}
  for name, images in (("source only (real A)", a_train["x"]), ("G(A) with A's labels", g_of_a)):
    predict = train_classifier(images, a_train["label"], steps, seed)
    rows[f"classifier on real B, trained on {name}"] = np.mean(predict(b_test["x"]) == b_test["label"])
  lenet = features.get("lenet-mnist")
  accuracy = lambda images, labels: np.mean(np.argmax(lenet(to_gray(images))["logits"], -1) == labels)
  round_trip = model.translate(model.translate(a_test["x"], "a2b"), "b2a")
  rows["lenet-mnist on real a (A test)"] = accuracy(a_test["x"], a_test["label"])
  rows["lenet-mnist on F(G(a))"] = accuracy(round_trip, a_test["label"])
  rows["lenet-mnist on F(b) (B test)"] = accuracy(model.translate(b_test["x"], "b2a"), b_test["label"])
  rows["lenet-mnist on real b (B test, gray)"] = accuracy(b_test["x"], b_test["label"])
  for name, value in rows.items():
    print(f"  {name:58s} {value:.3f}", flush=True)
  return {name: float(value) for name, value in rows.items()}


def main(argv):
  del argv
  from experiments.configs import cyclegan as configs
  from jgan.bench import translate_quality as tq
  from jgan.core.errors import UserError
  if not _WORKDIR.value:
    raise UserError("--workdir is required")
  if _SEEDS.value:
    folders = tq.train_seeds(configs.get_config(), _WORKDIR.value, _SEEDS.value, _NUM_STEPS.value)
  else:
    folders = [_WORKDIR.value]
  results = [score_run(folder, _STEPS.value, _SEED.value + k) for k, folder in enumerate(folders)]
  print(f"\nMNIST -> MNIST-M-style digits, {len(folders)} seed(s) (accuracy, mean +- 95% CI half-width)")
  print("| row | accuracy |")
  print("| --- | ---: |")
  for name in results[0]:
    print(f"| {name} | {tq.format_ci([r[name] for r in results], 3)} |")


if __name__ == "__main__":
  cli.run(main)
