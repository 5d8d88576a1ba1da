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
from jgan.data.sources import open_source
from jgan.tasks import check_labels, element_shape, init_state, make_task
from jgan.train import hooks as hooks_lib
from jgan.train import workdir as workdir_lib
from jgan.train.checkpoint import Checkpointer, abstract_like
from jgan.train.loop import run_loop


def make_step_fn(task, feeder, state_sharding, steps_per_call: int = 1, rolled: bool = False) -> Callable:
  """jit((state, feed) -> (state, metrics)), state donated.

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
  """

  def one_step(state, feed):
    batch = feeder.make_batch(feed, state.step, state.root_key)
    return task.train_step(state, batch, rng.step_key(state.root_key, state.step))

  def step_fn(state, feed):
    if rolled:
      if feeder.per_step_feed and steps_per_call > 1:  # host batches arrive stacked (k, B, ...)
        state, metrics = jax.lax.scan(one_step, state, feed)
      else:  # one host batch, or the on-device dataset that every step reads
        state, metrics = jax.lax.scan(lambda s, _: one_step(s, feed), state, None, length=steps_per_call)
      return state, jax.tree.map(lambda m: m[-1], metrics)
    for i in range(steps_per_call):
      step_feed = jax.tree.map(lambda x: x[i], feed) if feeder.per_step_feed and steps_per_call > 1 else feed
      state, metrics = one_step(state, step_feed)
    return state, metrics
  return jax.jit(step_fn, donate_argnums=0, out_shardings=(state_sharding, state_sharding))


def make_preview_fn(task, seed: int, source, num: int) -> Callable[[Any], jax.Array]:
  """state -> what the sample grid shows, from a key and a real batch both fixed by the seed.

  The real batch is `num` examples drawn by the seed (image-repair tasks show them
  repaired; GANs only use its size). Not the first ones: folders and zips list
  their files by class.
  """
  picked = np.random.default_rng(seed).choice(source.length, min(num, source.length), replace=False)
  records = source.read(np.sort(picked))
  batch = {"x": scale_images(jnp.asarray(records["x"])), "label": jnp.asarray(records["label"])}
  key = rng.named(jax.random.key(seed), "samples")
  return jax.jit(lambda state: task.preview(state, key, batch))


def train(config, workdir: str, extra_hooks: Sequence[hooks_lib.Hook] = ()) -> Any:
  """Trains the task described by `config` in `workdir`; returns the final state."""
  config = config_lib.with_defaults(config)
  shape = element_shape(config.data)
  task = make_task(config, shape)  # a bad config fails here, before anything is written
  source = open_source(config.data, seed=config.seed)
  check_labels(config, source)
  workdir_lib.prepare(workdir, config)
  mesh = sharding.make_mesh(config.train.num_devices)
  state_sharding = sharding.replicated(mesh)
  feeder = make_feeder(source, config.data, config.train.batch_size * task.batch_multiple, mesh, config.seed)

  log = config.log
  checkpointer = Checkpointer(os.path.join(workdir, "checkpoints"), keep=log.keep_checkpoints)
  abstract = abstract_like(jax.eval_shape(lambda: init_state(task, config.seed, shape, state_sharding)),
                           state_sharding)
  state = checkpointer.restore_latest(abstract)
  if state is None:
    state = init_state(task, config.seed, shape, state_sharding)
  start = int(state.step)
  workdir_lib.truncate_metrics(workdir, start)
  num_steps = config.train.num_steps
  if start >= num_steps:
    print(f"{workdir} already holds step {start} >= num_steps={num_steps}; nothing to do", flush=True)
    checkpointer.close()
    feeder.close()
    return state
  print(f"training {config.task}/{config.model.name} on {source.name} ({source.length} examples) "
        f"from step {start} to {num_steps} on {mesh.size} {jax.devices()[0].platform} device(s)", flush=True)

  writer = None
  if log.tensorboard and hooks_lib.is_main_process():
    from tensorboardX import SummaryWriter
    writer = SummaryWriter(os.path.join(workdir, "tensorboard"))
  reference = None
  if shape == (2,):
    reference = toy.toy_modes(config.data.source)[0]
  hooks = [
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
  step_fn = make_step_fn(task, feeder, state_sharding, steps_per_call, config.train.scan_rolled)
  try:
    # The mesh context lets the step shard what it creates (latents, noise) like the batch.
    with jax.set_mesh(mesh):
      state = run_loop(state, step_fn, lambda step: feeder.next_feed(step, steps_per_call), start, num_steps,
                       hooks, save=checkpointer.save, steps_per_call=steps_per_call)
  finally:
    checkpointer.close()  # waits for the last async save
    feeder.close()
    for hook in hooks:
      hook.close()
    if writer is not None:
      writer.close()
  return state
