"""Run with XLA_FLAGS=--xla_force_host_platform_device_count=4; prints JSON comparisons.

1. One training step on 1, 2 and 4 devices with the same global batch.
2. A run checkpointed on 4 devices resumed on 1, and one checkpointed on 1 resumed on 4,
   against the same run on 1 device throughout.
"""
import json
import sys

import jax
import numpy as np

from experiments.configs import dcgan
from jgan.core.sharding import make_mesh, replicated
from jgan.data.pipeline import make_feeder
from jgan.data.sources import open_source
from jgan.tasks import make_task
from jgan.train import run

tfds_dir, workdir = sys.argv[1], sys.argv[2]
assert jax.device_count() == 4, jax.devices()


def config(num_steps=2, num_devices=1):
  c = dcgan.get_config("smoke")
  c.data.data_dir = tfds_dir
  c.train.num_steps = num_steps
  c.train.num_devices = num_devices
  c.log.checkpoint_every_steps = 2
  # Only the steps and the checkpoints are compared: the other hooks would each compile their own
  # programs for every device count (this script was the suite's slowest test with them).
  c.log.tensorboard = c.log.report = False
  c.log.health_every_steps = c.log.health_sample_every_steps = 0
  return c


def leaves(state):
  return [np.asarray(x, np.float64) for x in jax.tree.leaves(jax.device_get(state.params))]


def max_diff(a, b):
  return max(float(np.max(np.abs(x - y))) for x, y in zip(leaves(a), leaves(b), strict=True))


def one_step(num_devices):
  c = config(num_devices=num_devices)
  mesh = make_mesh(num_devices)
  task = make_task(c, (28, 28, 1))
  feeder = make_feeder(open_source(c.data), c.data, c.train.batch_size, mesh, c.seed)
  state = run.init_state(task, c.seed, (28, 28, 1), replicated(mesh))
  step = run.make_step_fn(task, feeder, replicated(mesh))
  with jax.set_mesh(mesh):
    state, _ = step(state, feeder.next_feed(0), 0)
  return state


single = one_step(1)
results = {"step_2_vs_1": max_diff(one_step(2), single), "step_4_vs_1": max_diff(one_step(4), single),
           "param_scale": max(float(np.max(np.abs(x))) for x in leaves(single))}

reference = run.train(config(4, 1), f"{workdir}/ref")
run.train(config(2, 4), f"{workdir}/four_then_one")
results["saved_on_4_resumed_on_1"] = max_diff(run.train(config(4, 1), f"{workdir}/four_then_one"), reference)
run.train(config(2, 1), f"{workdir}/one_then_four")
results["saved_on_1_resumed_on_4"] = max_diff(run.train(config(4, 4), f"{workdir}/one_then_four"), reference)
print("RESULT " + json.dumps(results))
