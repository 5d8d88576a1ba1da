"""Mode-coverage metrics for the 2D toy mixtures (PacGAN, Lin et al. 2018, arXiv:1712.04086, sec. 5.1;
the protocol of VEEGAN, Srivastava et al. 2017).

For N generated points and a mixture of M equally weighted Gaussians (modes mu_m,
common sigma):
  * a point is *high quality* (HQ) when its distance to the nearest mode is < 3 sigma;
  * a mode is *covered* when at least one HQ point is nearest to it;
  * the *reverse KL* is KL(p || u) = sum_m p_m log(p_m M), with p the histogram of
    the HQ points over their nearest modes and u the uniform target; 0 when the HQ
    points spread evenly, log M when they all fall on one mode, inf without HQ points.
PacGAN uses N = 2,500.
"""
from __future__ import annotations

import numpy as np

NUM_SAMPLES = 2500  # PacGAN's sample count per evaluation


def mode_stats(points: np.ndarray, modes: np.ndarray, sigma: float) -> dict:
  """Coverage of `modes` by `points`.

  Args:
    points: (N, 2) generated points.
    modes: (M, 2) mode centres.
    sigma: the modes' standard deviation.
  Returns:
    {"modes": covered modes (int), "hq": % of high-quality points (float, 0..100),
     "reverse_kl": KL(HQ mode histogram || uniform) in nats (float), "counts": HQ points per mode (M,)}.
  """
  points = np.asarray(points, np.float64)
  modes = np.asarray(modes, np.float64)
  dist = np.linalg.norm(points[:, None, :] - modes[None, :, :], axis=-1)   # (N, M)
  nearest = np.argmin(dist, axis=1)
  hq = dist[np.arange(len(points)), nearest] < 3.0 * sigma
  counts = np.bincount(nearest[hq], minlength=len(modes))
  total = counts.sum()
  if total == 0:
    reverse_kl = float("inf")
  else:
    p = counts[counts > 0] / total
    reverse_kl = float(np.sum(p * np.log(p * len(modes))))
  return {"modes": int(np.sum(counts > 0)), "hq": 100.0 * float(np.mean(hq)) if len(points) else 0.0,
          "reverse_kl": reverse_kl, "counts": counts}


def summarize(stats: list[dict]) -> dict:
  """Mean and standard deviation over seeds of modes, hq and reverse_kl."""
  out = {}
  for name in ("modes", "hq", "reverse_kl"):
    values = np.array([s[name] for s in stats], np.float64)
    out[name] = float(np.mean(values))
    # A seed without HQ points has reverse KL inf: the mean is inf and the spread undefined.
    out[name + "_std"] = float(np.std(values)) if np.all(np.isfinite(values)) else float("nan")
  return out
