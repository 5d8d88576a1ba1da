"""Start-up latency: how long a run waits before its first step, with and without the persistent
compilation cache (jgan.core.compile_cache).

Each case launches `python -m experiments.<name>` as a user would, in a fresh process, and reads
the "first step: X s" line the loop prints (compile or cache read, plus the first batch) and the
process's wall time (imports, data, init, the steps, the final checkpoint and report).
"""
from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import tempfile
import time

_FIRST_STEP = re.compile(r"first step: ([0-9.]+) s")


@dataclasses.dataclass
class Case:
  name: str
  first_step_s: float
  wall_s: float


def launch(module: str, args: list[str], cache: str | None, cwd: str | None = None) -> tuple[float, float]:
  """(first-step seconds, wall seconds) of one `python -m module args` with the cache at `cache` (None: off)."""
  env = {k: v for k, v in os.environ.items() if not k.startswith("JAX_COMPILATION_CACHE")}
  env["JGAN_COMPILATION_CACHE"] = cache or "off"
  start = time.perf_counter()
  done = subprocess.run([sys.executable, "-m", module, *args], env=env, cwd=cwd, capture_output=True, text=True)
  wall = time.perf_counter() - start
  if done.returncode:
    tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
    raise RuntimeError(f"{module} {' '.join(args)} exited {done.returncode}: {tail}")
  match = _FIRST_STEP.search(done.stdout)
  if match is None:
    raise RuntimeError(f"{module} printed no 'first step' line")
  return float(match.group(1)), wall


def measure(module: str, config_args: list[str], steps: int, scratch: str | None = None,
            cwd: str | None = None) -> list[Case]:
  """Cold cache, warm cache (a new run), a resume with the cache warm, and a resume without a cache."""
  scratch = scratch or tempfile.mkdtemp(prefix="jgan-startup-")
  cache = os.path.join(scratch, "cache")
  run = lambda workdir, n, c: launch(module, [*config_args, f"--workdir={os.path.join(scratch, workdir)}",
                                              f"--config.train.num_steps={n}"], c, cwd)
  cases = [Case("new run, no cache", *run("off", steps, None)),
           Case("new run, cold cache", *run("cold", steps, cache)),
           Case("new run, warm cache", *run("warm", steps, cache)),
           Case("resume, warm cache", *run("warm", 2 * steps, cache)),
           Case("resume, no cache", *run("off", 2 * steps, None))]
  return cases


def report(cases: list[Case]) -> str:
  lines = [f"{'case':<22} {'first step s':>12} {'process wall s':>15}"]
  lines += [f"{c.name:<22} {c.first_step_s:>12.1f} {c.wall_s:>15.1f}" for c in cases]
  return "\n".join(lines)
