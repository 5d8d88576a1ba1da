"""Digit translation where the labels are known: how much a trained CycleGAN run helps (issue 14, task 1).

The measurement behind experiments.bench_translate (its docstring lists the rows). `score_run(folder)`
scores one run of experiments.cyclegan on the built-in digit domains (mnist10k_a <-> mnistm10k_b).
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jgan import features
from jgan.core.errors import UserError
from jgan.data import unpaired
from jgan.infer import translate


def train_classifier(images, labels, steps: int, seed: int, batch: int = 64, transform=None):
  """A small conv net (2 strided convs, dense) trained with Adam on uint8 images; returns predict(images).

  transform: None, or (uint8 batch, step) -> uint8 batch applied to each step's batch before the update
  (score_run translates every batch afresh with it)."""

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
  for i in range(steps):
    pick = rng.choice(len(images), batch, replace=False)
    x = images[pick] if transform is None else transform(images[pick], i)
    params, opt_state = step(params, opt_state, scale(x), jnp.asarray(labels[pick]))
  apply = jax.jit(lambda p, x: jnp.argmax(net.apply(p, x), -1))
  return lambda x: np.concatenate([np.asarray(apply(params, scale(x[i:i + 500]))) for i in range(0, len(x), 500)])


def to_gray(images):
  return np.round(images.astype(np.float32).mean(axis=-1, keepdims=True)).astype(np.uint8)


def colour_spread(images) -> float:
  """How much the images differ in colour: the std over images of each one's mean colour, averaged over the
  channels (uint8 units). A G that paints every digit over one texture has a small spread."""
  return float(np.mean(np.std(images.astype(np.float64).mean(axis=(1, 2)), axis=0)))


def score_run(folder: str, steps: int, seed: int, draws: int = 0) -> dict:
  """{row: accuracy} of the run in `folder` (see the module docstring).

  draws: for a G with a code (config.model.code_dim > 0), which draws many B images per digit: 0 (the default)
  translates every classifier batch afresh with new codes, so no translation is seen twice (as pixel-level
  adaptation with a noise input trains its classifier, Bousmalis et al. 2017); N > 0 translates each A digit
  N times up front, each with its own code. The paper's G gives the same image every time, so it is
  translated once whatever `draws` says."""
  if draws < 0:
    raise UserError(f"--draws={draws}: 0 (a fresh translation per classifier example) or a positive count")

  model = translate.load(folder)
  data = model.config.data
  if (data.source_a, data.source_b) != ("mnist10k_a", "mnistm10k_b"):
    raise UserError(f"{folder} translates {data.source_a} <-> {data.source_b}; this measurement needs the "
                    "built-in digit domains (mnist10k_a <-> mnistm10k_b), whose labels are known")
  domain = lambda spec: unpaired.open_domain(spec, data).read_all()
  a_train, a_test = domain("mnist10k_a:train"), domain("mnist10k_a:test")
  b_train, b_test = domain("mnistm10k_b:train"), domain("mnistm10k_b:test")
  fresh = bool(model.task.code_dim) and draws == 0
  draws = 1 if not model.task.code_dim or fresh else draws
  # One translation per draw and digit, each with its own code (seeds apart from the fresh ones below).
  g_of_a = np.concatenate([model.translate(a_train["x"], "a2b", seed=seed + 1000 * k) for k in range(draws)])
  g_labels = np.concatenate([a_train["label"]] * draws)
  g_training = (a_train["x"], a_train["label"], lambda x, i: model.translate(x, "a2b", seed=seed + 10 ** 6 + i)
                ) if fresh else (g_of_a, g_labels, None)
  described = "a fresh G(a) per classifier example" if fresh else f"{draws} G(A) per digit"
  print(f"model of {folder} at step {model.step}; {len(a_train['x'])} A training digits ({described}), "
        f"{len(b_test['x'])} held-out B images; classifiers: {steps} Adam steps", flush=True)
  rows = {}
  for name, (images, labels, transform) in (("source only (real A)", (a_train["x"], a_train["label"], None)),
                                            ("G(A) with A's labels", g_training),
                                            ("target oracle (real B)", (b_train["x"], b_train["label"], None))):
    predict = train_classifier(images, labels, steps, seed, transform=transform)
    rows[f"classifier on real B, trained on {name}"] = np.mean(predict(b_test["x"]) == b_test["label"])
  source, adapted, oracle = list(rows.values())
  rows["share of the source-only -> oracle gap closed by G(A)"] = (adapted - source) / max(oracle - source, 1e-9)
  rows["colour spread of G(A) / of real B"] = colour_spread(g_of_a) / colour_spread(b_train["x"])
  lenet = features.get("lenet-mnist")
  accuracy = lambda images, labels: np.mean(np.argmax(lenet(to_gray(images))["logits"], -1) == labels)
  round_trip = model.translate(model.translate(a_test["x"], "a2b"), "b2a")
  rows["lenet-mnist on real a (A test)"] = accuracy(a_test["x"], a_test["label"])
  rows["lenet-mnist on F(G(a))"] = accuracy(round_trip, a_test["label"])
  rows["lenet-mnist on F(b) (B test)"] = accuracy(model.translate(b_test["x"], "b2a"), b_test["label"])
  rows["lenet-mnist on real b (B test, gray)"] = accuracy(b_test["x"], b_test["label"])
  # The other way round: translate the target to the source and use the source's classifier (lenet).
  rows["share of the real b -> real a gap closed by F(b)"] = (
      (rows["lenet-mnist on F(b) (B test)"] - rows["lenet-mnist on real b (B test, gray)"])
      / max(rows["lenet-mnist on real a (A test)"] - rows["lenet-mnist on real b (B test, gray)"], 1e-9))
  for name, value in rows.items():
    print(f"  {name:58s} {value:.3f}", flush=True)
  return {name: float(value) for name, value in rows.items()}
