"""Assembles a GAN training run from a config and runs it in a workdir.

`train(config, workdir)` is the library function behind `python -m
experiments.dcgan` (and the other experiments): it opens the data, builds the
GAN, restores the newest checkpoint of `workdir` if any, and runs the loop with
the standard hooks. Rerunning the same command resumes where it stopped and
produces exactly the parameters an uninterrupted run would.
"""
from __future__ import annotations

import os
from typing import Any, Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from jgan import config as config_lib
from jgan.core import rng, sharding
from jgan.data import toy
from jgan.data.pipeline import make_feeder, scale_images
from jgan.tasks import check_labels, element_shape, init_state, make_task, open_data
from jgan.tasks.state import ema_warmup_note
from jgan.train import health as health_lib
from jgan.train import hooks as hooks_lib
from jgan.train import workdir as workdir_lib
from jgan.train.checkpoint import Checkpointer, abstract_like
from jgan.train.loop import run_loop


def make_step_fn(task, feeder, state_sharding, steps_per_call: int = 1, rolled: bool = False,
                 phased: bool = True) -> Callable:
  """(state, feed, step) -> (state, metrics): a jitted step, state donated; `step` is the host's
  count of the state's steps (state.step, known without a device read).

  The batch and the key of each step derive from `state.step` on the device, so
  one call may run `steps_per_call` steps (fewer dispatches, one executable);
  metrics are those of the call's last step.

  Two ways to run several steps in one call:
  * unrolled (default): straight-line code, k copies of the step. XLA may fuse
    across step boundaries, so results match k single calls to float rounding
    (~1e-9 here), not bit for bit.
  * rolled (`rolled=True`): one `lax.scan` loop, also for k = 1. The loop body is
    compiled once whatever k is, so every k gives bit-identical parameters, and
    compile time does not grow with k. Use it on GPU/TPU; XLA:CPU runs the kernel
    gradient of a convolution inside a loop ~100x slower than at top level.
  Resuming is bit-exact either way: the same executable runs before and after.

  A task with a `step_phase(step)` (which lazy penalties are due) gets one executable
  per phase pattern it meets, compiled on first use, with the phase fixed at trace
  time (`task.with_phase`) instead of a `lax.cond`: XLA:CPU runs a cond branch's
  convolutions without its fast kernels (see `jgan.objectives.regularizers`). Rolled
  steps keep the cond, which is what a loop body needs, and so does `phased=False`
  (`config.train.lazy_on_device`: one executable, the numerics of runs before the phases).
  With k unrolled steps per call, a penalty due every m steps gives up to min(k, m) + 1
  patterns (where in the call the due step falls, or none), each a k-step compile; one
  step per call (the default) gives 2.

  The metrics also hold `params_finite`: 1.0 when every parameter, EMA weight and
  running statistic of the new state is finite, else 0.0 (one reduction per array).
  """
  phased = phased and not rolled and callable(getattr(task, "step_phase", None))

  def build(phases):
    tasks = [task.with_phase(p) if p is not None else task for p in phases]

    def one_step(step_task, state, feed):
      batch = feeder.make_batch(feed, state.step, state.root_key)
      return step_task.train_step(state, batch, rng.step_key(state.root_key, state.step))

    def step_fn(state, feed):
      if rolled:
        if feeder.per_step_feed and steps_per_call > 1:  # host batches arrive stacked (k, B, ...)
          state, metrics = jax.lax.scan(lambda s, f: one_step(task, s, f), state, feed)
        else:  # one host batch, or the on-device dataset that every step reads
          state, metrics = jax.lax.scan(lambda s, _: one_step(task, s, feed), state, None, length=steps_per_call)
        return state, jax.tree.map(lambda m: m[-1], metrics)
      for i in range(steps_per_call):
        step_feed = jax.tree.map(lambda x: x[i], feed) if feeder.per_step_feed and steps_per_call > 1 else feed
        state, metrics = one_step(tasks[i], state, step_feed)
      return state, metrics

    def checked_step_fn(state, feed):
      state, metrics = step_fn(state, feed)
      finite = hooks_lib.all_finite(hooks_lib.network_weights(state)).astype(jnp.float32)
      return state, {**metrics, "params_finite": finite}
    return jax.jit(checked_step_fn, donate_argnums=0, out_shardings=(state_sharding, state_sharding))

  executables: dict[tuple, Callable] = {}

  def executable(step: int) -> Callable:
    phases = tuple(task.step_phase(step + i) for i in range(steps_per_call)) if phased else (None,) * steps_per_call
    if phases not in executables:
      executables[phases] = build(phases)
    return executables[phases]

  def call(state, feed, step: int):
    return executable(step)(state, feed)

  call.lower = lambda state, feed, step=0: executable(step).lower(state, feed)
  call.num_executables = lambda: len(executables)   # the phase patterns met so far
  return call


def make_preview_fn(task, seed: int, source, num: int) -> Callable[[Any], jax.Array]:
  """state -> what the sample grid shows, from a key and a real batch both fixed by the seed.

  The real batch is `num` examples drawn by the seed (image-repair tasks show them
  repaired; GANs only use its size). Not the first ones: folders and zips list
  their files by class.
  """
  picked = np.random.default_rng(seed).choice(source.length, min(num, source.length), replace=False)
  records = source.read(np.sort(picked))
  batch = {"x": scale_images(jnp.asarray(records["x"])), "label": jnp.asarray(records["label"])}
  if "x_b" in records:  # two unpaired domains (jgan.data.unpaired)
    batch["x_b"] = scale_images(jnp.asarray(records["x_b"]))
  key = rng.named(jax.random.key(seed), "samples")
  return jax.jit(lambda state: task.preview(state, key, batch))


def scaled_rates(config, scale: float):
  """`config` with config.train.g_lr and d_lr multiplied by `scale` (a copy; `config` itself when scale is 1)."""
  if scale == 1.0:
    return config
  config = config.copy_and_resolve_references()
  config.train.g_lr = config.train.g_lr * scale
  config.train.d_lr = config.train.d_lr * scale
  return config


def lr_scale_of(workdir: str) -> float:
  """The learning-rate scale that the rollbacks recorded in `workdir` (1 without any)."""
  rollbacks = [e for e in health_lib.read_events(workdir) if e.get("kind") == "rollback"]
  return float(rollbacks[-1]["lr_scale"]) if rollbacks else 1.0


def train(config, workdir: str, extra_hooks: Sequence[hooks_lib.Hook] = ()) -> Any:
  """Trains the task described by `config` in `workdir`; returns the final state.

  On divergence (non-finite losses, gradients or parameters; a loss above
  config.train.divergence_loss) it restores the newest checkpoint, multiplies both
  learning rates by config.train.rollback_lr_factor and goes on, up to
  config.train.max_rollbacks times (config.train.on_divergence="rollback"), or stops
  ("stop"); either way it ends with a DivergenceError when it gives up. The rollbacks
  are recorded in workdir/health.jsonl, so a resumed run trains with the same rates.
  """
  config = config_lib.with_defaults(config)
  shape = element_shape(config.data)
  task = make_task(config, shape)  # a bad config fails here, before anything is written
  source = open_data(config)  # config.data's source, or the task's own data (CycleGAN's two domains)
  check_labels(config, source)
  workdir_lib.prepare(workdir, config)
  lr_scale = lr_scale_of(workdir)
  if lr_scale != 1.0:
    task = make_task(scaled_rates(config, lr_scale), shape)
  mesh = sharding.make_mesh(config.train.num_devices)
  state_sharding = sharding.replicated(mesh)
  feeder = make_feeder(source, config.data, config.train.batch_size * task.batch_multiple, mesh, config.seed)

  log = config.log
  checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), keep=log.keep_checkpoints)
  abstract = abstract_like(jax.eval_shape(lambda: init_state(task, config.seed, shape, state_sharding)),
                           state_sharding)
  try:  # an unreadable newer step is moved aside (kept) and written again
    state = checkpointer.restore_latest(abstract, move_aside=True)
  except BaseException:
    checkpointer.close()
    feeder.close()
    raise
  if state is None:
    state = init_state(task, config.seed, shape, state_sharding)
  start = int(state.step)
  workdir_lib.truncate_metrics(workdir, start)
  health_lib.truncate_events(workdir, start)
  num_steps = config.train.num_steps
  if start >= num_steps:
    print(f"{workdir} already holds step {start} >= num_steps={num_steps}; nothing to do", flush=True)
    checkpointer.close()
    feeder.close()
    return state
  print(f"training {config.task}/{config.model.name} on {source.name} ({source.length} examples) "
        f"from step {start} to {num_steps} on {mesh.size} {jax.devices()[0].platform} device(s)"
        + (f" with the learning rates x{lr_scale:g} after rollbacks" if lr_scale != 1.0 else ""), flush=True)
  ema_note = ema_warmup_note(float(config.train.ema_decay), num_steps) if config.train.ema_warmup else None
  if ema_note:
    print(ema_note, flush=True)

  writer = None
  if log.tensorboard and hooks_lib.is_main_process():
    from tensorboardX import SummaryWriter
    writer = SummaryWriter(os.path.join(workdir, "tensorboard"))
  reference = None
  if shape == (2,):
    reference = toy.toy_modes(config.data.source)[0]
  monitor = None
  if log.health_every_steps:
    monitor = health_lib.HealthMonitor(log.health_every_steps, log.health_sample_every_steps,
                                       log.health_warmup_steps, scaled_rates(config, lr_scale).train, workdir,
                                       make_probe=lambda: health_lib.make_probe(task, config, source),
                                       writer=writer, log_every_steps=log.every_steps)
  hooks = [
      *([monitor] if monitor is not None else []),  # first: a diverged step reaches no other hook
      hooks_lib.FirstStepTimer(),
      hooks_lib.MetricsLogger(log.every_steps, num_steps, config.train.batch_size * task.batch_multiple,
                              os.path.join(workdir, workdir_lib.METRICS_FILE), writer),
      hooks_lib.SampleWriter(log.sample_every_steps, make_preview_fn(task, config.seed, source, log.num_samples),
                             os.path.join(workdir, "samples"), writer, reference_points=reference),
      hooks_lib.CheckpointHook(log.checkpoint_every_steps, checkpointer),
      *extra_hooks,
  ]
  if config.eval.every_steps:
    from jgan.eval.hook import make_eval_hook  # the extractors load only when a run asks for evaluation
    hooks.append(make_eval_hook(config, workdir, task, source, writer))
  steps_per_call = config.train.steps_per_call
  outcome = "interrupted"
  try:
    # The mesh context lets the step shard what it creates (latents, noise) like the batch.
    with jax.set_mesh(mesh):
      while True:
        step_fn = make_step_fn(task, feeder, state_sharding, steps_per_call, config.train.scan_rolled,
                               phased=not config.train.lazy_on_device)
        try:
          state = run_loop(state, step_fn, lambda step: feeder.next_feed(step, steps_per_call), start, num_steps,
                           hooks, save=checkpointer.save, steps_per_call=steps_per_call)
          break
        except hooks_lib.DivergenceError as e:
          lr_scale = _roll_back(e, config, workdir, lr_scale)  # raises when it gives up
          checkpointer.wait()
          state = checkpointer.restore_latest(abstract)
          if state is None:
            state = init_state(task, config.seed, shape, state_sharding)
          start = int(state.step)
          workdir_lib.truncate_metrics(workdir, start)
          health_lib.truncate_events(workdir, start)
          _record_rollback(e, config, workdir, lr_scale, start)
          task = make_task(scaled_rates(config, lr_scale), shape)
          if monitor is not None:
            monitor.train_config = scaled_rates(config, lr_scale).train
    outcome = "done"
  except hooks_lib.DivergenceError:
    outcome = "diverged"
    raise
  finally:
    feeder.close()
    for hook in hooks:
      hook.close()
    if writer is not None:
      writer.close()
    if log.report and outcome != "interrupted" and hooks_lib.is_main_process():
      _write_report(workdir)
    checkpointer.close()  # waits for the last async save; last, as it raises (one line) if that save failed
  return state


def _roll_back(error: hooks_lib.DivergenceError, config, workdir: str, lr_scale: float) -> float:
  """The learning-rate scale after one more rollback, or `error` again (with what to do) when the run
  stops: config.train.on_divergence="stop", or max_rollbacks rollbacks already tried."""
  t = config.train
  if t.on_divergence != "rollback":
    raise type(error)(f"training diverged: {error.what} (config.train.on_divergence='stop'); the checkpoints on "
                      "disk predate it: lower config.train.g_lr and config.train.d_lr (or use float32 if this was "
                      "bfloat16), or set config.train.on_divergence='rollback'", step=error.step,
                      kind=error.kind) from None
  done = sum(1 for e in health_lib.read_events(workdir) if e.get("kind") == "rollback")
  if done >= t.max_rollbacks:
    raise type(error)(
        f"training diverged: {error.what}, with the learning rates at x{lr_scale:g} (g_lr={t.g_lr * lr_scale:g}, "
        f"d_lr={t.d_lr * lr_scale:g}) after {done} rollbacks (config.train.max_rollbacks={t.max_rollbacks}); "
        "giving up. The checkpoints on disk are finite: lower config.train.g_lr and config.train.d_lr further, "
        f"and see {os.path.join(workdir, health_lib.HEALTH_FILE)}", step=error.step, kind=error.kind) from None
  return lr_scale * t.rollback_lr_factor


def _record_rollback(error: hooks_lib.DivergenceError, config, workdir: str, lr_scale: float,
                     restored: int) -> None:
  t = config.train
  number = 1 + sum(1 for e in health_lib.read_events(workdir) if e.get("kind") == "rollback")
  message = (f"{error.what}; restored step {restored} and scaled both learning rates to x{lr_scale:g} "
             f"(g_lr={t.g_lr * lr_scale:g}, d_lr={t.d_lr * lr_scale:g}), rollback {number} of {t.max_rollbacks}")
  health_lib.append_event(workdir, {"step": error.step, "kind": "rollback", "message": message, "reason": error.kind,
                                    "restored_step": restored, "lr_scale": lr_scale})
  if hooks_lib.is_main_process():
    print(f"health: step {error.step}: rollback: {message}", flush=True)


def _write_report(workdir: str) -> None:
  try:
    from jgan.eval import report
    path = report.write_report([workdir])
    print(f"report: {path}", flush=True)
  except Exception as e:  # the run's results matter more than its pictures
    print(f"warning: could not write the run report: {type(e).__name__}: {e}", flush=True)
