"""End-to-end training runs with tiny configs: resume, interruption, scan, precision."""
import os
import signal

import jax
import numpy as np
import pytest

from jgan.train.hooks import Hook
from jgan.train.loop import Interrupted
from jgan.train.run import train


def _leaves(state):
  return [np.asarray(x) for x in jax.tree.leaves(jax.device_get(state))]


def _assert_identical(a, b):
  for x, y in zip(_leaves(a), _leaves(b), strict=True):
    np.testing.assert_array_equal(x, y)


def _config(smoke_config, num_steps, **train):
  config = smoke_config
  config.train.num_steps = num_steps
  config.log.checkpoint_every_steps = 2
  config.log.every_steps = 2
  config.log.sample_every_steps = 4
  for key, value in train.items():
    config.train[key] = value
  return config


@pytest.mark.parametrize("placement", ["device", "host"])
def test_resume_gives_bit_identical_parameters(smoke_config, tmp_path, placement):
  smoke_config.data.placement = placement
  uninterrupted = train(_config(smoke_config.copy_and_resolve_references(), 6), str(tmp_path / "full"))
  train(_config(smoke_config.copy_and_resolve_references(), 4), str(tmp_path / "resumed"))
  resumed = train(_config(smoke_config.copy_and_resolve_references(), 6), str(tmp_path / "resumed"))
  assert int(resumed.step) == 6
  _assert_identical(uninterrupted, resumed)
  # metrics.jsonl has each logged step once, in order.
  with open(tmp_path / "resumed" / "metrics.jsonl") as f:
    steps = [int(line.split('"step": ')[1].split(",")[0]) for line in f]
  assert steps == [2, 4, 6]
  assert os.path.isfile(tmp_path / "resumed" / "samples" / "latest.png")


class _SendSigint(Hook):
  every_steps = 3

  def __call__(self, step, state, metrics):
    os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_checkpoints_then_the_run_resumes(smoke_config, tmp_path):
  reference = train(_config(smoke_config.copy_and_resolve_references(), 6), str(tmp_path / "ref"))
  with pytest.raises(Interrupted) as stopped:
    train(_config(smoke_config.copy_and_resolve_references(), 6), str(tmp_path / "run"), extra_hooks=[_SendSigint()])
  assert stopped.value.step == 3
  assert "3" in os.listdir(tmp_path / "run" / "checkpoints")
  resumed = train(_config(smoke_config.copy_and_resolve_references(), 6), str(tmp_path / "run"))
  _assert_identical(reference, resumed)


def test_rolled_scan_of_k_steps_equals_k_single_steps_exactly(smoke_config, tmp_path):
  single = train(_config(smoke_config.copy_and_resolve_references(), 4, scan_rolled=True), str(tmp_path / "single"))
  scanned = train(_config(smoke_config.copy_and_resolve_references(), 4, steps_per_call=2, scan_rolled=True),
                  str(tmp_path / "scan"))
  _assert_identical(single, scanned)
  with open(tmp_path / "scan" / "metrics.jsonl") as f:
    assert [int(line.split('"step": ')[1].split(",")[0]) for line in f] == [2, 4]


def test_unrolled_steps_per_call_match_single_steps(smoke_config, tmp_path):
  single = train(_config(smoke_config.copy_and_resolve_references(), 4), str(tmp_path / "single"))
  config = _config(smoke_config.copy_and_resolve_references(), 4, steps_per_call=4)
  config.log.every_steps = config.log.checkpoint_every_steps = 4
  unrolled = train(config, str(tmp_path / "k4"))
  for x, y in zip(_leaves(single), _leaves(unrolled), strict=True):
    np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)


def test_lazy_r1_compiled_per_phase_matches_the_device_cond_and_resumes_exactly(smoke_config, tmp_path):
  # Unrolled steps fix which penalties are due when they compile (one executable per phase);
  # the rolled scan decides with a lax.cond on the device. One step of each, same state and batch:
  from jgan.core import rng
  from jgan.core.sharding import make_mesh, replicated
  from jgan.tasks import make_task
  from jgan.train import run
  lazy = dict(r1_gamma=1.0, r1_every=2)
  config = _config(smoke_config.copy_and_resolve_references(), 4, **lazy)
  shape = run.element_shape(config.data)
  task = make_task(config, shape)
  state = run.init_state(task, 0, shape, replicated(make_mesh(1)))
  x = jax.random.uniform(jax.random.key(1), (config.train.batch_size, *shape), minval=-1.0, maxval=1.0)
  batch = {"x": x, "label": np.zeros((config.train.batch_size,), np.int32)}
  for step in (0, 1):                            # due, then skipped
    at = state.replace(step=np.int32(step))
    phase = task.step_phase(step)
    assert phase == (step % 2 == 0,)
    key = rng.step_key(at.root_key, at.step)
    _, fixed = jax.jit(task.with_phase(phase).train_step)(at, batch, key)
    _, decided = jax.jit(task.train_step)(at, batch, key)
    for name in ("d_loss", "d_grad_norm", "g_loss"):
      np.testing.assert_allclose(float(fixed[name]), float(decided[name]), rtol=1e-5, err_msg=f"{name} at {step}")
    if step == 0:                                # the penalty is in the due step's loss
      _, unpenalised = jax.jit(task.with_phase((False,)).train_step)(at, batch, key)
      assert float(fixed["d_loss"]) > float(unpenalised["d_loss"]) + 1e-6
  # The loop's step: one executable per phase met, or one with the cond (config.train.lazy_on_device).
  from jgan.data.pipeline import make_feeder
  from jgan.data.sources import open_source
  mesh = make_mesh(1)
  feeder = make_feeder(open_source(config.data), config.data, config.train.batch_size, mesh, config.seed)
  try:
    with jax.set_mesh(mesh):
      for phased, count in ((True, 2), (False, 1)):
        step_fn = run.make_step_fn(task, feeder, replicated(mesh), phased=phased)
        s = run.init_state(task, 0, shape, replicated(mesh))
        for i in range(3):
          s, _ = step_fn(s, feeder.next_feed(i), i)
        assert step_fn.num_executables() == count
  finally:
    feeder.close()
  # Whole runs: a resume at a step whose successor is not due picks the right executable.
  full = train(config.copy_and_resolve_references(), str(tmp_path / "full"))
  train(_config(smoke_config.copy_and_resolve_references(), 3, **lazy), str(tmp_path / "resumed"))
  resumed = train(config.copy_and_resolve_references(), str(tmp_path / "resumed"))
  _assert_identical(full, resumed)


def test_bfloat16_compute_tracks_float32(smoke_config, tmp_path):
  smoke_config.model.g_width = smoke_config.model.d_width = 16
  fp32 = train(_config(smoke_config.copy_and_resolve_references(), 1), str(tmp_path / "fp32"))
  smoke_config.model.dtype = "bfloat16"
  bf16 = train(_config(smoke_config.copy_and_resolve_references(), 1), str(tmp_path / "bf16"))
  # Parameters stay float32 under bf16 compute.
  assert all(x.dtype == np.float32 for x in jax.tree.leaves(bf16.params))
  with open(tmp_path / "fp32" / "metrics.jsonl") as f32, open(tmp_path / "bf16" / "metrics.jsonl") as f16:
    import json
    m32, m16 = json.loads(f32.readline()), json.loads(f16.readline())
  for name in ("d_loss", "g_loss", "d_real", "d_fake"):
    assert abs(m32[name] - m16[name]) <= 0.02 * abs(m32[name]) + 0.01, name
  # Adam moves each weight by about lr on the first step; bf16 must move it the same way
  # for all but a few weights whose gradient is near zero.
  p32 = np.concatenate([np.ravel(x) for x in jax.tree.leaves(fp32.params)])
  p16 = np.concatenate([np.ravel(x) for x in jax.tree.leaves(bf16.params)])
  assert np.mean(np.abs(p32 - p16) < 1e-4) > 0.95


def test_finished_run_is_not_retrained(smoke_config, tmp_path, capsys):
  config = _config(smoke_config, 2)
  first = train(config, str(tmp_path))
  again = train(config, str(tmp_path))
  _assert_identical(first, again)
  assert "nothing to do" in capsys.readouterr().out
