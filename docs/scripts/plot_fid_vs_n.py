"""The evaluation page's figure and table: FID's bias with the sample size N, on real images only.

    python -m docs.scripts.plot_fid_vs_n    # writes docs/assets/fid_vs_n.png and docs/assets/fid_vs_n.md

The embedded 10,000 MNIST digits are split into two disjoint halves of 5,000 (a seeded permutation).
Both halves come from one distribution, so the true FID between them is 0; what the plot shows at
each N (N images from each half, lenet-mnist features, jgan.metrics.fid.fid) is pure estimator bias.
KID (jgan.metrics.kid.kid, unbiased) is computed on the same subsets for comparison.
"""
from __future__ import annotations

import os

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from jgan import features  # noqa: E402
from jgan.data.embedded import load_embedded_arrays  # noqa: E402
from jgan.metrics import fid as fid_lib  # noqa: E402
from jgan.metrics import kid as kid_lib  # noqa: E402

ASSETS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "assets")
SIZES = (100, 250, 500, 1000, 2000, 5000)
SEED = 0


def halves_features():
  images, _ = load_embedded_arrays()
  order = np.random.default_rng(SEED).permutation(len(images))
  feats = features.get("lenet-mnist")(images[order][..., None], with_logits=False)["features"]
  half = len(images) // 2
  return feats[:half], feats[half:]


def main() -> None:
  a, b = halves_features()
  rows = []
  for n in SIZES:
    # Subsets of half the set, so that they differ and kid_std measures the spread of the estimate.
    k = kid_lib.kid(a[:n], b[:n], num_subsets=50, subset_size=n // 2, seed=SEED)
    rows.append((n, fid_lib.fid(a[:n], b[:n]), k))
  fig, ax = plt.subplots(figsize=(5.5, 3.6))
  ax.plot([r[0] for r in rows], [r[1] for r in rows], "o-")
  ax.set_xscale("log")
  ax.set_xlabel("N images per set")
  ax.set_ylabel("FID (lenet-mnist features)")
  ax.set_title("FID between two halves of the same digits")
  ax.grid(alpha=0.3)
  fig.tight_layout()
  fig.savefig(os.path.join(ASSETS, "fid_vs_n.png"), dpi=110)
  with open(os.path.join(ASSETS, "fid_vs_n.md"), "w") as f:
    f.write("| N per set | FID | KID (mean over subsets) | KID (std over subsets) |\n")
    f.write("| ---: | ---: | ---: | ---: |\n")
    for n, value, k in rows:
      f.write(f"| {n} | {value:.3f} | {k['kid']:.3f} | {k['kid_std']:.3f} |\n")
  print(open(os.path.join(ASSETS, "fid_vs_n.md")).read())


if __name__ == "__main__":
  main()
