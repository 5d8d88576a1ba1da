"""The GPU speed table in one run: python -m experiments.bench_gpu [--json=rows.json] [--budget_s=400].

On one accelerator (written for an H100/H200; it runs anywhere, slowly on a CPU) it prints, all
measured in this one process:
  * training images/s of DCGAN-64 (pytorch/examples' model: nz 100, 64 filters, 3 channels), batch 64
    and 256, float32 and bfloat16, one step per call and 20 per call in a rolled `lax.scan`, the
    dataset held on the device (`config.data.placement="device"`): `experiments/configs/bench.py:gpu`;
  * the same step in PyTorch on the same device: pytorch/examples' eager loop (float32), and a tuned
    one (bfloat16 autocast, channels_last, fused Adam, the step captured in a CUDA graph);
  * features/s of lenet-mnist and of the FID Inception (random weights of the real shapes when the
    weights file is not on the machine: the same arithmetic, for timing only), beside torchvision's
    Inception-v3 in float32 and in TF32;
  * the main job end to end (`python -m experiments.dcgan`, its default config) if time is left.

The training rows read the embedded digits from the packaged `.npz` (`config.data.source=<path>`), the
same 10,000 images as `mnist10k` without tensorflow-datasets, which accelerator images often lack.
Rows run in order of importance (the goal's bf16 rows, the PyTorch baselines, features, the other
jgan rows, the main job) and stop starting once `--budget_s` seconds have passed, so the
script fits a fixed lease; skipped rows say so. The last table puts issue 17's reference figures
(PyTorch on one H200, measured elsewhere) next to the rows measured here.
"""
import json
import os

# JAX takes 75% of an accelerator's memory when it starts; this process also runs PyTorch, and the main
# job runs as a second JAX process beside it. A third each is far more than these models need.
os.environ.setdefault("XLA_PYTHON_CLIENT_MEM_FRACTION", "0.3")
import statistics
import subprocess
import sys
import tempfile
import time

import jax
import numpy as np
from absl import flags

from experiments.configs import bench as bench_configs
from jgan import features
from jgan.bench import features as bench_features
from jgan.bench import speed
from jgan.core import cli
from jgan.core.errors import UserError
from jgan.data.embedded import embedded_npz_path, load_embedded_arrays
from jgan.data.sources import open_source

_JSON = flags.DEFINE_string("json", None, "Also write every row as JSON here.")
_BUDGET = flags.DEFINE_float("budget_s", 400.0, "Start no new row after this many seconds.")
_STEPS = flags.DEFINE_integer("steps", 400, "Timed training steps per row (3 windows; warm-up apart).")
_K = flags.DEFINE_integer("steps_per_call", 20, "Steps per call of the scanned rows.")
_BATCHES = flags.DEFINE_list("batch_sizes", ["64", "256"], "Training batch sizes.")
_INCEPTION_N = flags.DEFINE_integer("inception_images", 4000, "Images timed for Inception (32x32 RGB inputs).")
_LENET_N = flags.DEFINE_integer("lenet_images", 50000, "Images timed for lenet-mnist.")
_WEIGHTS = flags.DEFINE_string("weights", None, "FID Inception weights (default: jgan's usual search; random "
                               "weights of the same shapes when none is found).")
_CHECK_LENET = flags.DEFINE_string("check_lenet", None, "An .npz of lenet-mnist features of the first embedded "
                                   "digits computed elsewhere (`features`): print how far this device's differ.")
_MAIN_JOB = flags.DEFINE_boolean("main_job", True, "Time `python -m experiments.dcgan` end to end if time is left.")

# Issue 17's figures for this model on one H200 (PyTorch 2.x, measured outside this repository), images/s.
REFERENCE = {
    ("torch eager float32", 64): 6816, ("torch eager float32", 256): 24748,
    ("torch CUDA graph + bf16 + channels_last + fused Adam", 64): 28277,
    ("torch CUDA graph + bf16 + channels_last + fused Adam", 256): 63181,
    ("plain Flax bf16, 20 steps per call", 64): 25347, ("plain Flax bf16, 20 steps per call", 256): 50131,
    ("goal", 64): 30000, ("goal", 256): 70000,
}


class Budget:
  def __init__(self, seconds: float):
    self.start, self.seconds = time.perf_counter(), seconds

  def elapsed(self) -> float:
    return time.perf_counter() - self.start

  def left(self) -> float:
    return self.seconds - self.elapsed()


def _print(*args):
  print(*args, flush=True)


def training_rows(budget: Budget, rows: list, save, first: bool) -> None:
  """`first`: the goal's rows and their PyTorch baselines; else the other jgan rows."""
  base = bench_configs.get_config("gpu")
  base.data.source = str(embedded_npz_path())
  d, m = base.data, base.model
  batches = [int(b) for b in _BATCHES.value]
  steps = _STEPS.value
  torch_device = _torch_device()
  images = open_source(d, seed=base.seed).read_all()["x"] if torch_device and first and batches else None

  def jgan_row(precision: str, k: int, batch: int):
    config = base.copy_and_resolve_references()
    config.train.batch_size, config.model.dtype = batch, precision
    config.train.steps_per_call, config.train.scan_rolled = k, k > 1
    return f"jgan/device k={k}", precision, k, jax.devices()[0].device_kind, lambda: speed.bench_jgan(
        config, "device", max(steps, 3 * k), max(2 * k, 20 if k == 1 else 0))

  def torch_row(name: str, fn, batch: int):
    precision = "float32" if name == "torch/eager" else "bfloat16"
    # Two runs (each of 3 windows), the median: torch's first run on a fresh process also pays cuDNN's choices.
    return name, precision, 1, torch_device, lambda: statistics.median(
        fn(images, d.resolution, d.channels, m.g_width, m.latent_dim, batch, steps // 2, 20, device=torch_device)
        for _ in range(2))

  # In order of importance, so a short lease still gets the goal's rows and their baselines.
  k = _K.value
  if first:
    plan = [(b, jgan_row("bfloat16", k, b)) for b in batches]
    if torch_device:
      plan += [(b, torch_row("torch/eager", speed.bench_torch, b)) for b in batches]
      plan += [(b, torch_row("torch/tuned", _tuned_or_without_graph, b)) for b in batches]
    else:
      _print("torch rows: torch is not installed")
  else:
    variants = dict.fromkeys(v for v in (("float32", k), ("bfloat16", 1), ("float32", 1)) if v != ("bfloat16", k))
    plan = [(b, jgan_row(p, steps_per_call, b)) for p, steps_per_call in variants for b in batches]
  for batch, (name, precision, k, where, timer) in plan:
    label = f"{name:<18} batch {batch:>3} {precision:<8}"
    if budget.left() <= 0:
      _print(f"{label}: skipped (budget spent)")
      continue
    started = time.perf_counter()
    try:
      seconds = timer()
    except Exception as e:  # noqa: BLE001 - one failed row must not lose the others
      _print(f"{label}: FAILED {type(e).__name__}: {str(e)[:300]}")
      continue
    rows.append(speed.row(name, batch, precision, k, seconds, where))
    _print(f"{label}: {batch / seconds:>9.0f} img/s  ({seconds * 1e3:.2f} ms/step; "
           f"the row took {time.perf_counter() - started:.0f} s, compilation included)")
    save()


def _tuned_or_without_graph(*args, **kwargs) -> float:
  try:
    return speed.bench_torch_tuned(*args, **kwargs)
  except Exception as e:  # noqa: BLE001 - report it, and still time the rest of the tuning
    _print(f"torch/tuned: the CUDA graph failed ({type(e).__name__}: {str(e)[:200]}); timing it without the graph")
    return speed.bench_torch_tuned(*args, graph=False, **kwargs)


def _torch_device() -> str | None:
  try:
    import torch
  except ImportError:
    return None
  return "cuda" if torch.cuda.is_available() else "cpu"


def feature_rows(budget: Budget, out: dict) -> None:
  if budget.left() <= 0:
    _print("features: skipped (budget spent)")
    return
  digits = load_embedded_arrays()[0][..., None]
  digits = np.tile(digits, (-(-_LENET_N.value // len(digits)), 1, 1, 1))[:_LENET_N.value]
  out["lenet-mnist"] = bench_features.jgan_features_per_second("lenet-mnist", digits)
  _print(json.dumps(out["lenet-mnist"]))
  if _CHECK_LENET.value:
    with np.load(_CHECK_LENET.value) as data:
      theirs = data["features"]
    ours = features.get("lenet-mnist")(load_embedded_arrays()[0][:len(theirs), ..., None])["features"]
    out["lenet-mnist_check"] = {"images": len(theirs), "max_abs_diff": float(np.abs(ours - theirs).max()),
                                "relative_l2": float(np.linalg.norm(ours - theirs) / np.linalg.norm(theirs))}
    _print("lenet-mnist against the features computed elsewhere:", json.dumps(out["lenet-mnist_check"]))
  cifar_like = np.random.default_rng(0).integers(0, 256, (_INCEPTION_N.value, 32, 32, 3), dtype=np.uint8)
  try:
    extractor = features.get("inception", _WEIGHTS.value)
  except UserError as e:  # no weights on this machine: time the same network on random weights
    _print(f"inception weights: {str(e)[:200]}; timing random weights of the same shapes")
    extractor = bench_features.random_inception_extractor()
  out["inception"] = bench_features.jgan_features_per_second("inception", cifar_like, extractor=extractor)
  out["inception"]["weights"] = extractor.weights_source
  _print(json.dumps(out["inception"]))
  device = _torch_device()
  if device is not None and budget.left() > 0:
    for tf32 in (False, True):
      try:
        peer = bench_features.peer_torchvision_inception_per_second(cifar_like, out["inception"]["batch"], device, tf32)
      except Exception as e:  # noqa: BLE001
        peer = f"FAILED {type(e).__name__}: {str(e)[:300]}"
      out[f"inception_torchvision_{'tf32' if tf32 else 'float32'}"] = peer
      _print(json.dumps(peer))


def main_job(budget: Budget, out: dict) -> None:
  """`python -m experiments.dcgan` with its default config, timed from launch to exit."""
  if budget.left() < 60:
    _print(f"main job: skipped ({budget.left():.0f} s of the budget left)")
    return
  with tempfile.TemporaryDirectory() as workdir:
    command = [sys.executable, "-m", "experiments.dcgan", f"--workdir={workdir}",
               f"--config.data.source={embedded_npz_path()}", "--config.log.tensorboard=False"]
    started = time.perf_counter()
    try:
      done = subprocess.run(command, capture_output=True, text=True, timeout=max(60.0, budget.left() + 60),
                            env=dict(os.environ))
    except subprocess.TimeoutExpired:
      out["main_job"] = {"command": " ".join(command[1:]), "status": "stopped: out of budget"}
      _print(json.dumps(out["main_job"]))
      return
    seconds = time.perf_counter() - started
    tail = (done.stdout + done.stderr).strip().splitlines()[-6:]
    out["main_job"] = {"command": " ".join(command[1:]), "exit": done.returncode, "seconds": round(seconds, 1),
                       "last_lines": tail}
    _print(json.dumps(out["main_job"], indent=1))


def report(rows: list) -> None:
  _print()
  speed.report(rows, _print)
  _print("\nissue 17's reference figures on one H200 (images/s, batch 64 / 256):")
  for label in dict.fromkeys(name for name, _ in REFERENCE):
    _print(f"  {label:<56}{REFERENCE[(label, 64)]:>8,}{REFERENCE[(label, 256)]:>9,}")
  best = {}
  for r in rows:
    if r["row"].startswith("jgan"):
      best[r["batch"]] = max(best.get(r["batch"], 0), r["images_per_s"])
  for batch, value in sorted(best.items()):
    goal = REFERENCE.get(("goal", batch))
    _print(f"jgan's best at batch {batch}: {value:,.0f} img/s" + (f" ({value / goal:.2f}x the goal)" if goal else ""))


def main(argv):
  del argv
  budget = Budget(_BUDGET.value)
  out = {"environment": {"jax": jax.__version__, "devices": [str(x) for x in jax.devices()],
                         "device_kind": jax.devices()[0].device_kind, "backend": jax.default_backend(),
                         "xla_flags": os.environ.get("XLA_FLAGS", "")}}
  try:
    import torch
    out["environment"]["torch"] = torch.__version__
    out["environment"]["torch_device"] = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
  except ImportError:
    pass
  _print(json.dumps(out["environment"]))
  rows = []

  def save():
    if _JSON.value:
      os.makedirs(os.path.dirname(os.path.abspath(_JSON.value)), exist_ok=True)
      with open(_JSON.value, "w") as f:
        json.dump({**out, "rows": rows, "reference": {f"{k[0]} @ {k[1]}": v for k, v in REFERENCE.items()}}, f,
                  indent=2)
  try:
    training_rows(budget, rows, save, first=True)
    try:
      feature_rows(budget, out)
    except Exception as e:  # noqa: BLE001 - the other rows still count
      _print(f"features: FAILED {type(e).__name__}: {str(e)[:300]}")
    save()
    training_rows(budget, rows, save, first=False)
    if _MAIN_JOB.value:
      main_job(budget, out)
  finally:
    report(rows)
    _print(f"total {budget.elapsed():.0f} s")
    save()


if __name__ == "__main__":
  cli.run(main)
