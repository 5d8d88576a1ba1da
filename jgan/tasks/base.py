"""The task contract, the one task registry, and what the loop needs to start a task.

A task is what the one training loop runs: the GAN families, BiGAN, the
image-repair tasks. Its contract is the `Task` protocol; a task that draws
samples from latents (every GAN) also satisfies `Generative`, which sampling,
evaluation and the run report use. Each task module registers a `TaskSpec`
with `register` when `jgan.tasks` is imported (jgan/tasks/__init__.py imports
every task module; task modules import only this one), so the registry has no
import cycle.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import jax
import jax.numpy as jnp

from jgan import config as config_lib
from jgan.core.errors import UserError
from jgan.data import toy
from jgan.models import factory


@runtime_checkable
class Task(Protocol):
  """What the training loop needs. All methods are pure and jittable; the loop jits them."""

  @property
  def batch_multiple(self) -> int:
    """Real examples consumed per step, in units of config.train.batch_size (n_critic for GANs)."""

  def init(self, root_key: jax.Array, example_x: jax.Array) -> Any:
    """The step-0 state from the run's root key; example_x (1, *element_shape) float32 fixes input shapes."""

  def train_step(self, state: Any, batch: dict, key: jax.Array) -> tuple[Any, dict]:
    """One step: batch {"x": float32 (batch_multiple * B, ...) in [-1, 1], "label": int32 (...)},
    key = fold_in(train key, step); returns (new state, dict of scalar metrics)."""

  def preview(self, state: Any, key: jax.Array, batch: dict) -> jax.Array:
    """What the progress grid shows: float (N, ...) in [-1, 1]."""


@runtime_checkable
class Generative(Protocol):
  """A task that maps latents (and labels, when conditional) to samples."""
  latent_dim: int
  num_classes: int   # 0: unconditional

  def latents(self, key: jax.Array, num: int) -> jax.Array:
    """(num, latent_dim) float32 latents, sharded like a batch."""

  def generate(self, state: Any, z: jax.Array, train: bool = False, labels: jax.Array | None = None,
               key: jax.Array | None = None) -> tuple[jax.Array, Any]:
    """(samples (B, ...) in [-1, 1], G's batch_stats); labels default to 0..K-1 repeated."""

  def sampling_state(self, state: Any, key: jax.Array) -> Any:
    """The state to sample from (e.g. EMA weights with their recalibrated BatchNorm statistics)."""


@dataclasses.dataclass(frozen=True)
class TaskSpec:
  """A registered task.

  build: fn(config, element_shape) -> Task, called after `validate`.
  validate: fn(config) -> None, raises UserError naming the first bad field of this task.
  fields: the "train.<name>" / "model.<name>" / "repair.<name>" fields the task reads itself
    (the model's own fields come from its jgan.models.factory.ModelSpec).
  conditional: the task feeds labels to a conditional model (else the model's class fields are refused).
  open_data: fn(config) -> jgan.data.sources.Source for a task with data of its own kind (CycleGAN's
    two domains); None: `jgan.data.sources.open_source(config.data)`.
  """
  name: str
  build: Callable[[Any, tuple], Any]
  validate: Callable[[Any], None]
  fields: frozenset
  conditional: bool = False
  open_data: Callable[[Any], Any] | None = None


# Fields of the data section that only the tasks listing them in TaskSpec.fields read
# (check_honoured passes the whole data section as common).
TASK_DATA_FIELDS = ("data.source_a", "data.source_b")


REGISTRY: dict[str, TaskSpec] = {}


def register(spec: TaskSpec) -> TaskSpec:
  if spec.name in REGISTRY:
    raise ValueError(f"task {spec.name!r} is registered twice")
  REGISTRY[spec.name] = spec
  return spec


def positive(value, name: str, integer: bool = False) -> None:
  """UserError unless `value` > 0 (and an int when `integer`); `name` is the config path shown."""
  if integer and (not isinstance(value, int) or isinstance(value, bool)):
    raise UserError(f"{name}={value!r} must be an integer")
  if not value > 0:
    raise UserError(f"{name}={value!r} must be positive")


def _validate_common(config) -> None:
  """The fields every task shares: the loop's, the data's, logging's."""
  t, d, log = config.train, config.data, config.log
  positive(t.batch_size, "config.train.batch_size", integer=True)
  positive(t.num_steps, "config.train.num_steps", integer=True)
  positive(t.steps_per_call, "config.train.steps_per_call", integer=True)
  positive(d.resolution, "config.data.resolution", integer=True)
  if d.channels not in (1, 3):
    raise UserError(f"config.data.channels={d.channels!r} must be 1 or 3")
  for name in ("every_steps", "sample_every_steps", "checkpoint_every_steps", "keep_checkpoints", "num_samples"):
    positive(log[name], f"config.log.{name}", integer=True)
  k = t.steps_per_call
  for name, value in (("train.num_steps", t.num_steps), ("log.every_steps", log.every_steps),
                      ("log.sample_every_steps", log.sample_every_steps),
                      ("log.checkpoint_every_steps", log.checkpoint_every_steps)):
    if value % k:
      raise UserError(f"config.{name}={value} is not a multiple of config.train.steps_per_call={k}: "
                      "logs, samples and checkpoints land between calls")
  for name in ("health_every_steps", "health_sample_every_steps", "health_warmup_steps"):
    if not isinstance(log[name], int) or isinstance(log[name], bool) or log[name] < 0:
      raise UserError(f"config.log.{name}={log[name]!r} must be an integer >= 0 (0 = off)")
  if t.on_divergence not in ("rollback", "stop"):
    raise UserError(f"config.train.on_divergence={t.on_divergence!r}: use 'rollback' or 'stop'")
  if not 0 < t.rollback_lr_factor < 1:
    raise UserError(f"config.train.rollback_lr_factor={t.rollback_lr_factor!r} must be in (0, 1)")
  if not isinstance(t.max_rollbacks, int) or isinstance(t.max_rollbacks, bool) or t.max_rollbacks < 0:
    raise UserError(f"config.train.max_rollbacks={t.max_rollbacks!r} must be an integer >= 0")
  if not t.divergence_loss >= 0:
    raise UserError(f"config.train.divergence_loss={t.divergence_loss!r} must be >= 0 (0 = off)")
  factory.compute_dtype(config.model.dtype)


def spec_of(config) -> TaskSpec:
  name = config.task
  if name not in REGISTRY:
    raise UserError(f"config.task={name!r}: choose one of {', '.join(sorted(REGISTRY))}")
  return REGISTRY[name]


def validate(config) -> None:
  """Raises UserError naming the first bad or ignored value of `config` (a full schema config)."""
  spec = spec_of(config)
  model = factory.spec(config.model.name)
  _validate_common(config)
  spec.validate(config)
  honoured = spec.fields | (model.fields if spec.conditional else model.fields - factory.CONDITIONING_FIELDS)
  for path in TASK_DATA_FIELDS:
    section, name = path.split(".")
    if path not in spec.fields and section in config and name in config[section] and \
        config[section][name] != config_lib.default_of(path):
      raise UserError(f"config.{path}={config[section][name]!r} has no effect on task {spec.name!r}: leave it at "
                      f"its default {config_lib.default_of(path)!r}")
  config_lib.check_honoured(config, honoured, f"task {spec.name!r} with model {config.model.name!r}")


def make_task(config, element_shape: Sequence[int]):
  """The task named by `config.task` for examples of `element_shape`, after validating the config.

  `config` may be an older run's config: missing fields take their defaults first.
  """
  config = config_lib.with_defaults(config)
  validate(config)
  return REGISTRY[config.task].build(config, tuple(element_shape))


def open_data(config):
  """The training data of the run `config`: the task's own (TaskSpec.open_data) or `open_source(config.data)`."""
  from jgan.data.sources import open_source
  spec = spec_of(config)
  if spec.open_data is not None:
    return spec.open_data(config)
  return open_source(config.data, seed=config.seed)


def element_shape(data_config) -> tuple[int, ...]:
  """Shape of one example: (R, R, C) images, or (2,) for the toy 2D sets."""
  if data_config.source in toy.TOY_DATASETS:
    return (2,)
  return (data_config.resolution, data_config.resolution, data_config.channels)


def init_state(task, seed: int, shape: Sequence[int], state_sharding):
  """The task's step-0 state for the run seeded `seed`, laid out by `state_sharding`."""
  example = jnp.zeros((1, *shape), jnp.float32)
  return jax.jit(lambda: task.init(jax.random.key(seed), example), out_shardings=state_sharding)()


def check_labels(config, source) -> None:
  """Raises UserError when a class-conditional config meets data without (enough) labels.

  `source` is a jgan.data.sources.Source; its num_classes is 0 for unlabelled data.
  """
  num_classes = config.model.num_classes
  if not num_classes:
    return
  if not source.num_classes:
    raise UserError(f"config.model.num_classes={num_classes} needs labelled data, but {source.name} has no "
                    f"labels (use class subfolders, a labelled tfds dataset, or set config.model.num_classes=0)")
  if source.num_classes > num_classes:
    raise UserError(f"config.model.num_classes={num_classes} is less than the {source.num_classes} classes of "
                    f"{source.name}: set config.model.num_classes={source.num_classes}")
