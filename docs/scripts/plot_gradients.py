"""The theory page's figure: G's two losses and their gradients as functions of D(G(z)).

    python -m docs.scripts.plot_gradients        # writes docs/assets/theory_gradients.png

Both curves are jax.grad of jgan's own loss functions (jgan.objectives.losses.g_minimax and
g_non_saturating) with respect to D's logit l, where D(G(z)) = sigmoid(l): every gradient G
receives passes through dL/dl, so its size is what G can learn from.
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jgan.objectives import losses  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets", "theory_gradients.png")


def curves(num: int = 400):
  """D(G(z)) in (0, 1) on a log grid, and (loss, dloss/dlogit) of each G loss there, one fake example each."""
  logits = jnp.linspace(-9.0, 5.0, num)
  d_fake = jax.nn.sigmoid(logits)
  out = {}
  for name, fn in (("minimax", losses.g_minimax), ("non_saturating", losses.g_non_saturating)):
    one = lambda logit, fn=fn: fn(logit[None])   # one example: the loss's batch mean is that example's value
    out[name] = (jax.vmap(one)(logits), jax.vmap(jax.grad(one))(logits))
  return d_fake, out


def main() -> None:
  d_fake, out = curves()
  fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
  labels = {"minimax": "minimax  E[log(1 - D(G(z)))]", "non_saturating": "non-saturating  -E[log D(G(z))]"}
  for name, (value, grad) in out.items():
    left.plot(d_fake, value, label=labels[name])
    right.plot(d_fake, jnp.abs(grad), label=labels[name])
  for ax in (left, right):
    ax.set_xscale("log")
    ax.set_xlabel("D(G(z))  (D's belief that a fake is real)")
    ax.axvspan(float(d_fake[0]), 1e-2, color="0.9")
    ax.grid(alpha=0.3)
  left.set_ylabel("G's loss (minimised)")
  right.set_ylabel("|dL/dl|, l = D's logit")
  right.set_yscale("log")
  left.legend(fontsize=8)
  left.set_title("the two generator losses")
  right.set_title("gradient reaching G (grey: early training)")
  fig.tight_layout()
  os.makedirs(os.path.dirname(OUT), exist_ok=True)
  fig.savefig(OUT, dpi=110)
  print(f"wrote {OUT}")


if __name__ == "__main__":
  main()
