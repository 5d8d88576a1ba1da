"""The run report: one HTML page of PNG plots from what a run wrote in its workdir.

    from jgan.eval import report
    report.write_report(["runs/dcgan"])                       # runs/dcgan/report/index.html
    report.write_report(["runs/a", "runs/b"], out_dir="cmp")  # several runs overlaid

From metrics.jsonl: the losses, D(x) and D(G(z)), the gradient norms, the sample
diversity and class histogram of the health checks (health/...), the evaluation
scores (eval/...); from samples/step_*.png: the sample grids as a strip; from
health.jsonl: the findings, marked on the curves at the steps they fired and
listed in a table. Plots are drawn with matplotlib's Agg canvas (no display, no
pyplot state). `python -m experiments.report` is the command-line entry, and
jgan.train.run writes the report of a run when it ends (config.log.report).
"""
from __future__ import annotations

import dataclasses
import glob
import html
import json
import math
import os
import re
import shutil
from typing import Sequence

import numpy as np

from jgan.core.errors import UserError

REPORT_DIR = "report"
MAX_STRIP = 10          # sample grids shown per run
STRIP_COLUMNS = 5       # grids per row of the strip
_KIND_COLORS = {
    "loss_spike": "tab:red", "loss_oscillation": "magenta", "d_overpowering": "tab:purple",
    "g_gradient_vanishing": "tab:brown", "low_diversity": "tab:pink", "class_imbalance": "tab:olive",
    "mode_dropping": "tab:cyan", "non_finite": "black", "blow_up": "black", "rollback": "tab:gray",
}


@dataclasses.dataclass
class Run:
  workdir: str
  name: str
  series: dict            # metric -> (steps array, values array)
  events: list            # health.jsonl records
  samples: list           # [(step, path)] of samples/step_*.png, by step
  config: dict

  def has(self, key: str) -> bool:
    return key in self.series and np.any(np.isfinite(self.series[key][1]))

  @property
  def findings(self) -> list[dict]:
    """Episode starts and rollbacks (not the episode ends)."""
    return [e for e in self.events if e.get("episode") != "end" and "kind" in e]


def _number(value) -> float | None:
  if isinstance(value, bool):
    return None
  if isinstance(value, (int, float)):
    return float(value)
  if value in ("NaN", "nan", "Infinity", "inf", "-Infinity", "-inf"):
    return float(value.replace("Infinity", "inf"))
  return None


def load_run(workdir: str) -> Run:
  """Reads what `workdir` holds (a run of any age: missing files give empty parts)."""
  if not os.path.isdir(workdir):
    raise UserError(f"--workdir={workdir} is not a directory")
  metrics_path = os.path.join(workdir, "metrics.jsonl")
  if not os.path.isfile(metrics_path) and not os.path.isfile(os.path.join(workdir, "config.json")):
    raise UserError(f"{workdir} holds no metrics.jsonl or config.json: is it a jgan run directory?")
  points: dict[str, dict[int, float]] = {}
  lines = []  # no metrics.jsonl: the run diverged before its first log line
  if os.path.isfile(metrics_path):
    with open(metrics_path) as f:
      lines = f.readlines()
  for line in lines:
    try:
      record = json.loads(line)
    except ValueError:
      continue  # a line cut short by a kill
    step = record.get("step")
    if not isinstance(step, int):
      continue
    for key, value in record.items():
      number = _number(value)
      if key != "step" and number is not None:
        points.setdefault(key, {})[step] = number
  series = {k: (np.array(sorted(v)), np.array([v[s] for s in sorted(v)])) for k, v in points.items()}
  events = []
  health_path = os.path.join(workdir, "health.jsonl")
  if os.path.isfile(health_path):
    with open(health_path) as f:
      for line in f:
        try:
          events.append(json.loads(line))
        except ValueError:
          continue
  samples = []
  for path in glob.glob(os.path.join(workdir, "samples", "step_*.png")):
    match = re.search(r"step_(\d+)\.png$", path)
    if match:
      samples.append((int(match.group(1)), path))
  config = {}
  try:
    with open(os.path.join(workdir, "config.json")) as f:
      config = json.load(f)
  except (OSError, ValueError):
    pass
  name = os.path.basename(os.path.normpath(os.path.abspath(workdir)))
  return Run(workdir, name, series, events, sorted(samples), config)


# ----------------------------------------------------------------------------- drawing

def _figure(rows: int = 1, width: float = 10.0, height: float = 3.2):
  from matplotlib.backends.backend_agg import FigureCanvasAgg
  from matplotlib.figure import Figure
  fig = Figure(figsize=(width, height * rows), dpi=100)
  FigureCanvasAgg(fig)
  return fig


def _save(fig, path: str) -> None:
  fig.tight_layout()
  tmp = path + ".tmp.png"
  fig.savefig(tmp, format="png")
  os.replace(tmp, path)


def episodes(run: Run) -> list[tuple[str, int, int | None]]:
  """(kind, first step, step it cleared or None) of each finding of `run`; divergences and rollbacks
  last one step."""
  out, open_ = [], {}
  for event in run.events:
    kind, step = event.get("kind"), event.get("step")
    if not isinstance(step, int):
      continue
    if event.get("episode") == "end":
      if kind in open_:
        index = open_.pop(kind)
        out[index] = (kind, out[index][1], step)
    elif kind in ("rollback", "non_finite", "blow_up"):
      out.append((kind, step, step))
    else:
      open_[kind] = len(out)
      out.append((kind, step, None))
  return out


def _last_step(run: Run) -> int:
  return max((int(s[0][-1]) for s in run.series.values() if len(s[0])), default=0)


def _mark_findings(ax, runs: Sequence[Run], colors: Sequence[str], legend: bool = True) -> None:
  """A vertical line where each finding fired, its episode shaded until it cleared: the kind's colour
  for one run, the run's for several."""
  seen = set()
  for run, color in zip(runs, colors):
    last = _last_step(run)
    for kind, start, end in episodes(run):
      c = _KIND_COLORS.get(kind, "tab:gray") if len(runs) == 1 else color
      label = kind if legend and len(runs) == 1 and kind not in seen else None
      seen.add(kind)
      ax.axvline(start, color=c, linestyle="--" if kind != "rollback" else ":", linewidth=1.2, alpha=0.8,
                 label=label)
      stop = last if end is None else end
      if stop > start:
        ax.axvspan(start, stop, color=c, alpha=0.08, linewidth=0)


def _line_plot(path: str, runs: Sequence[Run], panels: Sequence[tuple[str, Sequence[tuple[str, str]], bool]],
               colors: Sequence[str]) -> bool:
  """One row per panel (title, [(metric, label)], log y); each metric of each run a line. False if empty."""
  panels = [p for p in panels if any(run.has(m) for run in runs for m, _ in p[1])]
  if not panels:
    return False
  fig = _figure(len(panels))
  styles = ["-", "--", ":", "-."]
  for row, (title, metrics, log_y) in enumerate(panels):
    ax = fig.add_subplot(len(panels), 1, row + 1)
    for run, color in zip(runs, colors):
      for i, (metric, label) in enumerate(metrics):
        if not run.has(metric):
          continue
        steps, values = run.series[metric]
        if log_y:
          values = np.where(values > 0, values, np.nan)
        name = label if len(runs) == 1 else f"{run.name}: {label}"
        ax.plot(steps, values, styles[i % len(styles)], color=color if len(runs) > 1 else None, label=name,
                linewidth=1.4, marker="o" if len(steps) < 30 else None, markersize=3)
    if log_y:
      ax.set_yscale("log")
    _mark_findings(ax, runs, colors, legend=row == 0)
    ax.set_xlim(0, max(_last_step(run) for run in runs) or 1)   # every plot on the same step axis
    ax.set_title(title)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
  _save(fig, path)
  return True


def _class_plot(path: str, runs: Sequence[Run], colors: Sequence[str]) -> bool:
  """One run: the class histogram of the samples over time (stacked shares); several: KL from uniform."""
  if len(runs) == 1:
    run = runs[0]
    keys = sorted((k for k in run.series if re.fullmatch(r"health/class_\d+", k)), key=lambda k: int(k.split("_")[-1]))
    if not keys:
      return False
    steps = run.series[keys[0]][0]
    shares = np.stack([np.interp(steps, *run.series[k]) for k in keys])
    fig = _figure(1, height=3.6)
    ax = fig.add_subplot(1, 1, 1)
    from matplotlib import colormaps
    cmap = colormaps["tab10"] if len(keys) <= 10 else colormaps["tab20"]
    if len(steps) == 1:
      ax.bar([k.split("_")[-1] for k in keys], shares[:, 0], color=[cmap(i % cmap.N) for i in range(len(keys))])
      ax.set_xlabel(f"class (step {int(steps[0])})")
    else:
      ax.stackplot(steps, shares, labels=[k.split("_")[-1] for k in keys],
                   colors=[cmap(i % cmap.N) for i in range(len(keys))])
      ax.axhline(0.5, color="white", linewidth=0.5, alpha=0.5)
      ax.set_xlim(0, max(_last_step(run), int(steps[-1])))
      ax.set_ylim(0, 1)
      ax.set_xlabel("step")
      ax.legend(fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5), title="class")
      _mark_findings(ax, runs, colors)
    ax.set_title("class histogram of the samples (share of each predicted class; uniform = equal bands)")
    ax.set_ylabel("share")
    _save(fig, path)
    return True
  return _line_plot(path, runs, [("class KL from uniform (nats)", [("health/class_kl", "class KL")], False),
                                 ("rarest class share", [("health/rarest_class", "rarest class")], False)], colors)


def _eval_plot(path: str, runs: Sequence[Run], colors: Sequence[str]) -> bool:
  names = sorted({k for run in runs for k in run.series if k.startswith("eval/")})
  return _line_plot(path, runs, [(name, [(name, name[len("eval/"):])], False) for name in names], colors)


def _strip(path: str, run: Run) -> bool:
  """The sample grids at up to MAX_STRIP saved steps, in order, STRIP_COLUMNS a row, labelled by step."""
  if not run.samples:
    return False
  from PIL import Image
  picked = run.samples
  if len(picked) > MAX_STRIP:
    index = np.unique(np.round(np.linspace(0, len(picked) - 1, MAX_STRIP)).astype(int))
    picked = [picked[i] for i in index]
  columns = min(len(picked), STRIP_COLUMNS)
  rows = -(-len(picked) // columns)
  fig = _figure(rows, width=2.3 * columns, height=2.5)
  for i, (step, file) in enumerate(picked):
    ax = fig.add_subplot(rows, columns, i + 1)
    with Image.open(file) as image:
      pixels = np.asarray(image.convert("RGB"))
    ax.imshow(pixels, interpolation="nearest")
    ax.set_title(f"step {step}", fontsize=9)
    ax.set_axis_off()
  _save(fig, path)
  return True


# ----------------------------------------------------------------------------- the page

def _fmt(value) -> str:
  if isinstance(value, float):
    return f"{value:.4g}" if math.isfinite(value) else str(value)
  return str(value)


def _summary(run: Run) -> str:
  c = run.config
  parts = []
  for section, field in (("task", None), ("model", "name"), ("data", "source"), ("train", "loss"),
                         ("train", "num_steps"), ("train", "g_lr"), ("train", "d_lr")):
    value = c.get(section) if field is None else c.get(section, {}).get(field)
    if value is not None:
      parts.append(f"{section if field is None else section + '.' + field}={_fmt(value)}")
  last = {k: run.series[k][1][-1] for k in ("d_loss", "g_loss", "d_real", "d_fake") if k in run.series}
  steps = max((int(s[0][-1]) for s in run.series.values() if len(s[0])), default=0)
  return (f"<b>{html.escape(run.name)}</b> ({html.escape(os.path.abspath(run.workdir))}): "
          f"{html.escape(', '.join(parts))}; last logged step {steps}"
          + (": " + html.escape(", ".join(f"{k}={_fmt(float(v))}" for k, v in last.items())) if last else ""))


def _findings_table(runs: Sequence[Run]) -> str:
  rows = []
  for run in runs:
    for event in run.findings:
      rows.append(f"<tr><td>{html.escape(run.name)}</td><td>{html.escape(_fmt(event.get('step')))}</td>"
                  f"<td style='color:{_KIND_COLORS.get(event['kind'], 'gray').replace('tab:', '')}'>"
                  f"<b>{html.escape(event['kind'])}</b></td><td>{html.escape(str(event.get('message', '')))}</td></tr>")
  if not rows:
    return "<p>No health findings: nothing unusual was seen.</p>"
  return ("<table><tr><th>run</th><th>step</th><th>finding</th><th>what was seen, and what to try</th></tr>"
          + "".join(rows) + "</table>")


_STYLE = """
body { font-family: sans-serif; margin: 20px; max-width: 1100px; }
img { max-width: 100%; border: 1px solid #ddd; margin: 4px 0 16px 0; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border: 1px solid #ccc; padding: 4px 6px; vertical-align: top; text-align: left; }
h2 { margin-top: 28px; }
"""


def write_report(workdirs: Sequence[str], out_dir: str | None = None) -> str:
  """Writes the report of the runs in `workdirs` (several: overlaid) into `out_dir` (default
  <first workdir>/report); returns the path of its index.html."""
  if not workdirs:
    raise UserError("no run directory given")
  runs = [load_run(w) for w in workdirs]
  names = [r.name for r in runs]
  for i, run in enumerate(runs):  # tell apart runs whose folders share a name
    if names.count(run.name) > 1:
      run.name = f"{run.name}#{i + 1}"
  out_dir = out_dir or os.path.join(workdirs[0], REPORT_DIR)
  # Drawn into a staging folder inside out_dir, then moved into place file by file (index.html last): a full
  # disk or any other failure mid-way leaves the previous report whole and no partial one beside it.
  staging = os.path.join(out_dir, f".staging-{os.getpid()}")
  try:
    os.makedirs(staging, exist_ok=True)
    files = _draw(runs, staging)
    for file in files:
      os.replace(os.path.join(staging, file), os.path.join(out_dir, file))
  except OSError as e:
    raise UserError(f"could not write the report into {out_dir}: {e.strerror or e}; free some space or choose "
                    "another folder (the previous report there is unchanged)") from None
  finally:
    shutil.rmtree(staging, ignore_errors=True)
  return os.path.join(out_dir, "index.html")


def _draw(runs, out_dir: str) -> list[str]:
  """Draws the plots and index.html of `runs` into `out_dir`; returns the files written, index.html last."""
  colors = [f"C{i % 10}" for i in range(len(runs))]
  sections, written = [], []

  def add(title: str, file: str, drawn: bool, note: str = "") -> None:
    if drawn:
      written.append(file)
      sections.append(f"<h2>{html.escape(title)}</h2>{note}<img src='{file}' alt='{html.escape(title)}'>")

  add("Losses", "losses.png", _line_plot(os.path.join(out_dir, "losses.png"), runs, [
      ("discriminator loss", [("d_loss", "d_loss")], False), ("generator loss", [("g_loss", "g_loss")], False),
      ("reconstruction loss", [("recon", "recon")], False)], colors),
      "<p>Dashed vertical lines: health findings (see the table); dotted: rollbacks.</p>")
  add("D(x) and D(G(z))", "d_probs.png", _line_plot(os.path.join(out_dir, "d_probs.png"), runs, [
      ("mean sigmoid of D: real (D(x)) and generated (D(G(z))) batches",
       [("d_real", "D(x)"), ("d_fake", "D(G(z))")], False)], colors))
  add("Gradient norms", "grad_norms.png", _line_plot(os.path.join(out_dir, "grad_norms.png"), runs, [
      ("global gradient norms", [("d_grad_norm", "D"), ("g_grad_norm", "G")], True)], colors))
  add("Sample diversity", "diversity.png", _line_plot(os.path.join(out_dir, "diversity.png"), runs, [
      ("diversity of a fixed latent batch relative to real data (1 = as diverse)",
       [("health/diversity", "diversity ratio")], False),
      ("share of samples with a near duplicate", [("health/duplicates", "near duplicates")], False),
      ("2D modes covered", [("health/modes", "modes")], False)], colors))
  add("Classes of the samples", "classes.png", _class_plot(os.path.join(out_dir, "classes.png"), runs, colors))
  add("Evaluation", "eval.png", _eval_plot(os.path.join(out_dir, "eval.png"), runs, colors))
  for i, run in enumerate(runs):
    file = f"samples_{i}.png" if len(runs) > 1 else "samples.png"
    add(f"Samples{': ' + run.name if len(runs) > 1 else ''}", file, _strip(os.path.join(out_dir, file), run))

  title = "jgan run report" + (f": {runs[0].name}" if len(runs) == 1 else f": {len(runs)} runs")
  page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
          f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"
          + "".join(f"<p>{_summary(run)}</p>" for run in runs)
          + "<h2>Health findings</h2>" + _findings_table(runs) + "".join(sections) + "</body></html>")
  with open(os.path.join(out_dir, "index.html"), "w") as f:
    f.write(page)
  return [*written, "index.html"]
