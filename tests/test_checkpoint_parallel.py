"""Checkpoints survive a kill mid-save; data parallelism and device-count changes keep the numbers."""
import json
import os
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
from conftest import REPO

from jgan.train.checkpoint import Checkpointer


def test_sigkill_during_save_leaves_previous_checkpoint_restorable(tmp_path):
  directory = tmp_path / "ckpt"
  proc = subprocess.run([sys.executable, str(REPO / "tests/scripts/kill_during_save.py"), str(directory)],
                        cwd=REPO, capture_output=True, text=True, timeout=300,
                        env={**os.environ, "PYTHONPATH": str(REPO)})
  assert proc.returncode == -9, proc.stderr[-2000:]
  assert "saving" in proc.stdout
  assert any("tmp" in name for name in os.listdir(directory)), os.listdir(directory)  # killed mid-write
  checkpointer = Checkpointer(str(directory), keep=3)
  assert checkpointer.steps() == [1]
  restored = checkpointer.restore_latest({"w": jnp.zeros(10), "step": jnp.int32(0)})
  checkpointer.close()
  np.testing.assert_array_equal(restored["w"], np.arange(10.0))
  assert not any("tmp" in name for name in os.listdir(directory))  # leftovers cleaned up


def test_truncated_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, capsys):
  checkpointer = Checkpointer(str(tmp_path), keep=3, use_async=False)
  for step in (1, 2):
    checkpointer.save(step, {"w": jnp.full(1000, float(step))})
  checkpointer.close()
  # Cut every data file of step 2 short, as a full disk or an interrupted copy would.
  for root, _, files in os.walk(tmp_path / "2"):
    for name in files:
      path = os.path.join(root, name)
      if os.path.getsize(path) > 0:
        with open(path, "r+b") as f:
          f.truncate(os.path.getsize(path) // 2)
  checkpointer = Checkpointer(str(tmp_path), keep=3, use_async=False)
  restored = checkpointer.restore_latest({"w": jnp.zeros(1000)})
  checkpointer.close()
  np.testing.assert_array_equal(restored["w"], np.full(1000, 1.0))
  assert "step 2" in capsys.readouterr().out


def test_data_parallel_steps_and_checkpoints_across_device_counts(tfds_dir, tmp_path):
  env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "PYTHONPATH": str(REPO)}
  proc = subprocess.run([sys.executable, str(REPO / "tests/scripts/multidevice.py"), tfds_dir, str(tmp_path)],
                        cwd=REPO, capture_output=True, text=True, timeout=600, env=env)
  assert proc.returncode == 0, proc.stderr[-3000:]
  line = next(out for out in proc.stdout.splitlines() if out.startswith("RESULT "))
  results = json.loads(line[len("RESULT "):])
  # Same global batch => same update, up to float reassociation of the cross-device sums.
  assert results["step_2_vs_1"] < 1e-5 and results["step_4_vs_1"] < 1e-5, results
  assert results["saved_on_4_resumed_on_1"] < 1e-5, results
  assert results["saved_on_1_resumed_on_4"] < 1e-5, results


def test_non_finite_metrics_stop_the_run_without_saving(tmp_path):
  import pytest

  from jgan.train.hooks import CheckpointHook, MetricsLogger, NonFiniteError
  checkpointer = Checkpointer(str(tmp_path / "ckpt"), keep=3, use_async=False)
  hook = CheckpointHook(1, checkpointer)
  hook(1, {"w": jnp.ones(3)}, {"d_loss": jnp.float32(0.5)})
  with pytest.raises(NonFiniteError, match="d_loss"):
    hook(2, {"w": jnp.full(3, jnp.nan)}, {"d_loss": jnp.float32(jnp.nan), "g_loss": jnp.float32(1.0)})
  assert checkpointer.steps() == [1]
  checkpointer.close()
  logger = MetricsLogger(1, 10, 64, str(tmp_path / "metrics.jsonl"), print_fn=lambda s: None)
  with pytest.raises(NonFiniteError, match="g_grad_norm"):
    logger(3, None, {"g_grad_norm": jnp.float32(jnp.inf)})
