"""The Stacked-MNIST benchmark (VEEGAN's and PacGAN's protocol): train, score 26,000 samples, tabulate.

A run is scored once, at the end of its training (`report`), into workdir/stacked_mnist.json; the
benchmark (`experiments.bench_stacked`, `make bench-stacked`) trains or resumes each recipe and seed
(`score_run`), then prints one row per recipe, mean +- population std over the seeds (`summary_row`,
`format_table`), beside the real-data row and the published anchors.
"""
from __future__ import annotations

import json
import os
import statistics
import time

from jgan.core.errors import UserError

# recipe -> the variant of experiments/configs/stacked_mnist.py that trains it
VARIANTS = {"dcgan": "dcgan", "jgan": "", "pacgan": "pacgan"}
# (name, modes of 1000, KL to uniform) as the papers print them
ANCHORS = [("DCGAN (VEEGAN Table 2)", "99", "3.40"), ("Unrolled GAN (VEEGAN Table 2)", "48.7", "4.32"),
           ("PacDCGAN2 (PacGAN Table 3)", "1000", "0.06")]
RESULT_FILE = "stacked_mnist.json"
TIMING_FILE = "bench_seconds.json"


def check_recipes(recipes) -> None:
  unknown = sorted(set(recipes) - set(VARIANTS))
  if unknown:
    raise UserError(f"--recipes: unknown {', '.join(unknown)}; use {', '.join(VARIANTS)}")


def report(config, workdir: str) -> dict:
  """Scores `config.eval.num_samples` samples of the run in `workdir` (EMA weights), prints one line and
  writes workdir/stacked_mnist.json; returns the scores (modes, kl, channel_kl, dependence_kl, shares)."""
  from jgan import eval as jeval
  # With a code per channel (jgan's recipe), also how cleanly each code value draws one digit: a channel's
  # uneven digit shares come from values that share a digit.
  metrics = "stacked_mnist,code_purity" if config.model.get("info_codes", 0) else "stacked_mnist"
  result = jeval.evaluate_run(workdir, metrics, num=config.eval.num_samples, seed=config.seed)
  scores = result["scores"]
  print(f"Stacked MNIST on {scores['num_samples']} samples: {scores['modes']}/1000 modes, "
        f"KL to uniform {scores['kl']:.3f} (channels' digit shares {scores['channel_kl']:.3f}, "
        f"{100 * scores['share_min']:.1f}-{100 * scores['share_max']:.1f}%; dependence between channels "
        f"{scores['dependence_kl']:.3f})")
  if "code_purity" in scores:
    print(f"Codes (code g draws channel {scores['code_channels']}[g]): a value's commonest digit holds "
          f"{scores['code_purity']:.3f} of its samples on average (lowest {scores['code_purity_min']:.2f}); each "
          f"code's 10 values settle on at least {scores['code_classes']} distinct digits")
  with open(os.path.join(workdir, RESULT_FILE), "w") as f:
    json.dump(result, f, indent=2, sort_keys=True)
  return scores


def _read_scores(workdir: str) -> dict | None:
  path = os.path.join(workdir, RESULT_FILE)
  if not os.path.isfile(path):
    return None
  with open(path) as f:
    return json.load(f)["scores"]


def score_run(config, workdir: str) -> tuple[dict, float]:
  """Trains (or resumes, or only re-reads) the run of `config` in `workdir` and returns (its scores, the
  seconds of the call that trained it). A run scored before the KL was split is scored again."""
  from jgan.train.run import train
  start = time.time()
  train(config, workdir)
  scores = _read_scores(workdir)
  # Scored before the KL was split, or (a run with codes) before the codes were drawn at random and read back:
  # scored again.
  stale = scores is not None and config.model.get("info_codes", 0) and "code_purity" not in scores
  if scores is None or "channel_kl" not in scores or stale:
    scores = report(config, workdir)
  # A finished run that is only re-read costs seconds: its entry is the time of the call that trained it
  # (of its last part, if that call resumed it).
  timing_path = os.path.join(workdir, TIMING_FILE)
  if not os.path.isfile(timing_path):
    with open(timing_path, "w") as f:
      json.dump({"seconds": time.time() - start}, f)
  with open(timing_path) as f:
    return scores, json.load(f)["seconds"]


def _spread(values, digits: int) -> str:
  return f"{statistics.mean(values):.{digits}f} +- {statistics.pstdev(values):.{digits}f}"


def summary_row(recipe: str, runs: list[tuple[dict, float]]) -> tuple[str, ...]:
  """One table row from the (scores, seconds) of each seed: mean +- population std, the digit-share range
  over all seeds, the codes' purity (recipes with codes; empty otherwise), mean seconds per run."""
  scores = [s for s, _ in runs]
  column = lambda key: [s[key] for s in scores]
  purity = _spread(column("code_purity"), 3) if all("code_purity" in s for s in scores) else ""
  return (recipe, _spread(column("modes"), 1), _spread(column("kl"), 3), _spread(column("channel_kl"), 3),
          _spread(column("dependence_kl"), 3),
          f"{100 * min(column('share_min')):.1f}-{100 * max(column('share_max')):.1f}%", purity,
          f"{statistics.mean(t for _, t in runs):.0f}")


def format_table(rows, real: dict, num_seeds: int) -> str:
  """The markdown table of `summary_row`s, the real-data row (`real`: scores of held-out stacks) and ANCHORS."""
  lines = [f"Stacked MNIST, 26,000 samples per run, {num_seeds} seeds (mean +- std)",
           "| recipe | modes (of 1000) | KL to uniform | of which channels' shares | of which dependence "
           "| a digit's share of a channel | code_purity | s per run |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
  lines += ["| " + " | ".join(row) + " |" for row in rows]
  # What a G that matched the data would earn, scored by the same protocol.
  lines.append(f"| real data (held-out digits, 26,000 stacks) | {real['modes']} | {real['kl']:.3f} | "
               f"{real['channel_kl']:.3f} | {real['dependence_kl']:.3f} | "
               f"{100 * real['share_min']:.1f}-{100 * real['share_max']:.1f}% | | |")
  lines += [f"| {name} | {modes} | {kl} | | | | | |" for name, modes, kl in ANCHORS]
  return "\n".join(lines)
