"""Per-family figures, numbers and commands for the documentation, read from real run directories.

    python -m docs.scripts.make_assets --train --steps=200 --runs=runs/docs   # short runs, then the assets
    python -m docs.scripts.make_assets --runs=runs/docs                       # assets from runs already there
    python -m docs.scripts.make_assets --run dcgan=runs/dcgan                 # one family from a full-length run

For every family it writes, under docs/assets/families/:
  <name>.png  the run's last sample grid (workdir/samples/latest.png, copied as it is);
  <name>.md   the command that made the run, its step count, the last metrics line
              (workdir/metrics.jsonl) and the health findings (workdir/health.jsonl), each marked when it cleared,
              included by docs/families.md.
Nothing on those pages is typed by hand: rerun this script after new runs.

With --train it first trains each family in turn (one process at a time, `nice`d) with
the family's `:smoke` config (8-channel nets, batch 16) for --steps steps, and records
the exact command in workdir/docs_command.txt. Without it, a run directory lacking that
file is described by the README command `python -m experiments.<module> --workdir=DIR`.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import time

from jgan.train import health

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "docs", "assets", "families")
COMMAND_FILE = "docs_command.txt"

# name -> (experiment module, config variant, overrides beyond the step counts, steps (0 = --steps)).
# Order = page order.
FAMILIES: dict[str, tuple[str, str, tuple[str, ...], int]] = {
    "gan": ("gan", "smoke", (), 0),
    "dcgan": ("dcgan", "smoke", (), 0),
    "wgan": ("wgan", "smoke", (), 0),
    "wgan_gp": ("wgan_gp", "smoke", (), 0),
    "lsgan": ("lsgan", "smoke", (), 0),
    "sngan": ("sngan", "smoke", (), 0),
    "cgan": ("cgan", "smoke", (), 0),
    "bigan": ("bigan", "smoke", (), 0),
    "stylegan": ("stylegan", "smoke", (), 0),
    "inpaint": ("inpaint", "smoke", (), 0),
    "srgan": ("srgan", "smoke", (), 0),
    # The troubleshooting page's example: the plain minimax loss on the 8-Gaussian ring, no EMA.
    "toy_ring8_minimax": ("toy2d", "", ("--config.train.loss=minimax", "--config.train.ema_decay=0"), 3000),
    "toy_grid25_minimax": ("toy2d", "", ("--config.data.source=grid25", "--config.train.loss=minimax",
                                          "--config.train.ema_decay=0"), 1500),
}

# Metrics shown in the table, in this order, when the run logged them.
SHOWN = ("d_loss", "g_loss", "d_real", "d_fake", "recon", "adv", "features", "psnr", "d_grad_norm", "g_grad_norm",
         "health/diversity", "health/duplicates", "health/class_kl", "health/modes", "health/hq")


def command(name: str, steps: int, workdir: str) -> list[str]:
  """The training command of family `name`: its config variant, `steps` steps, every log interval inside the run."""
  module, variant, extra, own_steps = FAMILIES[name]
  steps = own_steps or steps
  config = f"experiments/configs/{module}.py" + (f":{variant}" if variant else "")
  quarter, half = max(1, steps // 4), max(1, steps // 2)
  return [sys.executable, "-m", f"experiments.{module}", f"--config={config}", f"--config.train.num_steps={steps}",
          f"--config.log.every_steps={quarter}", f"--config.log.sample_every_steps={half}",
          f"--config.log.checkpoint_every_steps={steps}", f"--config.log.health_every_steps={quarter}",
          f"--config.log.health_sample_every_steps={half}", f"--config.log.health_warmup_steps={half}",
          *extra, f"--workdir={workdir}"]


def shown_command(argv: list[str]) -> str:
  """argv as a reader types it: `python` for the interpreter, paths relative to the repository."""
  return shlex.join(["python", *argv[1:]])


def train(name: str, steps: int, workdir: str) -> None:
  argv = command(name, steps, workdir)
  if os.path.exists(workdir):
    shutil.rmtree(workdir)   # a fresh run: an old one would be resumed, not retrained
  print(f"[{name}] {shown_command(argv)}", flush=True)
  start = time.time()
  # nice: the docs runs share the machine with other work.
  subprocess.run(["nice", "-n", "10", *argv], cwd=ROOT, check=True)
  with open(os.path.join(workdir, COMMAND_FILE), "w") as f:
    f.write(shown_command(argv) + "\n")
  print(f"[{name}] {time.time() - start:.0f} s", flush=True)


def _read_jsonl(path: str) -> list[dict]:
  if not os.path.exists(path):
    return []
  with open(path) as f:
    return [json.loads(line) for line in f if line.strip()]


def _format(value) -> str:
  return f"{value:.3f}" if isinstance(value, float) else str(value)


def describe(name: str, workdir: str) -> str:
  """The markdown block of one run: command, steps, last metrics, health findings (marked when cleared)."""
  module = FAMILIES[name][0] if name in FAMILIES else name
  with open(os.path.join(workdir, "config.json")) as f:
    config = json.load(f)
  metrics = _read_jsonl(os.path.join(workdir, "metrics.jsonl"))
  last = metrics[-1] if metrics else {}
  command_path = os.path.join(workdir, COMMAND_FILE)
  if os.path.exists(command_path):
    with open(command_path) as f:
      cmd = f.read().strip()
  else:
    cmd = f"python -m experiments.{module} --workdir={workdir}"
  t, m = config["train"], config["model"]
  if m["name"] == "mlp":
    sizes = f"G hidden {tuple(m['g_hidden'])}, D hidden {tuple(m['d_hidden'])}"
  else:
    sizes = f"G width {m['g_width']}, D width {m['d_width']}"
  lines = [
      "```bash", cmd, "```", "",
      f"Run: {last.get('step', 0)} of {t['num_steps']} generator steps, batch {t['batch_size']}, "
      f"model `{m['name']}` ({sizes}), loss `{t['loss']}`, seed {config['seed']}.", "",
  ]
  rows = [(key, last[key]) for key in SHOWN if key in last]
  if rows:
    lines += [f"| metric at step {last['step']} | value |", "| --- | ---: |"]
    lines += [f"| `{key}` | {_format(value)} |" for key, value in rows]
    lines.append("")
  found = [(e, end) for e, end in health.episodes(health.read_events(workdir)) if "message" in e]
  if found:
    # The lines the run printed, rebuilt from workdir/health.jsonl in the monitor's own format; an
    # episode that cleared later says so.
    lines += ["Health monitor findings (`health.jsonl`):", "", "```text"]
    lines += [f"health: step {e['step']}: {e['kind']}: {e['message']}" + (f" (cleared by step {end})" if end else "")
              for e, end in found]
    lines += ["```", ""]
  return "\n".join(lines)


def write_assets(name: str, workdir: str) -> None:
  os.makedirs(OUT, exist_ok=True)
  grid = os.path.join(workdir, "samples", "latest.png")
  if not os.path.exists(grid):
    raise SystemExit(f"{workdir}: no samples/latest.png; is it a finished run directory?")
  shutil.copyfile(grid, os.path.join(OUT, f"{name}.png"))
  with open(os.path.join(OUT, f"{name}.md"), "w") as f:
    f.write(describe(name, workdir))
  print(f"[{name}] assets from {workdir}", flush=True)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--runs", default="runs/docs", help="folder holding one run directory per family")
  parser.add_argument("--run", action="append", default=[], help="NAME=WORKDIR: one family from this run directory")
  parser.add_argument("--only", default="", help="comma-separated family names (default: all)")
  parser.add_argument("--train", action="store_true", help="train the short runs first")
  parser.add_argument("--steps", type=int, default=200, help="generator steps of each short run")
  args = parser.parse_args()
  if args.run:
    for item in args.run:
      name, _, workdir = item.partition("=")
      write_assets(name, workdir)
    return
  names = [n for n in args.only.split(",") if n] or list(FAMILIES)
  for name in names:
    workdir = os.path.join(args.runs, name)
    if args.train:
      train(name, args.steps, workdir)
    if os.path.isdir(workdir):
      write_assets(name, workdir)
    else:
      print(f"[{name}] no run in {workdir}: skipped", flush=True)


if __name__ == "__main__":
  main()
